#include "json_codec.hpp"

// Mirrors CPython 3.11's Modules/_json.c (the C accelerator json.loads and
// json.dumps use) and Python/pystrtod.c's float repr. Positions in error
// messages are the character index Python reports, which equals the byte
// offset here because the input is decoded as latin-1.

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <system_error>
#include <utility>
#include <vector>

#include "core/append_decimal.hpp"
#include "util/text.hpp"
#include "util/utf8.hpp"

namespace sessionctl {

namespace {

// sys.int_info.default_max_str_digits (Python >= 3.11, 3.10.7, 3.9.14, ...):
// int("1" * 4301) and str(10**4300) raise ValueError, so json.loads and
// json.dumps do too.
constexpr std::size_t kMaxIntStrDigits = 4300;

constexpr char kLowerHex[] = "0123456789abcdef";

// ---- dumps

// True for the bytes 0x20..last except '"' and '\': those a JSON string
// copies verbatim, in dumps (last 0x7E) and in loads (last 0x7F).
constexpr std::array<bool, 256> make_plain_table(int last) {
    std::array<bool, 256> t{};
    for (int c = 0x20; c <= last; ++c) t[static_cast<std::size_t>(c)] = true;
    t['"'] = false;
    t['\\'] = false;
    return t;
}

// Bytes json.dumps(ensure_ascii=True) copies verbatim: printable ASCII except
// '"' and '\'.
constexpr auto kDumpPlain = make_plain_table(0x7e);

void append_u_escape(std::string& out, std::uint32_t unit) {
    const char buf[6] = {'\\',
                         'u',
                         kLowerHex[(unit >> 12) & 0xF],
                         kLowerHex[(unit >> 8) & 0xF],
                         kLowerHex[(unit >> 4) & 0xF],
                         kLowerHex[unit & 0xF]};
    out.append(buf, sizeof buf);
}

[[noreturn]] void throw_bad_utf8(std::size_t offset) {
    throw JsonEncodeError("string is not valid UTF-8 (WTF-8) at byte " + std::to_string(offset));
}

// Python's ascii_escape_unicode(): the string as a JSON literal, ASCII only.
void dump_string(std::string& out, std::string_view s) {
    const auto* const base = reinterpret_cast<const unsigned char*>(s.data());
    const auto* p = base;
    const auto* const end = base + s.size();
    out.push_back('"');
    while (p < end) {
        const auto* run = p;
        while (p < end && kDumpPlain[*p]) ++p;
        if (p != run) out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
        if (p == end) break;

        const unsigned char c = *p;
        if (c < 0x80) {
            switch (c) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                default: append_u_escape(out, c); break;  // other C0 controls and DEL
            }
            ++p;
            continue;
        }

        // A multi-byte sequence: UTF-8, plus the 3-byte encodings of
        // U+D800..U+DFFF (WTF-8 lone surrogates).
        std::uint32_t cp = 0;
        const std::size_t len = utf8_sequence(p, end, cp);
        if (len == 0) throw_bad_utf8(static_cast<std::size_t>(p - base));
        p += len;

        if (cp >= 0x10000) {
            const std::uint32_t v = cp - 0x10000;
            append_u_escape(out, 0xD800 + (v >> 10));
            append_u_escape(out, 0xDC00 + (v & 0x3FF));
        } else {
            append_u_escape(out, cp);
        }
    }
    out.push_back('"');
}

void append_float_repr(std::string& out, double value) {
    if (std::isnan(value)) {
        out += "nan";
        return;
    }
    if (std::isinf(value)) {
        out += value < 0 ? "-inf" : "inf";
        return;
    }

    // Shortest round-trip digits, e.g. "-1.2345e+20", "5e-324", "0e+00".
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
    const char* p = buf;
    const char* const end = res.ptr;
    if (*p == '-') {
        out.push_back('-');
        ++p;
    }
    char digits[32];
    std::size_t nd = 0;
    while (p < end && *p != 'e') {
        if (*p != '.') digits[nd++] = *p;
        ++p;
    }
    ++p;  // 'e'
    const bool exp_negative = *p == '-';
    ++p;  // sign: to_chars always writes one
    int exp10 = 0;
    std::from_chars(p, end, exp10);
    if (exp_negative) exp10 = -exp10;

    // float_repr_style 'short' with Py_DTSF_ADD_DOT_0: scientific when the
    // decimal point position (exp10 + 1) is < -3 or > 16.
    if (exp10 < -4 || exp10 >= 16) {
        out.push_back(digits[0]);
        if (nd > 1) {
            out.push_back('.');
            out.append(digits + 1, nd - 1);
        }
        out.push_back('e');
        out.push_back(exp10 < 0 ? '-' : '+');
        const int a = exp10 < 0 ? -exp10 : exp10;
        if (a < 10) out.push_back('0');
        char eb[8];
        const auto er = std::to_chars(eb, eb + sizeof eb, a);
        out.append(eb, er.ptr);
    } else if (exp10 < 0) {
        out += "0.";
        out.append(static_cast<std::size_t>(-exp10 - 1), '0');
        out.append(digits, nd);
    } else {
        const auto int_len = static_cast<std::size_t>(exp10) + 1;
        if (nd <= int_len) {
            out.append(digits, nd);
            out.append(int_len - nd, '0');
            out += ".0";
        } else {
            out.append(digits, int_len);
            out.push_back('.');
            out.append(digits + int_len, nd - int_len);
        }
    }
}

// The item and key separators: (",", ":") or json.dumps' default (", ", ": ").
struct Separators {
    std::string_view item;
    std::string_view key;
};

void dump_value(std::string& out, const PyValue& value, const Separators& sep);

// A JSON array: a list, or a tuple (json.dumps writes both as one).
void dump_array(std::string& out, const PyList& items, const Separators& sep) {
    out.push_back('[');
    bool first = true;
    for (const auto& item : items) {
        if (!first) out += sep.item;
        first = false;
        dump_value(out, item, sep);
    }
    out.push_back(']');
}

// A JSON object: a dict, or an OrderedDict (json.dumps writes both as one).
void dump_object(std::string& out, const PyDict& dict, const Separators& sep) {
    out.push_back('{');
    bool first = true;
    for (const auto& entry : dict) {
        if (!first) out += sep.item;
        first = false;
        dump_string(out, entry.key);
        out += sep.key;
        dump_value(out, entry.value, sep);
    }
    out.push_back('}');
}

void dump_value(std::string& out, const PyValue& value, const Separators& sep) {
    const auto& v = value.variant();
    switch (v.index()) {
        case 0: out += "null"; return;
        case 1: out += std::get<bool>(v) ? "true" : "false"; return;
        case 2: append_decimal(out, std::get<std::int64_t>(v)); return;
        case 3: {
            const std::string& dec = std::get<PyBigInt>(v).decimal;
            const std::size_t digits = dec.size() - (!dec.empty() && dec[0] == '-' ? 1 : 0);
            if (digits > kMaxIntStrDigits)
                throw JsonEncodeError("integer with " + std::to_string(digits) + " digits exceeds Python's limit of " +
                                      std::to_string(kMaxIntStrDigits) + " digits for integer string conversion");
            out += dec;
            return;
        }
        case 4: {
            // json.encoder.floatstr with allow_nan=True.
            const double d = std::get<double>(v);
            if (std::isnan(d)) out += "NaN";
            else if (std::isinf(d)) out += d < 0 ? "-Infinity" : "Infinity";
            else append_float_repr(out, d);
            return;
        }
        case 5: dump_string(out, std::get<std::string>(v)); return;
        case 6: dump_array(out, std::get<PyList>(v), sep); return;
        case 7: dump_object(out, std::get<PyDict>(v), sep); return;
        default: {
            // The pickle-only kinds: json.dumps writes a tuple as a list and an
            // OrderedDict as an object, and raises TypeError for the rest.
            if (const auto* tuple = std::get_if<PyTuple>(&v)) return dump_array(out, tuple->items, sep);
            if (const auto* od = std::get_if<PyOrderedDict>(&v)) return dump_object(out, od->dict, sep);
            throw JsonEncodeError(std::string("Object of type ") + value.type_name() + " is not JSON serializable");
        }
    }
}

// ---- loads

// Bytes a JSON string copies verbatim as one latin-1 code point that is also
// a single UTF-8 byte: 0x20..0x7F except '"' and '\'.
constexpr auto kLoadPlain = make_plain_table(0x7f);

constexpr bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Four hex digits at p, or -1.
inline std::int32_t hex4(const char* p) {
    const int a = hex_value(p[0]), b = hex_value(p[1]), c = hex_value(p[2]), d = hex_value(p[3]);
    if ((a | b | c | d) < 0) return -1;
    return (a << 12) | (b << 8) | (c << 4) | d;
}

class Parser {
public:
    // utf8: the input is valid UTF-8 text (json.loads(bytes.decode())), so a
    // non-ASCII byte in a string is copied as it is; otherwise every byte is
    // one latin-1 code point.
    Parser(std::string_view text, std::size_t max_depth, bool utf8 = false)
        : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()), max_depth_(max_depth), utf8_(utf8) {}

    PyValue parse_document() {
        skip_ws();
        PyValue v = parse_value();
        skip_ws();
        if (p_ != end_) fail("Extra data", p_);
        return v;
    }

private:
    const char* const begin_;
    const char* p_;
    const char* const end_;
    const std::size_t max_depth_;
    const bool utf8_;
    std::size_t depth_ = 0;

    [[noreturn]] void fail(const char* what, const char* at) const {
        std::string msg(what);
        msg += " at byte ";
        msg += std::to_string(static_cast<std::size_t>(at - begin_));
        throw JsonDecodeError(msg);
    }

    void skip_ws() {
        while (p_ < end_ && is_ws(*p_)) ++p_;
    }

    // Consumes `word` if the input continues with it.
    bool consume(std::string_view word) {
        if (static_cast<std::size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0)
            return false;
        p_ += word.size();
        return true;
    }

    void enter(const char* at) {
        if (++depth_ > max_depth_) {
            std::string msg = "nesting deeper than " + std::to_string(max_depth_) + " at byte " +
                              std::to_string(static_cast<std::size_t>(at - begin_));
            throw JsonDecodeError(msg);
        }
    }

    // Arrays and objects share their punctuation: open_container() takes the
    // opening bracket at p_ and the white space after it; after_item() takes
    // what follows an item, a ',' and white space or the closing bracket. Each
    // is true when the closing bracket was taken (the container is done).
    bool open_container(char close) {
        enter(p_);
        ++p_;  // '[' or '{'
        skip_ws();
        return leave_at(close);
    }
    bool after_item(char close) {
        skip_ws();
        if (leave_at(close)) return true;
        if (p_ == end_ || *p_ != ',') fail("Expecting ',' delimiter", p_);
        ++p_;
        skip_ws();
        return false;
    }
    bool leave_at(char close) {
        if (p_ == end_ || *p_ != close) return false;
        ++p_;
        --depth_;
        return true;
    }

    // scan_once_unicode(): one value starting exactly at p_.
    PyValue parse_value() {
        if (p_ == end_) fail("Expecting value", p_);
        switch (*p_) {
            case '"': {
                std::string s;
                parse_string(s);
                return PyValue(std::move(s));
            }
            case '{': return parse_object();
            case '[': return parse_array();
            case 'n':
                if (consume("null")) return PyValue();
                break;
            case 't':
                if (consume("true")) return PyValue(true);
                break;
            case 'f':
                if (consume("false")) return PyValue(false);
                break;
            case 'N':
                if (consume("NaN")) return PyValue(std::numeric_limits<double>::quiet_NaN());
                break;
            case 'I':
                if (consume("Infinity")) return PyValue(std::numeric_limits<double>::infinity());
                break;
            case '-':
                if (consume("-Infinity")) return PyValue(-std::numeric_limits<double>::infinity());
                return parse_number();
            default:
                if (is_digit(*p_)) return parse_number();
                break;
        }
        fail("Expecting value", p_);
    }

    PyValue parse_array() {
        PyList list;
        if (open_container(']')) return PyValue(std::move(list));
        do {
            list.push_back(parse_value());
        } while (!after_item(']'));
        return PyValue(std::move(list));
    }

    // dict(pairs): the last duplicate wins, the first position stays. Past a
    // few keys they are indexed, because PyDict::set searches linearly and an
    // object of n keys would cost n^2 (100,000 keys: over a minute). A std::map,
    // not a hash table, so that no choice of keys can degrade it.
    static void add_entry(std::vector<PyDictEntry>& entries, std::map<std::string, std::size_t>& positions,
                          std::string key, PyValue value) {
        constexpr std::size_t kIndexFrom = 16;
        if (entries.size() < kIndexFrom) {
            for (auto& e : entries) {
                if (e.key == key) {
                    e.value = std::move(value);
                    return;
                }
            }
        } else {
            if (positions.empty())
                for (std::size_t i = 0; i < entries.size(); ++i) positions.emplace(entries[i].key, i);
            const auto [it, inserted] = positions.try_emplace(key, entries.size());
            if (!inserted) {
                entries[it->second].value = std::move(value);
                return;
            }
        }
        entries.push_back(PyDictEntry{std::move(key), std::move(value)});
    }

    PyValue parse_object() {
        if (open_container('}')) return PyValue(PyDict());
        std::vector<PyDictEntry> entries;
        std::map<std::string, std::size_t> positions;
        do {
            if (p_ == end_ || *p_ != '"') fail("Expecting property name enclosed in double quotes", p_);
            std::string key;
            parse_string(key);
            skip_ws();
            if (p_ == end_ || *p_ != ':') fail("Expecting ':' delimiter", p_);
            ++p_;
            skip_ws();
            PyValue value = parse_value();
            add_entry(entries, positions, std::move(key), std::move(value));
        } while (!after_item('}'));
        PyDict dict;
        for (auto& e : entries) dict.append_absent(std::move(e.key), std::move(e.value));
        return PyValue(std::move(dict));
    }

    // scanstring_unicode() with strict=True; p_ is at the opening quote.
    void parse_string(std::string& out) {
        const char* const quote = p_;
        ++p_;
        {
            // Fast path: the common all-ASCII string without escapes becomes
            // one allocation.
            const char* q = p_;
            while (q < end_ && kLoadPlain[static_cast<unsigned char>(*q)]) ++q;
            if (q < end_ && *q == '"') {
                out.assign(p_, q);
                p_ = q + 1;
                return;
            }
            out.reserve(static_cast<std::size_t>(q - p_) + 16);
        }
        for (;;) {
            const char* q = p_;
            while (q < end_ && kLoadPlain[static_cast<unsigned char>(*q)]) ++q;
            out.append(p_, q);
            p_ = q;
            if (q == end_) fail("Unterminated string starting", quote);
            const auto c = static_cast<unsigned char>(*q);
            if (c == '"') {
                ++p_;
                return;
            }
            if (c >= 0x80) {
                // UTF-8 input: one byte of a sequence checked beforehand.
                // Latin-1: a character U+0080..U+00FF, two UTF-8 bytes.
                if (utf8_) out.push_back(static_cast<char>(c));
                else append_code_point(out, c);
                ++p_;
                continue;
            }
            if (c < 0x20) fail("Invalid control character", q);

            // Backslash.
            ++p_;
            if (p_ == end_) fail("Unterminated string starting", quote);
            const char e = *p_;
            if (e != 'u') {
                char decoded;
                switch (e) {
                    case '"': decoded = '"'; break;
                    case '\\': decoded = '\\'; break;
                    case '/': decoded = '/'; break;
                    case 'b': decoded = '\b'; break;
                    case 'f': decoded = '\f'; break;
                    case 'n': decoded = '\n'; break;
                    case 'r': decoded = '\r'; break;
                    case 't': decoded = '\t'; break;
                    default: fail("Invalid \\escape", p_ - 1);
                }
                out.push_back(decoded);
                ++p_;
                continue;
            }

            // \uXXXX. Like CPython, at least one character must follow the
            // four hex digits (otherwise the string is unterminated anyway).
            const char* const u = p_;
            if (end_ - u <= 5) fail("Invalid \\uXXXX escape", u);
            const std::int32_t unit = hex4(u + 1);
            if (unit < 0) fail("Invalid \\uXXXX escape", u);
            p_ = u + 5;
            auto cp = static_cast<std::uint32_t>(unit);
            if (cp >= 0xD800 && cp <= 0xDBFF && end_ - p_ > 6 && p_[0] == '\\' && p_[1] == 'u') {
                const std::int32_t unit2 = hex4(p_ + 2);
                if (unit2 < 0) fail("Invalid \\uXXXX escape", p_ + 1);
                if (unit2 >= 0xDC00 && unit2 <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<std::uint32_t>(unit2) - 0xDC00);
                    p_ += 6;
                }
            }
            append_code_point(out, cp);
        }
    }

    // _match_number_unicode(): (-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?
    PyValue parse_number() {
        const char* const start = p_;
        const char* q = p_;
        const bool negative = *q == '-';
        if (negative) ++q;
        const char* const int_start = q;
        if (q < end_ && *q >= '1' && *q <= '9') {
            ++q;
            while (q < end_ && is_digit(*q)) ++q;
        } else if (q < end_ && *q == '0') {
            ++q;
        } else {
            fail("Expecting value", start);
        }
        const char* const int_end = q;

        bool is_float = false;
        const char* frac_start = nullptr;
        const char* frac_end = nullptr;
        if (end_ - q > 1 && *q == '.' && is_digit(q[1])) {
            is_float = true;
            frac_start = q + 1;
            q += 2;
            while (q < end_ && is_digit(*q)) ++q;
            frac_end = q;
        }
        const char* exp_start = nullptr;
        if (end_ - q > 1 && (*q == 'e' || *q == 'E')) {
            const char* const e = q;
            ++q;
            if (end_ - q > 1 && (*q == '-' || *q == '+')) ++q;
            const char* const digits = q;
            while (q < end_ && is_digit(*q)) ++q;
            if (q > digits) {
                is_float = true;
                exp_start = e + 1;
            } else {
                q = e;  // not an exponent: "1e" is 1 then extra data
            }
        }
        p_ = q;

        if (is_float) return PyValue(parse_float(start, q, int_start, int_end, frac_start, frac_end, exp_start));

        const auto ndigits = static_cast<std::size_t>(int_end - int_start);
        if (ndigits <= 18) {
            std::int64_t v = 0;
            for (const char* d = int_start; d < int_end; ++d) v = v * 10 + (*d - '0');
            return PyValue(negative ? -v : v);
        }
        std::int64_t v = 0;
        const auto r = std::from_chars(start, int_end, v);
        if (r.ec == std::errc() && r.ptr == int_end) return PyValue(v);
        if (ndigits > kMaxIntStrDigits) {
            std::string msg = "integer with " + std::to_string(ndigits) + " digits exceeds Python's limit of " +
                              std::to_string(kMaxIntStrDigits) + " digits for integer string conversion at byte " +
                              std::to_string(static_cast<std::size_t>(start - begin_));
            throw JsonDecodeError(msg);
        }
        return PyValue(PyBigInt{std::string(start, int_end)});
    }

    // float(text): correctly rounded; overflow gives +-inf and underflow +-0.0.
    static double parse_float(const char* start, const char* end, const char* int_start, const char* int_end,
                              const char* frac_start, const char* frac_end, const char* exp_start) {
        double d = 0.0;
        const auto r = std::from_chars(start, end, d);
        if (r.ec == std::errc()) return d;

        // Out of range: find the decimal exponent of the leading nonzero digit
        // to tell overflow from underflow.
        const bool negative = *start == '-';
        long long lead = 0;
        bool nonzero = false;
        for (const char* c = int_start; c < int_end && !nonzero; ++c) {
            if (*c != '0') {
                nonzero = true;
                lead = static_cast<long long>(int_end - c) - 1;
            }
        }
        for (const char* c = frac_start; c && c < frac_end && !nonzero; ++c) {
            if (*c != '0') {
                nonzero = true;
                lead = -static_cast<long long>(c - frac_start) - 1;
            }
        }
        if (nonzero && exp_start) {
            const char* c = exp_start;
            bool exp_negative = false;
            if (*c == '+' || *c == '-') exp_negative = *c++ == '-';
            long long exp = 0;
            for (; c < end; ++c) exp = std::min<long long>(exp * 10 + (*c - '0'), 1'000'000'000LL);
            lead += exp_negative ? -exp : exp;
        }
        const double magnitude = (nonzero && lead > 0) ? std::numeric_limits<double>::infinity() : 0.0;
        return negative ? -magnitude : magnitude;
    }
};

}  // namespace

std::string json_dumps(const PyValue& value, JsonSeparators separators) {
    std::string out;
    out.reserve(64);
    const Separators sep = separators == JsonSeparators::compact ? Separators{",", ":"} : Separators{", ", ": "};
    dump_value(out, value, sep);
    return out;
}

PyValue json_loads_latin1(std::string_view bytes, const JsonLimits& limits) {
    Parser parser(bytes, limits.max_depth);
    return parser.parse_document();
}

PyValue json_loads_utf8(std::string_view bytes, const JsonLimits& limits) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const auto* const end = p + bytes.size();
    for (const auto* q = p; q < end;) {
        if (*q < 0x80) {
            ++q;
            continue;
        }
        std::uint32_t cp = 0;
        const std::size_t len = utf8_sequence_strict(q, end, cp);
        if (len == 0)
            throw JsonDecodeError("'utf-8' codec can't decode byte 0x" + std::string{kLowerHex[*q >> 4]} +
                                  kLowerHex[*q & 0xF] + " in position " + std::to_string(q - p));
        q += len;
    }
    Parser parser(bytes, limits.max_depth, /*utf8=*/true);
    return parser.parse_document();
}

std::string python_float_repr(double value) {
    std::string out;
    append_float_repr(out, value);
    return out;
}

}  // namespace sessionctl
