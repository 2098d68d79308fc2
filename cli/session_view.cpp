#include "cli/session_view.hpp"

#include "cli/pyvalue_json.hpp"

#include <ostream>

#include <fmt/format.h>

#include "cli/matchers.hpp"
#include "cli/output.hpp"

namespace sessionctl::cli {

namespace {

std::optional<std::int64_t> expire_micros(const std::optional<DateTime>& date, bool use_tz) {
    if (!date) return std::nullopt;
    if (date->aware()) return date->utc_micros();
    // A naive value is UTC when USE_TZ (the connection time zone), local otherwise.
    if (use_tz) return date->wall_micros;
    return date->to_unix_micros();
}

}  // namespace

std::string verified_with_text(const DecodeResult& decoded) {
    if (!decoded.verified) return "";
    if (decoded.format == PayloadFormat::cache_pickle) return "not signed (the cache holds the pickled dict)";
    std::string who = !decoded.key_index || *decoded.key_index == 0
                          ? std::string("SECRET_KEY")
                          : fmt::format("SECRET_KEY_FALLBACKS[{}]", *decoded.key_index - 1);
    if (decoded.format == PayloadFormat::signed_sha1) who += " (legacy sha1 signature)";
    else if (decoded.format == PayloadFormat::legacy) who += " (legacy pre-3.1 format)";
    return who;
}

SessionView view_session(const StoredSession& record, const Store& store, const DateTime& now) {
    const SessionEnvironment& env = store.environment();
    SessionView view;
    view.key = record.key;
    view.size = record.data.size();
    view.decoded = store.decode_record(record);
    const DecodeResult& d = view.decoded;
    if (d.ok() && d.verified && d.data.is_dict()) {
        view.verified_dict = true;
        view.user_id = user_id_of(d.data.as_dict());
    } else if (d.ok()) {
        view.error = fmt::format("session data is {}, not a dict (Django reads it as an empty session)",
                                 type_phrase(d.data));
    } else if (d.status == DecodeStatus::malformed) {
        view.error = fmt::format("malformed session data ({}): {}", d.malformed_part, d.error);
    } else {
        view.error = d.error.empty() ? std::string(to_string(d.status)) : d.error;
    }
    view.expire_unix_micros = expire_micros(record.expire_date, env.settings.use_tz);
    view.expired = store.is_expired(record, now);
    return view;
}

namespace {

ordered_json view_to_json(const SessionView& view) {
    const DecodeResult& d = view.decoded;
    ordered_json j = ordered_json::object();
    j["key"] = view.key;
    j["data"] = nullptr;  // filled exactly by view_to_json_line
    j["expire_date"] = view.expire_unix_micros ? ordered_json(utc_iso(*view.expire_unix_micros)) : ordered_json();
    j["expired"] = view.expired;
    j["user_id"] = view.user_id ? ordered_json(*view.user_id) : ordered_json();
    std::string with = d.verified_with();
    j["verified_with"] = with.empty() ? ordered_json() : ordered_json(with);
    j["error"] = view.error ? ordered_json(*view.error) : ordered_json();
    j["size"] = view.size;
    j["format"] = d.verified ? ordered_json(d.format_name()) : ordered_json();
    j["compressed"] = d.compressed;
    return j;
}

}  // namespace

std::string view_to_json_line(const SessionView& view) {
    const DecodeResult& d = view.decoded;
    return dump_json_with_data(view_to_json(view), d.ok() ? &d.data : nullptr);
}


void print_view(std::ostream& out, const SessionView& view, std::int64_t now_unix_micros) {
    const DecodeResult& d = view.decoded;
    out << "session  " << printable(view.key) << '\n';

    out << "  expires  ";
    if (view.expire_unix_micros) {
        std::int64_t delta = (*view.expire_unix_micros - now_unix_micros) / 1'000'000;
        out << utc_text(*view.expire_unix_micros);
        if (view.expired) out << " (expired " << (delta == 0 ? std::string("now") : relative_time(delta)) << ")";
        else out << " (" << relative_time(delta) << ")";
    } else {
        out << "unknown" << (view.expired ? " (treated as expired)" : "");
    }
    out << '\n';

    out << "  user     ";
    if (view.verified_dict) out << (view.user_id ? printable(*view.user_id) : std::string("anonymous"));
    else out << "unknown";
    out << '\n';

    out << "  verified ";
    if (d.verified) out << verified_with_text(d);
    else out << "NO: " << printable(view.error.value_or("not verified"));
    out << '\n';
    if (d.verified && view.error) out << "  error    " << printable(*view.error) << '\n';

    out << "  size     " << count_of(view.size, "byte") << (d.compressed ? " (compressed)" : "") << '\n';

    if (d.ok()) {
        std::string text = render_json(d.data, 2);
        out << "  data     ";
        for (char c : text) {
            out << c;
            if (c == '\n') out << "           ";
        }
        out << '\n';
    }
    out << '\n';
}

}  // namespace sessionctl::cli
