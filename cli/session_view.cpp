#include "cli/session_view.hpp"

#include "cli/pyvalue_json.hpp"

#include <algorithm>
#include <ostream>

#include <fmt/format.h>

#include "cli/matchers.hpp"
#include "cli/output.hpp"
#include "core/append_decimal.hpp"
#include "core/datetime.hpp"

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
    if (decoded.is_cache_value())
        return fmt::format("not signed (the cache holds the {} dict)",
                           decoded.format == PayloadFormat::cache_pickle ? "pickled" : decoded.format_name());
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
        view.error =
            fmt::format("session data is {}, not a dict (Django reads it as an empty session)", type_phrase(d.data));
    } else if (d.status == DecodeStatus::malformed) {
        view.error = fmt::format("malformed session data ({}): {}", d.malformed_part, d.error);
    } else {
        view.error = d.error.empty() ? std::string(to_string(d.status)) : d.error;
    }
    view.expire_unix_micros = expire_micros(record.expire_date, env.settings.use_tz);
    view.expired = store.is_expired(record, now);
    return view;
}

FilterVerdict filter_verdict(const SessionFilter& filter, const SessionView& view) {
    if (filter.empty()) return FilterVerdict::match;
    if (!view.verified_dict) return FilterVerdict::unmatchable;
    return filter.matches(*view.dict()) ? FilterVerdict::match : FilterVerdict::skip;
}

namespace {

void append_2(std::string& out, int v) {
    out += static_cast<char>('0' + v / 10);
    out += static_cast<char>('0' + v % 10);
}

// utc_iso(unix_micros) appended to `out`: "2023-11-14T22:13:30.750000+00:00",
// the fraction only when non-zero. Years 0..9999 are written here; others,
// which a TTL never yields, go through utc_iso itself.
void append_utc_iso(std::string& out, std::int64_t unix_micros) {
    constexpr std::int64_t kMicrosPerDay = 86'400'000'000;
    std::int64_t days = unix_micros / kMicrosPerDay;
    std::int64_t rest = unix_micros % kMicrosPerDay;
    if (rest < 0) {
        rest += kMicrosPerDay;
        --days;
    }
    const CivilDate date = civil_from_days(days);
    const std::int64_t year = date.year;
    const int month = static_cast<int>(date.month);
    const int day = static_cast<int>(date.day);
    if (year < 0 || year > 9999) {
        out += utc_iso(unix_micros);
        return;
    }
    const int micro = static_cast<int>(rest % 1'000'000);
    const std::int64_t secs = rest / 1'000'000;
    append_2(out, static_cast<int>(year / 100));
    append_2(out, static_cast<int>(year % 100));
    out += '-';
    append_2(out, month);
    out += '-';
    append_2(out, day);
    out += 'T';
    append_2(out, static_cast<int>(secs / 3600));
    out += ':';
    append_2(out, static_cast<int>(secs / 60 % 60));
    out += ':';
    append_2(out, static_cast<int>(secs % 60));
    if (micro != 0) {
        out += '.';
        append_2(out, micro / 10000);
        append_2(out, micro / 100 % 100);
        append_2(out, micro % 100);
    }
    out += "+00:00";
}

void append_string_or_null(std::string& out, const std::optional<std::string>& text) {
    if (text) append_json_string(out, *text);
    else out += "null";
}

}  // namespace

// Written straight into one string (a scan renders one line per session, and
// an ordered_json envelope per line cost more than decoding the session).
// tests/test_json_line_render.cpp holds the former nlohmann rendering and
// checks this one against it byte for byte.
std::string view_to_json_line(const SessionView& view) {
    const DecodeResult& d = view.decoded;
    std::string out;
    // The rendered data is about as long as the stored bytes (a hint only).
    out.reserve(std::min<std::size_t>(view.size, 1 << 16) + view.key.size() + 240);
    out += "{\"key\":";
    append_json_string(out, view.key);
    out += ",\"data\":";
    if (d.ok()) append_json(out, d.data);
    else out += "null";
    out += ",\"expire_date\":";
    if (view.expire_unix_micros) {
        out += '"';
        append_utc_iso(out, *view.expire_unix_micros);
        out += '"';
    } else {
        out += "null";
    }
    out += view.expired ? ",\"expired\":true" : ",\"expired\":false";
    out += ",\"user_id\":";
    append_string_or_null(out, view.user_id);
    out += ",\"verified_with\":";
    std::string with = d.verified_with();
    if (with.empty()) out += "null";
    else append_json_string(out, with);
    out += ",\"error\":";
    append_string_or_null(out, view.error);
    out += ",\"size\":";
    append_decimal(out, view.size);
    out += ",\"format\":";
    if (d.verified) append_json_string(out, d.format_name());
    else out += "null";
    out += d.compressed ? ",\"compressed\":true" : ",\"compressed\":false";
    if (view.dead_reason) {
        out += ",\"dead\":";
        append_json_string(out, *view.dead_reason);
    }
    out += '}';
    return out;
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
    if (view.dead_reason) out << "  dead     " << *view.dead_reason << '\n';

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
