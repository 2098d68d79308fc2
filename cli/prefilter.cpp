#include "cli/prefilter.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <utility>

#include "core/base62.hpp"
#include "core/base64.hpp"
#include "core/zlib_codec.hpp"

namespace sessionctl::cli {

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
            while (end < text.size() && (text[end] == '-' || text[end] == '+' || text[end] == '.' || text[end] == 'e' ||
                                         text[end] == 'E' || (text[end] >= '0' && text[end] <= '9')))
                ++end;
            const std::string_view token = text.substr(p, end - p);
            if (token == user || (token == "-0" && user == "0")) return true;
        } else {
            return true;  // true/false/null/object/array: not an id, but not ours to judge
        }
    }
    return false;
}

// The verified, inflated JSON text of a signed session blob when it is a
// plain text: it verifies with `signer`, its parts decode as decode() would,
// it starts with '{' and holds no backslash and no non-ASCII byte (so every
// string in it is spelled literally). nullopt otherwise: decode it fully
// (which verifies the signature again and reports what is wrong).
std::optional<std::string> plain_json_text(const Signer& signer, std::string_view blob) {
    constexpr std::size_t kMaxBytes = 64u << 20;  // DecodeOptions' defaults
    if (blob.size() > kMaxBytes) return std::nullopt;
    const auto sep = blob.rfind(':');
    if (sep == std::string_view::npos) return std::nullopt;
    const std::string_view value = blob.substr(0, sep);
    if (!signer.verify(value, blob.substr(sep + 1), /*accept_sha1=*/true)) return std::nullopt;
    const auto ts_sep = value.rfind(':');
    if (ts_sep == std::string_view::npos) return std::nullopt;
    std::string_view payload = value.substr(0, ts_sep);
    std::string text;
    try {
        (void)b62_decode(value.substr(ts_sep + 1));
        const bool compressed = !payload.empty() && payload.front() == '.';
        if (compressed) payload.remove_prefix(1);
        text = b64url_decode_django(payload);
        if (compressed) text = zlib_decompress(text, kMaxBytes);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    std::size_t first = 0;
    while (first < text.size() && json_ws(text[first])) ++first;
    if (first == text.size() || text[first] != '{') return std::nullopt;
    for (unsigned char c : text)
        if (c == '\\' || c >= 0x80) return std::nullopt;
    return text;
}

// The strings a --where clause matches, as `"S"`, when it matches strings
// only: VALUE that is not JSON (the string VALUE), or a JSON string (that
// string, or the raw text as a string). nullopt for a JSON number, bool, null,
// list or dict: their spellings vary (1e16 == 10000000000000000), so such a
// clause rules nothing out. A string that needs escaping cannot appear in a
// plain text: its needle is simply never found.
std::optional<std::vector<std::string>> string_needles(const WhereClause& clause) {
    std::vector<std::string> needles{'"' + clause.raw_value + '"'};
    if (clause.json_value) {
        if (!clause.json_value->is_str()) return std::nullopt;
        needles.push_back('"' + clause.json_value->as_str() + '"');
    }
    return needles;
}

// get_user()'s fields of a plain JSON object text (see plain_json_text: no
// backslash, no non-ASCII byte, so every string is spelled literally), read
// without parsing it: the top-level values of _auth_user_id (a string, or an
// integer in decimal), _auth_user_backend and _auth_user_hash (strings; any
// other value reads as missing, as LoginChecker::check(PyDict) has it).
// nullopt when the text holds something this reading could get wrong (a key
// twice, where the parse keeps the last; an id of another type): the full
// parse decides those.
std::optional<LoginFields> top_level_login_fields(std::string_view text) {
    constexpr std::array<std::string_view, 3> keys = {"_auth_user_id", "_auth_user_backend", "_auth_user_hash"};
    std::array<std::optional<std::string_view>, 3> values;
    std::array<bool, 3> seen{};
    int depth = 0;
    char previous = 0;  // the last significant character outside strings
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (json_ws(c)) continue;
        if (c != '"') {
            if (c == '{' || c == '[') ++depth;
            else if (c == '}' || c == ']') --depth;
            previous = c;
            continue;
        }
        const std::size_t close = text.find('"', i + 1);
        if (close == std::string_view::npos) return std::nullopt;
        const std::string_view name = text.substr(i + 1, close - i - 1);
        const bool is_key = depth == 1 && (previous == '{' || previous == ',');
        i = close;
        previous = '"';
        if (!is_key) continue;
        const auto k = static_cast<std::size_t>(std::find(keys.begin(), keys.end(), name) - keys.begin());
        if (k == keys.size()) continue;
        if (seen[k]) return std::nullopt;
        seen[k] = true;
        std::size_t p = close + 1;
        while (p < text.size() && json_ws(text[p])) ++p;
        if (p >= text.size() || text[p] != ':') return std::nullopt;
        ++p;
        while (p < text.size() && json_ws(text[p])) ++p;
        if (p >= text.size()) return std::nullopt;
        if (text[p] == '"') {
            const std::size_t end = text.find('"', p + 1);
            if (end == std::string_view::npos) return std::nullopt;
            values[k] = text.substr(p + 1, end - p - 1);
        } else if (k == 0) {
            // An int id is its decimal form (user_id_of); anything else, or
            // a spelling the parse would normalise (-0, 01), goes to the parse.
            std::size_t end = p;
            while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
            const std::string_view digits = text.substr(p, end - p);
            if (digits.empty() || (digits.size() > 1 && digits[0] == '0') || end >= text.size() ||
                (text[end] != ',' && text[end] != '}' && !json_ws(text[end])))
                return std::nullopt;
            values[k] = digits;
        }
    }
    return LoginFields{values[0], values[1], values[2]};
}

}  // namespace

Prefilter::Prefilter(Signer signer, const SessionFilter& filter)
    : signer_(std::move(signer)), user_(filter.user), logins_only_(filter.dead != nullptr), dead_(filter.dead) {
    for (const auto& clause : filter.where)
        if (auto needles = string_needles(clause)) where_needles_.push_back(std::move(*needles));
}

bool Prefilter::rejects(std::string_view blob) const {
    if (!active()) return false;
    const auto text = plain_json_text(signer_, blob);
    if (!text) return false;
    if (user_ && !may_hold_user(*text, *user_)) return true;
    if (logins_only_) {
        if (text->find("\"_auth_user_id\"") == std::string::npos) return true;
        if (auto fields = top_level_login_fields(*text); fields && dead_) {
            const auto verdict = dead_->check(*fields);
            if (!verdict || !verdict->dead) return true;
        }
    }
    for (const auto& needles : where_needles_) {
        bool found = false;
        for (const auto& needle : needles) found = found || text->find(needle) != std::string::npos;
        if (!found) return true;
    }
    return false;
}

std::optional<Prefilter> prefilter_for(const SessionFilter& filter, const Store& store, const Config& config) {
    if (filter.empty() || !store.records_are_signed_session_data()) return std::nullopt;
    Prefilter prefilter(Signer(config.secret_keys(), store.environment().codec->salt()), filter);
    if (!prefilter.active()) return std::nullopt;
    return prefilter;
}

bool user_prefilter_rejects(const Signer& signer, std::string_view blob, std::string_view user) {
    const auto text = plain_json_text(signer, blob);
    return text && !may_hold_user(*text, user);
}

}  // namespace sessionctl::cli
