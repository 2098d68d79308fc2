#include "cli/session_view.hpp"

#include "cli/pyvalue_json.hpp"

#include <ostream>

#include <fmt/format.h>

#include "cli/matchers.hpp"
#include "cli/output.hpp"
#include "core/base62.hpp"
#include "core/base64.hpp"
#include "core/signer.hpp"
#include "core/zlib_codec.hpp"

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

// ---------------------------------------------------------------- --user prefilter

namespace {

constexpr bool json_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Whether JSON text free of backslashes and non-ASCII bytes could be a dict
// whose _auth_user_id reads as `user` (matchers.cpp, user_id_of). Without
// escapes the key can only be spelled "_auth_user_id", followed by optional
// whitespace, ':', whitespace and the value; every spelling is checked (a
// duplicate key's last value wins in the parse, so any could be it). A string
// value must equal `user` exactly; an integer is its decimal form (Python
// reads -0 as 0); any other value cannot match but is left to the full parse.
bool may_hold_user(std::string_view text, std::string_view user) {
    constexpr std::string_view key = "\"_auth_user_id\"";
    for (auto at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1)) {
        std::size_t p = at + key.size();
        while (p < text.size() && json_ws(text[p])) ++p;
        if (p >= text.size() || text[p] != ':') continue;
        ++p;
        while (p < text.size() && json_ws(text[p])) ++p;
        if (p >= text.size()) continue;
        if (text[p] == '"') {
            const auto close = text.find('"', p + 1);
            if (close == std::string_view::npos) continue;
            if (text.substr(p + 1, close - p - 1) == user) return true;
        } else if (text[p] == '-' || (text[p] >= '0' && text[p] <= '9')) {
            std::size_t end = p;
            while (end < text.size() && (text[end] == '-' || text[end] == '+' || text[end] == '.' ||
                                         text[end] == 'e' || text[end] == 'E' || (text[end] >= '0' && text[end] <= '9')))
                ++end;
            const std::string_view token = text.substr(p, end - p);
            if (token == user || (token == "-0" && user == "0")) return true;
        } else {
            return true;  // true/false/null/object/array: not an id, but not ours to judge
        }
    }
    return false;
}

}  // namespace

// Declared in cmd_inspect.cpp, cmd_delete.cpp and the tests (to move into
// session_view.hpp). True only when view_session() of this blob would give a
// verified dict (or verified text that fails to parse as one) that
// SessionFilter{user} does not match, so the caller may skip the full decode:
// the value verifies with `signer` (the session salt, every key), its parts
// decode as decode() would, and the inflated JSON, plain ASCII without escapes
// and starting with '{', does not spell _auth_user_id with that id. Anything
// else (a possible match, an escape, a bad or legacy signature, a malformed
// part) is false: decode fully, which verifies the signature again.
bool user_prefilter_rejects(const Signer& signer, std::string_view blob, std::string_view user) {
    constexpr std::size_t kMaxBytes = 64u << 20;  // DecodeOptions' defaults
    if (blob.size() > kMaxBytes) return false;
    const auto sep = blob.rfind(':');
    if (sep == std::string_view::npos) return false;
    const std::string_view value = blob.substr(0, sep);
    if (!signer.verify(value, blob.substr(sep + 1), /*accept_sha1=*/true)) return false;
    const auto ts_sep = value.rfind(':');
    if (ts_sep == std::string_view::npos) return false;
    std::string_view payload = value.substr(0, ts_sep);
    std::string text;
    try {
        (void)b62_decode(value.substr(ts_sep + 1));
        const bool compressed = !payload.empty() && payload.front() == '.';
        if (compressed) payload.remove_prefix(1);
        text = b64url_decode_django(payload);
        if (compressed) text = zlib_decompress(text, kMaxBytes);
    } catch (const std::exception&) {
        return false;
    }
    std::size_t first = 0;
    while (first < text.size() && json_ws(text[first])) ++first;
    if (first == text.size() || text[first] != '{') return false;
    for (unsigned char c : text)
        if (c == '\\' || c >= 0x80) return false;
    return !may_hold_user(text, user);
}

}  // namespace sessionctl::cli
