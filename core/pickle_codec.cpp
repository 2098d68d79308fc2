#include "core/pickle_codec.hpp"

// Reading mirrors CPython 3.11/3.12's Modules/_pickle.c (the C unpickler
// pickle.loads uses): its stack / MARK / memo semantics, its parsing of the
// text opcodes, and its error cases. Writing mirrors the C pickler's output
// buffer and framing (_Pickler_Write, _Pickler_CommitFrame, the opcode boundary
// at the start of every save(), large data outside frames) and its save_*
// functions for the types a session can hold.

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/json_codec.hpp"
#include "core/utf8.hpp"

namespace sessionctl {

namespace {

// ------------------------------------------------------------- opcodes ----

namespace op {
constexpr unsigned char MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I',
                        BININT = 'J', BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P',
                        BINPERSID = 'Q', REDUCE = 'R', STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U',
                        UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd',
                        EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h', INST = 'i', LONG_BINGET = 'j',
                        LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q', LONG_BINPUT = 'r',
                        SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
                        // protocol 2
                        PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85,
                        TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b,
                        // protocol 3
                        BINBYTES = 'B', SHORT_BINBYTES = 'C',
                        // protocol 4
                        SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, EMPTY_SET = 0x8f,
                        ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93, MEMOIZE = 0x94,
                        FRAME = 0x95,
                        // protocol 5
                        BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98;
}  // namespace op

const char* opcode_name(unsigned char c) {
    switch (c) {
        case op::MARK: return "MARK";
        case op::STOP: return "STOP";
        case op::POP: return "POP";
        case op::POP_MARK: return "POP_MARK";
        case op::DUP: return "DUP";
        case op::FLOAT: return "FLOAT";
        case op::INT: return "INT";
        case op::BININT: return "BININT";
        case op::BININT1: return "BININT1";
        case op::LONG: return "LONG";
        case op::BININT2: return "BININT2";
        case op::NONE: return "NONE";
        case op::PERSID: return "PERSID";
        case op::BINPERSID: return "BINPERSID";
        case op::REDUCE: return "REDUCE";
        case op::STRING: return "STRING";
        case op::BINSTRING: return "BINSTRING";
        case op::SHORT_BINSTRING: return "SHORT_BINSTRING";
        case op::UNICODE: return "UNICODE";
        case op::BINUNICODE: return "BINUNICODE";
        case op::APPEND: return "APPEND";
        case op::BUILD: return "BUILD";
        case op::GLOBAL: return "GLOBAL";
        case op::DICT: return "DICT";
        case op::EMPTY_DICT: return "EMPTY_DICT";
        case op::APPENDS: return "APPENDS";
        case op::GET: return "GET";
        case op::BINGET: return "BINGET";
        case op::INST: return "INST";
        case op::LONG_BINGET: return "LONG_BINGET";
        case op::LIST: return "LIST";
        case op::EMPTY_LIST: return "EMPTY_LIST";
        case op::OBJ: return "OBJ";
        case op::PUT: return "PUT";
        case op::BINPUT: return "BINPUT";
        case op::LONG_BINPUT: return "LONG_BINPUT";
        case op::SETITEM: return "SETITEM";
        case op::TUPLE: return "TUPLE";
        case op::EMPTY_TUPLE: return "EMPTY_TUPLE";
        case op::SETITEMS: return "SETITEMS";
        case op::BINFLOAT: return "BINFLOAT";
        case op::PROTO: return "PROTO";
        case op::NEWOBJ: return "NEWOBJ";
        case op::EXT1: return "EXT1";
        case op::EXT2: return "EXT2";
        case op::EXT4: return "EXT4";
        case op::TUPLE1: return "TUPLE1";
        case op::TUPLE2: return "TUPLE2";
        case op::TUPLE3: return "TUPLE3";
        case op::NEWTRUE: return "NEWTRUE";
        case op::NEWFALSE: return "NEWFALSE";
        case op::LONG1: return "LONG1";
        case op::LONG4: return "LONG4";
        case op::BINBYTES: return "BINBYTES";
        case op::SHORT_BINBYTES: return "SHORT_BINBYTES";
        case op::SHORT_BINUNICODE: return "SHORT_BINUNICODE";
        case op::BINUNICODE8: return "BINUNICODE8";
        case op::BINBYTES8: return "BINBYTES8";
        case op::EMPTY_SET: return "EMPTY_SET";
        case op::ADDITEMS: return "ADDITEMS";
        case op::FROZENSET: return "FROZENSET";
        case op::NEWOBJ_EX: return "NEWOBJ_EX";
        case op::STACK_GLOBAL: return "STACK_GLOBAL";
        case op::MEMOIZE: return "MEMOIZE";
        case op::FRAME: return "FRAME";
        case op::BYTEARRAY8: return "BYTEARRAY8";
        case op::NEXT_BUFFER: return "NEXT_BUFFER";
        case op::READONLY_BUFFER: return "READONLY_BUFFER";
        default: return nullptr;
    }
}

constexpr std::size_t kBatchSize = 1000;           // pickle's _BATCHSIZE
constexpr std::size_t kFrameSizeTarget = 64 * 1024;  // _FRAME_SIZE_TARGET
constexpr std::size_t kFrameSizeMin = 4;
constexpr std::size_t kFrameHeaderSize = 9;
constexpr std::size_t kMaxIntStrDigits = 4300;  // sys.int_info.default_max_str_digits
constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// ---------------------------------------------------------------- text ----

// Offset of the first byte that does not start a valid UTF-8 sequence, with
// surrogate code points (ED A0..BF xx) allowed as Python's "surrogatepass"
// allows them; npos when all is valid.
std::size_t invalid_utf8_at(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        // ASCII runs, eight bytes at a time.
        while (n - i >= 8) {
            std::uint64_t word;
            std::memcpy(&word, p + i, 8);
            if (word & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= n) break;
        const unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::uint32_t cp = 0;
        const std::size_t len = utf8_sequence(p + i, p + n, cp);
        if (len == 0) return i;
        i += len;
    }
    return std::string_view::npos;
}

// The code point at s[i] (advancing i); lone surrogates come back as
// themselves. An invalid byte comes back as 0x110000 + byte.
std::uint32_t next_code_point(std::string_view s, std::size_t& i) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const unsigned char c = p[i];
    if (c < 0x80) {
        ++i;
        return c;
    }
    std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (invalid_utf8_at(s.substr(i, len)) != std::string_view::npos || s.size() - i < len) {
        ++i;
        return 0x110000u + c;
    }
    std::uint32_t cp = len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (p[i + k] & 0x3Fu);
    i += len;
    return cp;
}

// UTF-8 of a code point; surrogates as 3-byte sequences (WTF-8, surrogatepass).
void append_code_point(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim_ascii(std::string_view s) {
    while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
    return s;
}

// A byte string shown the way Python shows one inside a message: 'abc\x00'.
std::string quoted_bytes(std::string_view s, std::size_t max = 60) {
    std::string out = "'";
    for (std::size_t i = 0; i < s.size() && i < max; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') out += static_cast<char>(c);
        else out += fmt::format("\\x{:02x}", c);
    }
    if (s.size() > max) out += "...";
    return out + "'";
}

// ------------------------------------------------------------ integers ----

// Canonical decimal text ("-" then digits without leading zeros, "0") as a
// PyValue: int64 when it fits, PyBigInt otherwise.
PyValue int_from_decimal(std::string digits_with_sign) {
    std::int64_t v = 0;
    const char* b = digits_with_sign.data();
    const char* e = b + digits_with_sign.size();
    auto [ptr, ec] = std::from_chars(b, e, v);
    if (ec == std::errc() && ptr == e) return PyValue(v);
    return PyValue(PyBigInt{std::move(digits_with_sign)});
}

// Little-endian base-2^32 magnitude <-> decimal digits.
std::string limbs_to_decimal(std::vector<std::uint32_t> limbs) {
    while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
    if (limbs.empty()) return "0";
    std::vector<std::uint32_t> chunks;  // base 1e9, little-endian
    while (!limbs.empty()) {
        std::uint64_t rem = 0;
        for (std::size_t i = limbs.size(); i-- > 0;) {
            const std::uint64_t cur = (rem << 32) | limbs[i];
            limbs[i] = static_cast<std::uint32_t>(cur / 1'000'000'000u);
            rem = cur % 1'000'000'000u;
        }
        chunks.push_back(static_cast<std::uint32_t>(rem));
        while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
    }
    std::string out = std::to_string(chunks.back());
    for (std::size_t i = chunks.size() - 1; i-- > 0;) out += fmt::format("{:09d}", chunks[i]);
    return out;
}

std::vector<std::uint32_t> decimal_to_limbs(std::string_view digits) {
    std::vector<std::uint32_t> limbs;
    std::size_t i = 0;
    const std::size_t first = digits.size() % 9 == 0 ? 9 : digits.size() % 9;
    std::size_t take = first;
    while (i < digits.size()) {
        std::uint32_t chunk = 0;
        std::uint32_t scale = 1;
        for (std::size_t k = 0; k < take; ++k) {
            chunk = chunk * 10 + static_cast<std::uint32_t>(digits[i + k] - '0');
            scale *= 10;
        }
        i += take;
        take = 9;
        std::uint64_t carry = chunk;
        for (auto& limb : limbs) {
            const std::uint64_t cur = static_cast<std::uint64_t>(limb) * scale + carry;
            limb = static_cast<std::uint32_t>(cur);
            carry = cur >> 32;
        }
        if (carry) limbs.push_back(static_cast<std::uint32_t>(carry));
    }
    return limbs;
}

// A LONG1/LONG4 payload (little-endian two's complement) as a Python int.
PyValue int_from_le_signed(std::string_view bytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t n = bytes.size();
    if (n == 0) return PyValue(std::int64_t{0});
    const bool negative = (p[n - 1] & 0x80u) != 0;
    const unsigned char ext = negative ? 0xFF : 0x00;
    while (n > 1 && p[n - 1] == ext && ((p[n - 2] & 0x80u) != 0) == negative) --n;
    if (n <= 8) {
        std::uint64_t u = 0;
        for (std::size_t i = 0; i < n; ++i) u |= static_cast<std::uint64_t>(p[i]) << (8 * i);
        if (negative && n < 8) u |= ~std::uint64_t{0} << (8 * n);
        std::int64_t v;
        std::memcpy(&v, &u, sizeof v);
        return PyValue(v);
    }
    std::vector<unsigned char> mag(p, p + n);
    if (negative) {  // magnitude = -value: invert and add one
        unsigned carry = 1;
        for (auto& b : mag) {
            const unsigned v = static_cast<unsigned char>(~b) + carry;
            b = static_cast<unsigned char>(v);
            carry = v >> 8;
        }
    }
    std::vector<std::uint32_t> limbs((mag.size() + 3) / 4, 0);
    for (std::size_t i = 0; i < mag.size(); ++i) limbs[i / 4] |= static_cast<std::uint32_t>(mag[i]) << (8 * (i % 4));
    std::string digits = limbs_to_decimal(std::move(limbs));
    return PyValue(PyBigInt{negative ? "-" + digits : digits});
}

// int(text) for base 10 as PyLong_FromString reads it: surrounding whitespace,
// one sign, digits with single underscores between them. The canonical
// decimal, or an error message.
std::pair<std::string, std::string> parse_python_int(std::string_view text) {
    std::string_view s = trim_ascii(text);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    std::string digits;
    bool prev_digit = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c >= '0' && c <= '9') {
            digits += c;
            prev_digit = true;
        } else if (c == '_' && prev_digit && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9') {
            prev_digit = false;
        } else {
            return {"", "invalid literal for int() with base 10: " + quoted_bytes(text)};
        }
    }
    if (digits.empty()) return {"", "invalid literal for int() with base 10: " + quoted_bytes(text)};
    if (digits.size() > kMaxIntStrDigits)
        return {"", fmt::format("Exceeds the limit ({} digits) for integer string conversion: value has {} digits",
                                kMaxIntStrDigits, digits.size())};
    const auto nz = digits.find_first_not_of('0');
    digits = nz == std::string::npos ? "0" : digits.substr(nz);
    if (negative && digits != "0") digits.insert(digits.begin(), '-');
    return {digits, ""};
}

// pickle's encode_long for a sign and magnitude (little-endian bytes): the
// shortest two's complement that round-trips, as the C pickler computes it.
std::string encode_long(bool negative, std::vector<unsigned char> mag) {
    while (!mag.empty() && mag.back() == 0) mag.pop_back();
    std::size_t nbits = 0;
    if (!mag.empty()) {
        unsigned top = mag.back();
        std::size_t bits = 0;
        while (top) {
            ++bits;
            top >>= 1;
        }
        nbits = (mag.size() - 1) * 8 + bits;
    }
    std::size_t nbytes = (nbits >> 3) + 1;
    mag.resize(nbytes, 0);
    if (negative) {
        unsigned carry = 1;
        for (auto& b : mag) {
            const unsigned v = static_cast<unsigned char>(~b) + carry;
            b = static_cast<unsigned char>(v);
            carry = v >> 8;
        }
        if (nbytes > 1 && mag[nbytes - 1] == 0xFF && (mag[nbytes - 2] & 0x80u) != 0) --nbytes;
    }
    return std::string(reinterpret_cast<const char*>(mag.data()), nbytes);
}

// ------------------------------------------------------------- Decimal ----

// str(Decimal(text)), or nullopt when Decimal() would raise InvalidOperation.
std::optional<std::string> decimal_canonical(std::string_view text) {
    std::string_view s = trim_ascii(text);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    const std::string sign = negative ? "-" : "";
    std::string lower(s);
    for (auto& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (lower == "inf" || lower == "infinity") return sign + "Infinity";
    // Drops the underscores Python accepts between digits; nullopt for others.
    auto strip_underscores = [](std::string_view part) -> std::optional<std::string> {
        std::string out;
        for (std::size_t i = 0; i < part.size(); ++i) {
            if (part[i] == '_') {
                if (i == 0 || i + 1 == part.size() || !(part[i - 1] >= '0' && part[i - 1] <= '9') ||
                    !(part[i + 1] >= '0' && part[i + 1] <= '9'))
                    return std::nullopt;
                continue;
            }
            if (part[i] < '0' || part[i] > '9') return std::nullopt;
            out += part[i];
        }
        return out;
    };
    for (const char* nan : {"snan", "nan"}) {
        const std::string_view prefix(nan);
        if (lower.rfind(prefix, 0) == 0) {
            auto payload = strip_underscores(std::string_view(lower).substr(prefix.size()));
            if (!payload) return std::nullopt;
            const auto nz = payload->find_first_not_of('0');
            const std::string digits = nz == std::string::npos ? "" : payload->substr(nz);
            return sign + (prefix.size() == 4 ? "sNaN" : "NaN") + digits;
        }
    }
    const auto epos = lower.find('e');
    const std::string_view mantissa = std::string_view(lower).substr(0, epos);
    std::int64_t exponent = 0;
    if (epos != std::string::npos) {
        std::string_view e = std::string_view(lower).substr(epos + 1);
        bool eneg = false;
        if (!e.empty() && (e.front() == '+' || e.front() == '-')) {
            eneg = e.front() == '-';
            e.remove_prefix(1);
        }
        auto edigits = strip_underscores(e);
        if (!edigits || edigits->empty()) return std::nullopt;
        const auto nz = edigits->find_first_not_of('0');
        const std::string ed = nz == std::string::npos ? "0" : edigits->substr(nz);
        if (ed.size() > 17) return std::nullopt;  // beyond what decimal's contexts allow
        exponent = std::stoll(ed) * (eneg ? -1 : 1);
    }
    const auto dot = mantissa.find('.');
    auto int_part = strip_underscores(mantissa.substr(0, dot));
    std::optional<std::string> frac_part = std::string();
    if (dot != std::string_view::npos) frac_part = strip_underscores(mantissa.substr(dot + 1));
    if (!int_part || !frac_part || (int_part->empty() && frac_part->empty())) return std::nullopt;
    std::string coef = *int_part + *frac_part;
    exponent -= static_cast<std::int64_t>(frac_part->size());
    const auto nz = coef.find_first_not_of('0');
    coef = nz == std::string::npos ? "0" : coef.substr(nz);
    // to-scientific-string (the General Decimal Arithmetic spec, which
    // Decimal.__str__ follows).
    const auto ndigits = static_cast<std::int64_t>(coef.size());
    const std::int64_t adjusted = exponent + ndigits - 1;
    std::string out = sign;
    if (exponent <= 0 && adjusted >= -6) {
        if (exponent == 0) {
            out += coef;
        } else if (ndigits > -exponent) {
            out += coef.substr(0, static_cast<std::size_t>(ndigits + exponent));
            out += '.';
            out += coef.substr(static_cast<std::size_t>(ndigits + exponent));
        } else {
            out += "0.";
            out.append(static_cast<std::size_t>(-exponent - ndigits), '0');
            out += coef;
        }
    } else {
        out += coef[0];
        if (ndigits > 1) {
            out += '.';
            out += coef.substr(1);
        }
        out += fmt::format("E{}{}", adjusted >= 0 ? "+" : "-", adjusted >= 0 ? adjusted : -adjusted);
    }
    return out;
}

// ------------------------------------------------------------ datetime ----

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
    static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

// "+HH:MM[:SS[.ffffff]]" as datetime formats a utcoffset.
std::string format_offset(std::int64_t off_us) {
    const char sign = off_us < 0 ? '-' : '+';
    const std::uint64_t a = off_us < 0 ? static_cast<std::uint64_t>(-off_us) : static_cast<std::uint64_t>(off_us);
    const std::uint64_t us = a % 1'000'000;
    const std::uint64_t secs = a / 1'000'000;
    std::string out = fmt::format("{}{:02d}:{:02d}", sign, secs / 3600, secs / 60 % 60);
    if (secs % 60 || us) out += fmt::format(":{:02d}", secs % 60);
    if (us) out += fmt::format(".{:06d}", us);
    return out;
}

PyTimeDelta timedelta_from_micros(std::int64_t micros) {
    PyTimeDelta td;
    td.days = floor_div(micros, kMicrosPerDay);
    const std::int64_t rest = micros - td.days * kMicrosPerDay;
    td.seconds = static_cast<std::int32_t>(rest / kMicrosPerSecond);
    td.microseconds = static_cast<std::int32_t>(rest % kMicrosPerSecond);
    return td;
}

std::string timedelta_repr(const PyTimeDelta& td) {
    std::string args;
    auto add = [&](const char* name, std::int64_t v) {
        if (!v) return;
        if (!args.empty()) args += ", ";
        args += fmt::format("{}={}", name, v);
    };
    add("days", td.days);
    add("seconds", td.seconds);
    add("microseconds", td.microseconds);
    return "datetime.timedelta(" + (args.empty() ? std::string("0") : args) + ")";
}

std::string str_repr(std::string_view s);

std::string tzinfo_repr(const PyTzInfo& tz) {
    switch (tz.kind) {
        case PyTzInfo::Kind::fixed:
            if (tz.utcoffset_us == 0 && !tz.has_name) return "datetime.timezone.utc";
            return "datetime.timezone(" + timedelta_repr(timedelta_from_micros(tz.utcoffset_us)) +
                   (tz.has_name ? ", " + str_repr(tz.name) : "") + ")";
        case PyTzInfo::Kind::pytz_utc: return "<UTC>";
        case PyTzInfo::Kind::pytz_zone:
            if (!tz.has_utcoffset) return "<StaticTzInfo " + str_repr(tz.key) + ">";
            return fmt::format("<DstTzInfo {} {}{}{} {}>", str_repr(tz.key), tz.name, tz.utcoffset_us > 0 ? "+" : "",
                               python_str(timedelta_from_micros(tz.utcoffset_us)), tz.dst_us ? "DST" : "STD");
        case PyTzInfo::Kind::zoneinfo: return "zoneinfo.ZoneInfo(key=" + str_repr(tz.key) + ")";
    }
    return "?";
}

// ----------------------------------------------------------- unpickler ----

// The callables a pickle may name. Each builds a value; none runs anything.
enum class Callable : std::uint8_t {
    none,  // a global that is a value, not callable (pytz.utc)
    datetime,
    date,
    time,
    timedelta,
    timezone,
    pytz_utc,  // pytz._UTC()
    pytz_p,    // pytz._p(zone[, utcoffset, dst, tzname])
    decimal,
    ordered_dict,
    set,
    frozenset,
    bytes,
    bytearray,
    codecs_encode,      // _codecs.encode(str, "latin1"): bytes in protocols 0-2
    getattr,            // only getattr(zoneinfo.ZoneInfo, "_unpickle")
    zoneinfo,           // zoneinfo.ZoneInfo(key)
    zoneinfo_unpickle,  // ZoneInfo._unpickle(key, from_cache)
};

struct WhitelistEntry {
    std::string_view module;
    std::string_view name;
    Callable callable;
    bool is_class;  // NEWOBJ needs a class
};

// "__builtin__" is Python 2's name, which pickle's fix_imports maps for
// protocols 0-2.
constexpr WhitelistEntry kWhitelist[] = {
    {"datetime", "datetime", Callable::datetime, true},
    {"datetime", "date", Callable::date, true},
    {"datetime", "time", Callable::time, true},
    {"datetime", "timedelta", Callable::timedelta, true},
    {"datetime", "timezone", Callable::timezone, true},
    {"pytz", "_UTC", Callable::pytz_utc, false},
    {"pytz", "_p", Callable::pytz_p, false},
    {"pytz", "utc", Callable::none, false},
    {"pytz", "UTC", Callable::none, false},
    {"decimal", "Decimal", Callable::decimal, true},
    {"_pydecimal", "Decimal", Callable::decimal, true},
    {"collections", "OrderedDict", Callable::ordered_dict, true},
    {"builtins", "set", Callable::set, true},
    {"builtins", "frozenset", Callable::frozenset, true},
    {"builtins", "bytes", Callable::bytes, true},
    {"builtins", "bytearray", Callable::bytearray, true},
    {"builtins", "getattr", Callable::getattr, false},
    {"__builtin__", "set", Callable::set, true},
    {"__builtin__", "frozenset", Callable::frozenset, true},
    {"__builtin__", "bytes", Callable::bytes, true},
    {"__builtin__", "bytearray", Callable::bytearray, true},
    {"__builtin__", "getattr", Callable::getattr, false},
    {"_codecs", "encode", Callable::codecs_encode, false},
    {"codecs", "encode", Callable::codecs_encode, false},
    {"zoneinfo", "ZoneInfo", Callable::zoneinfo, true},
    {"zoneinfo", "ZoneInfo._unpickle", Callable::zoneinfo_unpickle, false},
};

const PyTzInfoPtr& pytz_utc_info() {
    static const PyTzInfoPtr info = [] {
        PyTzInfo tz;
        tz.kind = PyTzInfo::Kind::pytz_utc;
        return std::make_shared<const PyTzInfo>(tz);
    }();
    return info;
}

enum class NodeKind : std::uint8_t { leaf, list, tuple, dict, ordered_dict, set, frozenset, global };

struct Node;

struct DictSlot {
    std::string key;  // as json.dumps writes it
    std::string eq;   // for a non-str key: what decides Python equality; empty for a str key
    Node* value;
};

// What a container holds while the pickle is read: references to other nodes,
// so that memo references share, as Python's objects do.
struct Container {
    std::vector<Node*> items;     // list, tuple, set, frozenset
    std::vector<DictSlot> slots;  // dict, ordered dict
    // Equality key ("s" + str key, or DictSlot::eq) -> slot; built once a dict
    // is large enough for a linear search to cost more.
    std::unordered_map<std::string, std::size_t> index;
    bool nonstr_keys = false;  // some key was converted (1 -> "1"): JSON texts may repeat
};

constexpr std::size_t kIndexFrom = 24;

// One object of the unpickled graph. Nodes live in the unpickler's arena and
// refer to each other by plain pointers, so tearing down a deep or cyclic
// graph is flat.
struct Node {
    NodeKind kind = NodeKind::leaf;
    Callable callable = Callable::none;
    bool converting = false;
    std::uint32_t uses = 0;  // references from containers (and STOP); 1: the value can be moved out
    PyValue leaf;  // leaf: the value; global: "module.name"
    std::unique_ptr<Container> box;
};

class Unpickler {
public:
    Unpickler(std::string_view data, const PickleLimits& limits) : data_(data), limits_(limits) {
        end_ = std::min(data_.size(), limits_.max_input_size);
        // Room for a session's worth up front: growing these one doubling at
        // a time cost a dozen allocations per record in a store scan.
        stack_.reserve(32);
        marks_.reserve(8);
        memo_dense_.reserve(64);
        none_ = make_leaf(PyValue());
        true_ = make_leaf(PyValue(true));
        false_ = make_leaf(PyValue(false));
    }

    PickleLoadResult run() {
        Node* result = nullptr;
        while (!result) result = step();
        ++result->uses;
        PickleLoadResult out;
        out.value = convert(result, 0, false);
        out.consumed = pos_;
        return out;
    }

private:
    std::string_view data_;
    const PickleLimits& limits_;
    std::size_t end_ = 0;
    std::size_t pos_ = 0;
    std::size_t op_pos_ = 0;
    unsigned char op_ = 0;

    // The first nodes live in the unpickler itself: a session's pickle
    // rarely needs more, and a store scan decodes one per record.
    static constexpr std::size_t kInlineNodes = 32;
    std::array<Node, kInlineNodes> inline_nodes_;
    std::size_t inline_used_ = 0;
    std::deque<Node> arena_;
    std::vector<Node*> stack_;
    std::vector<std::size_t> marks_;
    // The memo: dense indices (what picklers write) in a vector, others in a map.
    std::vector<Node*> memo_dense_;
    std::unordered_map<std::uint64_t, Node*> memo_sparse_;
    std::size_t memo_count_ = 0;
    Node* none_ = nullptr;
    Node* true_ = nullptr;
    Node* false_ = nullptr;
    std::uint64_t nan_keys_ = 0;
    std::size_t values_out_ = 0;
    std::size_t bytes_out_ = 0;

    // ---- errors

    [[noreturn]] void fail(const std::string& what) const {
        const char* name = opcode_name(op_);
        throw PickleError(fmt::format("bad pickle: {} ({} at byte {})", what, name ? name : "?", op_pos_));
    }

    [[noreturn]] void fail_truncated(std::size_t wanted) const {
        if (end_ < data_.size())
            throw PickleError(fmt::format("pickle exceeds the limit of {} bytes", limits_.max_input_size));
        const char* name = opcode_name(op_);
        throw PickleError(fmt::format("bad pickle: data was truncated ({} at byte {} needs {} more byte{}, {} left)",
                                      name ? name : "?", op_pos_, wanted, wanted == 1 ? "" : "s", end_ - pos_));
    }

    // The name comes from the pickle: the message shows it with control and
    // other non-printable characters escaped, so it cannot drive a terminal.
    [[noreturn]] void refuse(const std::string& global) const {
        const std::string shown = str_repr(global);
        throw PickleRefusedError(
            global, fmt::format("refusing to unpickle global {} at byte {}: only datetime, decimal.Decimal, "
                                "collections.OrderedDict, pytz/zoneinfo time zones, sets and bytes are read from "
                                "pickles (nothing was executed)",
                                std::string_view(shown).substr(1, shown.size() - 2), op_pos_));
    }

    // ---- input

    std::string_view take(std::size_t n) {
        if (n > end_ - pos_) fail_truncated(n);
        std::string_view s = data_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    std::uint64_t take_le(std::size_t n) {
        std::string_view s = take(n);
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[i])) << (8 * i);
        return v;
    }
    std::size_t take_size(std::size_t n) {
        const std::uint64_t v = take_le(n);
        if (v > end_ - pos_) fail_truncated(v > std::numeric_limits<std::size_t>::max() ? std::numeric_limits<std::size_t>::max() : static_cast<std::size_t>(v));
        return static_cast<std::size_t>(v);
    }
    // A text opcode's argument: up to the newline, which is consumed.
    std::string_view line() {
        const auto nl = data_.substr(0, end_).find('\n', pos_);
        if (nl == std::string_view::npos) {
            if (end_ < data_.size())
                throw PickleError(fmt::format("pickle exceeds the limit of {} bytes", limits_.max_input_size));
            const char* name = opcode_name(op_);
            throw PickleError(fmt::format("bad pickle: data was truncated ({} at byte {} has no end of line)",
                                          name ? name : "?", op_pos_));
        }
        std::string_view s = data_.substr(pos_, nl - pos_);
        pos_ = nl + 1;
        return s;
    }

    // ---- nodes

    Node* make(NodeKind kind) {
        if (inline_used_ + arena_.size() >= limits_.max_values)
            fail(fmt::format("more than {} objects", limits_.max_values));
        Node& n = inline_used_ < kInlineNodes ? inline_nodes_[inline_used_++] : arena_.emplace_back();
        n.kind = kind;
        if (kind != NodeKind::leaf && kind != NodeKind::global) n.box = std::make_unique<Container>();
        return &n;
    }
    Node* make_leaf(PyValue v) {
        Node* n = make(NodeKind::leaf);
        n->leaf = std::move(v);
        return n;
    }
    Node* make_str(std::string s) { return make_leaf(PyValue(std::move(s))); }

    // ---- stack

    std::size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
    [[noreturn]] void underflow() const { fail(marks_.empty() ? "unpickling stack underflow" : "unexpected MARK found"); }
    void push(Node* n) {
        if (stack_.size() >= limits_.max_values) fail(fmt::format("stack deeper than {}", limits_.max_values));
        stack_.push_back(n);
    }
    Node* pop() {
        if (stack_.size() <= fence()) underflow();
        Node* n = stack_.back();
        stack_.pop_back();
        return n;
    }
    Node* top() {
        if (stack_.size() <= fence()) underflow();
        return stack_.back();
    }
    // Pops the topmost MARK and everything above it.
    std::vector<Node*> pop_mark() {
        if (marks_.empty()) fail("could not find MARK");
        const std::size_t m = marks_.back();
        marks_.pop_back();
        std::vector<Node*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
        stack_.resize(m);
        return items;
    }

    // ---- memo

    void memo_put(std::uint64_t index) {
        if (stack_.size() <= fence()) underflow();
        Node*& slot = memo_slot(index);
        if (!slot) {
            if (memo_count_ >= limits_.max_memo_size)
                fail(fmt::format("more than {} memo entries", limits_.max_memo_size));
            ++memo_count_;
        }
        slot = stack_.back();
    }
    Node*& memo_slot(std::uint64_t index) {
        if (index < limits_.max_memo_size) {
            if (index >= memo_dense_.size())
                memo_dense_.resize(std::max<std::size_t>(static_cast<std::size_t>(index) + 1, memo_dense_.size() * 2), nullptr);
            return memo_dense_[static_cast<std::size_t>(index)];
        }
        return memo_sparse_[index];
    }
    void memo_get(std::uint64_t index) {
        Node* found = nullptr;
        if (index < memo_dense_.size()) {
            found = memo_dense_[static_cast<std::size_t>(index)];
        } else if (auto it = memo_sparse_.find(index); it != memo_sparse_.end()) {
            found = it->second;
        }
        if (!found) fail(fmt::format("memo index {} not found ({} entries)", index, memo_count_));
        push(found);
    }
    std::uint64_t text_index(std::string_view text) {
        auto [digits, error] = parse_python_int(text);
        if (!error.empty()) fail(error);
        if (digits[0] == '-') fail("negative memo index " + digits);
        std::uint64_t v = 0;
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
        if (ec != std::errc()) fail("memo index " + digits + " out of range");
        return v;
    }

    // ---- containers

    static const char* kind_name(const Node* n) {
        switch (n->kind) {
            case NodeKind::leaf: return n->leaf.type_name();
            case NodeKind::list: return "list";
            case NodeKind::tuple: return "tuple";
            case NodeKind::dict: return "dict";
            case NodeKind::ordered_dict: return "OrderedDict";
            case NodeKind::set: return "set";
            case NodeKind::frozenset: return "frozenset";
            case NodeKind::global: return "global";
        }
        return "?";
    }

    void check_size(const Node* container, std::size_t adding) {
        const std::size_t have = container->box->items.size() + container->box->slots.size();
        if (adding > limits_.max_container_size || have > limits_.max_container_size - adding)
            fail(fmt::format("a {} with more than {} items", kind_name(container), limits_.max_container_size));
    }

    Node* make_sequence(NodeKind kind, std::vector<Node*> items) {
        Node* n = make(kind);
        check_size(n, items.size());
        for (Node* item : items) ++item->uses;
        n->box->items = std::move(items);
        return n;
    }

    void append(Node* list, const std::vector<Node*>& items) {
        if (list->kind != NodeKind::list) fail(fmt::format("cannot append to a {}", kind_name(list)));
        check_size(list, items.size());
        for (Node* item : items) ++item->uses;
        list->box->items.insert(list->box->items.end(), items.begin(), items.end());
    }

    void add_items(Node* set, const std::vector<Node*>& items) {
        if (set->kind != NodeKind::set) fail(fmt::format("cannot add items to a {}", kind_name(set)));
        check_size(set, items.size());
        for (Node* item : items) {
            check_hashable(item);
            ++item->uses;
            set->box->items.push_back(item);
        }
    }

    void check_hashable(const Node* n) {
        if (n->kind == NodeKind::list || n->kind == NodeKind::dict || n->kind == NodeKind::ordered_dict ||
            n->kind == NodeKind::set || (n->kind == NodeKind::leaf && n->leaf.holds<PyByteArray>()))
            fail(fmt::format("unhashable type: '{}'", kind_name(n)));
    }

    // The key json.dumps writes for a non-str dict key, and one that is equal
    // exactly when Python's keys are equal (1 == 1.0 == True).
    std::pair<std::string, std::string> dict_key(const Node* k) {
        check_hashable(k);
        if (k->kind == NodeKind::leaf) {
            const PyValue& v = k->leaf;
            if (v.is_int()) return {std::to_string(v.as_int()), "n" + std::to_string(v.as_int())};
            if (v.is_bigint()) return {v.as_bigint().decimal, "n" + v.as_bigint().decimal};
            if (v.is_bool()) return {v.as_bool() ? "true" : "false", v.as_bool() ? "n1" : "n0"};
            if (v.is_none()) return {"null", "N"};
            if (v.is_float()) {
                const double d = v.as_float();
                if (std::isnan(d)) return {"NaN", "nan#" + std::to_string(nan_keys_++)};
                if (std::isinf(d)) return {d > 0 ? "Infinity" : "-Infinity", d > 0 ? "f+inf" : "f-inf"};
                const std::string repr = python_float_repr(d);
                if (d == std::trunc(d) && std::fabs(d) < 9.2e18)
                    return {repr, "n" + std::to_string(static_cast<std::int64_t>(d))};
                return {repr, "f" + repr};
            }
        }
        fail(fmt::format("a dict key of type {} has no JSON form (keys must be str, int, float, bool or None, "
                         "as for json.dumps)",
                         kind_name(k)));
    }

    static std::string index_key(const DictSlot& slot) { return slot.eq.empty() ? "s" + slot.key : slot.eq; }

    // d[key] = value for each pair, keys as dict_key() converts them.
    void set_items(Node* dict, const std::vector<Node*>& kv) {
        if (dict->kind != NodeKind::dict && dict->kind != NodeKind::ordered_dict)
            fail(fmt::format("cannot set items of a {}", kind_name(dict)));
        if (kv.size() % 2) fail("odd number of items for SETITEMS");
        Container& box = *dict->box;
        // The first batch sizes the dict (later batches grow it by doubling).
        if (box.slots.empty()) box.slots.reserve(kv.size() / 2);
        for (std::size_t i = 0; i < kv.size(); i += 2) {
            DictSlot slot;
            const PyValue* k = leaf_of(kv[i]);
            if (k && k->is_str()) {
                slot.key = k->as_str();
            } else {
                std::tie(slot.key, slot.eq) = dict_key(kv[i]);
                box.nonstr_keys = true;
            }
            slot.value = kv[i + 1];
            ++slot.value->uses;
            std::size_t found = box.slots.size();
            if (box.slots.size() < kIndexFrom) {
                for (std::size_t j = 0; j < box.slots.size(); ++j)
                    if (box.slots[j].eq == slot.eq && (!slot.eq.empty() || box.slots[j].key == slot.key)) {
                        found = j;
                        break;
                    }
            } else {
                if (box.index.empty())
                    for (std::size_t j = 0; j < box.slots.size(); ++j) box.index.emplace(index_key(box.slots[j]), j);
                auto [it, inserted] = box.index.emplace(index_key(slot), box.slots.size());
                if (!inserted) found = it->second;
            }
            if (found < box.slots.size()) {
                box.slots[found].value = slot.value;  // Python keeps the first key, takes the last value
                continue;
            }
            check_size(dict, 1);
            box.slots.push_back(std::move(slot));
        }
    }

    // ---- globals and calls

    Node* global(std::string_view module, std::string_view name) {
        const std::string full = std::string(module) + "." + std::string(name);
        for (const auto& e : kWhitelist) {
            if (e.module != module || e.name != name) continue;
            if (e.callable == Callable::none) return make_leaf(PyValue(PyTimezone{pytz_utc_info()}));
            Node* n = make(NodeKind::global);
            n->callable = e.callable;
            n->leaf = PyValue(full);
            return n;
        }
        refuse(full);
    }

    static bool is_class(Callable c) {
        for (const auto& e : kWhitelist)
            if (e.callable == c) return e.is_class;
        return false;
    }

    const PyValue* leaf_of(const Node* n) const { return n->kind == NodeKind::leaf ? &n->leaf : nullptr; }

    std::int64_t int_arg(const Node* n, const std::string& fn, const char* what) {
        const PyValue* v = leaf_of(n);
        if (v && v->is_int()) return v->as_int();
        if (v && v->is_bool()) return v->as_bool() ? 1 : 0;
        fail(fmt::format("{}: {} must be an int, not {}", fn, what, kind_name(n)));
    }
    const std::string& str_arg(const Node* n, const std::string& fn, const char* what) {
        const PyValue* v = leaf_of(n);
        if (v && v->is_str()) return v->as_str();
        fail(fmt::format("{}: {} must be a str, not {}", fn, what, kind_name(n)));
    }
    // The bytes of a datetime state (bytes, or a str of code points < 256 as
    // Python 2 pickles carry it); nullopt for anything else.
    std::optional<std::string> state_bytes(const Node* n) {
        const PyValue* v = leaf_of(n);
        if (!v) return std::nullopt;
        if (v->holds<PyBytes>()) return v->get<PyBytes>().data;
        if (v->is_str()) {
            std::string out;
            const std::string& s = v->as_str();
            for (std::size_t i = 0; i < s.size();) {
                const std::uint32_t cp = next_code_point(s, i);
                if (cp > 0xFF) return std::nullopt;
                out += static_cast<char>(cp);
            }
            return out;
        }
        return std::nullopt;
    }
    PyTzInfoPtr tz_arg(const Node* n, const std::string& fn) {
        const PyValue* v = leaf_of(n);
        if (v && v->is_none()) return nullptr;
        if (v && v->holds<PyTimezone>()) return v->get<PyTimezone>().info;
        fail(fmt::format("{}: bad tzinfo state arg (a {})", fn, kind_name(n)));
    }
    // The items of an iterable argument (list, tuple, set, frozenset).
    const std::vector<Node*>& iterable_arg(const Node* n, const std::string& fn) {
        if (n->kind == NodeKind::list || n->kind == NodeKind::tuple || n->kind == NodeKind::set ||
            n->kind == NodeKind::frozenset)
            return n->box->items;
        fail(fmt::format("{}: cannot read items from a {}", fn, kind_name(n)));
    }

    void check_datetime(const PyDateTime& d, const std::string& fn) {
        if (d.kind != PyDateTime::Kind::time) {
            if (d.year < 1 || d.year > 9999) fail(fmt::format("{}: year {} is out of range", fn, d.year));
            if (d.month < 1 || d.month > 12) fail(fmt::format("{}: month must be in 1..12", fn));
            if (d.day < 1 || d.day > days_in_month(d.year, d.month))
                fail(fmt::format("{}: day is out of range for month", fn));
        }
        if (d.hour > 23) fail(fmt::format("{}: hour must be in 0..23", fn));
        if (d.minute > 59) fail(fmt::format("{}: minute must be in 0..59", fn));
        if (d.second > 59) fail(fmt::format("{}: second must be in 0..59", fn));
        if (d.microsecond > 999'999) fail(fmt::format("{}: microsecond must be in 0..999999", fn));
        if (d.fold > 1) fail(fmt::format("{}: fold must be either 0 or 1", fn));
    }

    // datetime / date / time from a pickled state or from their int arguments.
    Node* make_datetime(PyDateTime::Kind kind, const std::vector<Node*>& args, const std::string& fn) {
        PyDateTime d;
        d.kind = kind;
        const std::size_t state_len = kind == PyDateTime::Kind::datetime ? 10 : kind == PyDateTime::Kind::date ? 4 : 6;
        std::optional<std::string> state;
        if (!args.empty() && args.size() <= (kind == PyDateTime::Kind::date ? 1u : 2u)) state = state_bytes(args[0]);
        if (state && state->size() == state_len) {
            const auto* b = reinterpret_cast<const unsigned char*>(state->data());
            if (kind == PyDateTime::Kind::time) {
                d.hour = b[0] & 0x7F;
                d.fold = b[0] >> 7;
                d.minute = b[1];
                d.second = b[2];
                d.microsecond = (std::uint32_t{b[3]} << 16) | (std::uint32_t{b[4]} << 8) | b[5];
            } else {
                d.year = static_cast<std::uint16_t>(b[0] * 256 + b[1]);
                d.month = b[2] & 0x7F;
                d.day = b[3];
                if (kind == PyDateTime::Kind::datetime) {
                    d.fold = b[2] >> 7;
                    d.hour = b[4];
                    d.minute = b[5];
                    d.second = b[6];
                    d.microsecond = (std::uint32_t{b[7]} << 16) | (std::uint32_t{b[8]} << 8) | b[9];
                } else if (b[2] & 0x80) {
                    fail(fn + ": bad date state");
                }
            }
            if (args.size() == 2) d.tzinfo = tz_arg(args[1], fn);
        } else {
            // datetime(year, month, day, hour=0, minute=0, second=0,
            // microsecond=0, tzinfo=None); date(year, month, day);
            // time(hour=0, minute=0, second=0, microsecond=0, tzinfo=None).
            const std::size_t nints = kind == PyDateTime::Kind::datetime ? 7 : kind == PyDateTime::Kind::date ? 3 : 4;
            const std::size_t required = kind == PyDateTime::Kind::time ? 0 : 3;
            const std::size_t max_args = kind == PyDateTime::Kind::date ? 3 : nints + 1;
            if (args.size() < required || args.size() > max_args)
                fail(fmt::format("{}: takes {} to {} arguments, not {}", fn, required, max_args, args.size()));
            std::int64_t v[7] = {0, 0, 0, 0, 0, 0, 0};
            for (std::size_t i = 0; i < args.size() && i < nints; ++i) v[i] = int_arg(args[i], fn, "each field");
            if (args.size() > nints) d.tzinfo = tz_arg(args[nints], fn);
            auto field = [&](std::int64_t x, std::int64_t hi) -> std::int64_t {
                if (x < 0 || x > hi) fail(fmt::format("{}: a field is out of range", fn));
                return x;
            };
            if (kind == PyDateTime::Kind::time) {
                d.hour = static_cast<std::uint8_t>(field(v[0], 23));
                d.minute = static_cast<std::uint8_t>(field(v[1], 59));
                d.second = static_cast<std::uint8_t>(field(v[2], 59));
                d.microsecond = static_cast<std::uint32_t>(field(v[3], 999'999));
            } else {
                d.year = static_cast<std::uint16_t>(field(v[0], 9999));
                d.month = static_cast<std::uint8_t>(field(v[1], 12));
                d.day = static_cast<std::uint8_t>(field(v[2], 31));
                d.hour = static_cast<std::uint8_t>(field(v[3], 23));
                d.minute = static_cast<std::uint8_t>(field(v[4], 59));
                d.second = static_cast<std::uint8_t>(field(v[5], 59));
                d.microsecond = static_cast<std::uint32_t>(field(v[6], 999'999));
            }
        }
        check_datetime(d, fn);
        return make_leaf(PyValue(std::move(d)));
    }

    Node* make_timedelta(const std::vector<Node*>& args, const std::string& fn) {
        if (args.size() > 3) fail(fmt::format("{}: only days, seconds and microseconds are read", fn));
        std::int64_t v[3] = {0, 0, 0};
        for (std::size_t i = 0; i < args.size(); ++i) v[i] = int_arg(args[i], fn, "each field");
        constexpr std::int64_t kMaxDays = 999'999'999;
        // Normalize as timedelta does, without overflowing.
        std::int64_t secs = 0;
        std::int64_t days = 0;
        if (__builtin_add_overflow(v[1], floor_div(v[2], kMicrosPerSecond), &secs) ||
            __builtin_add_overflow(v[0], floor_div(secs, 86'400), &days) || days > kMaxDays || days < -kMaxDays)
            fail(fmt::format("{}: days must have magnitude <= {}", fn, kMaxDays));
        PyTimeDelta td;
        td.days = days;
        td.seconds = static_cast<std::int32_t>(secs - floor_div(secs, 86'400) * 86'400);
        td.microseconds = static_cast<std::int32_t>(v[2] - floor_div(v[2], kMicrosPerSecond) * kMicrosPerSecond);
        return make_leaf(PyValue(td));
    }

    Node* make_timezone(const std::vector<Node*>& args, const std::string& fn) {
        if (args.empty() || args.size() > 2) fail(fn + ": takes an offset and an optional name");
        const PyValue* off = leaf_of(args[0]);
        if (!off || !off->holds<PyTimeDelta>()) fail(fn + ": offset must be a timedelta");
        const PyTimeDelta& td = off->get<PyTimeDelta>();
        if (td.days < -1 || td.days > 0 || (td.days == -1 && td.seconds == 0 && td.microseconds == 0))
            fail(fn + ": offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)");
        PyTzInfo tz;
        tz.kind = PyTzInfo::Kind::fixed;
        tz.utcoffset_us = td.days * kMicrosPerDay + td.seconds * kMicrosPerSecond + td.microseconds;
        if (args.size() == 2) {
            tz.has_name = true;
            tz.name = str_arg(args[1], fn, "name");
        }
        return make_leaf(PyValue(PyTimezone{std::make_shared<const PyTzInfo>(std::move(tz))}));
    }

    Node* make_pytz_zone(const std::vector<Node*>& args, const std::string& fn) {
        if (args.empty() || args.size() > 4) fail(fn + ": takes a zone and up to three more arguments");
        PyTzInfo tz;
        tz.kind = PyTzInfo::Kind::pytz_zone;
        tz.key = str_arg(args[0], fn, "zone");
        if (args.size() == 1) {
            if (tz.key == "UTC") return make_leaf(PyValue(PyTimezone{pytz_utc_info()}));
            tz.has_utcoffset = false;
        } else {
            auto seconds = [&](std::size_t i) -> std::int64_t {
                const std::int64_t s = int_arg(args[i], fn, "an offset");
                if (s <= -86'400 || s >= 86'400) fail(fn + ": offset out of range");
                return s * kMicrosPerSecond;
            };
            tz.utcoffset_us = seconds(1);
            if (args.size() > 2) tz.dst_us = seconds(2);
            if (args.size() > 3) tz.name = str_arg(args[3], fn, "tzname");
        }
        return make_leaf(PyValue(PyTimezone{std::make_shared<const PyTzInfo>(std::move(tz))}));
    }

    Node* make_zoneinfo(const std::string& key, bool cached) {
        PyTzInfo tz;
        tz.kind = PyTzInfo::Kind::zoneinfo;
        tz.has_utcoffset = false;
        tz.key = key;
        tz.zoneinfo_cached = cached;
        return make_leaf(PyValue(PyTimezone{std::make_shared<const PyTzInfo>(std::move(tz))}));
    }

    Node* latin1_bytes(const std::string& s, const std::string& fn) {
        std::string out;
        for (std::size_t i = 0; i < s.size();) {
            const std::uint32_t cp = next_code_point(s, i);
            if (cp > 0xFF) fail(fn + ": 'latin-1' codec can't encode a character beyond U+00FF");
            out += static_cast<char>(cp);
        }
        return make_leaf(PyValue(PyBytes{std::move(out)}));
    }

    static bool is_latin1_name(std::string_view enc) {
        std::string e(enc);
        for (auto& c : e) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : (c == '_' ? '-' : c));
        return e == "latin1" || e == "latin-1" || e == "iso-8859-1" || e == "iso8859-1" || e == "l1";
    }

    // callable(*args) for REDUCE / INST / OBJ, or cls.__new__(cls, *args) for
    // NEWOBJ (`fresh`): the value it would build, never a call.
    Node* apply(const Node* fn_node, const std::vector<Node*>& args, bool fresh) {
        if (fn_node->kind != NodeKind::global)
            fail(fmt::format("a {} is not callable (only whitelisted constructors are)", kind_name(fn_node)));
        const Callable c = fn_node->callable;
        const std::string& fn = fn_node->leaf.as_str();
        if (fresh && !is_class(c)) fail(fn + " is not a class (NEWOBJ)");
        switch (c) {
            case Callable::none: break;
            case Callable::datetime: return make_datetime(PyDateTime::Kind::datetime, args, fn);
            case Callable::date: return make_datetime(PyDateTime::Kind::date, args, fn);
            case Callable::time: return make_datetime(PyDateTime::Kind::time, args, fn);
            case Callable::timedelta: return make_timedelta(args, fn);
            case Callable::timezone: return make_timezone(args, fn);
            case Callable::pytz_utc:
                if (!args.empty()) fail(fn + "() takes no arguments");
                return make_leaf(PyValue(PyTimezone{pytz_utc_info()}));
            case Callable::pytz_p: return make_pytz_zone(args, fn);
            case Callable::decimal: {
                if (args.empty()) return make_leaf(PyValue(PyDecimal{"0"}));
                if (args.size() > 2) fail(fn + ": takes a value and an optional context");
                const PyValue* v = leaf_of(args[0]);
                if (v && (v->is_int() || v->is_bigint()))
                    return make_leaf(PyValue(PyDecimal{v->is_int() ? std::to_string(v->as_int()) : v->as_bigint().decimal}));
                if (v && v->holds<PyDecimal>()) return make_leaf(*v);
                auto text = decimal_canonical(str_arg(args[0], fn, "the value"));
                if (!text) fail(fn + ": invalid literal " + str_repr(v->as_str()));
                return make_leaf(PyValue(PyDecimal{std::move(*text)}));
            }
            case Callable::ordered_dict: {
                Node* od = make(NodeKind::ordered_dict);
                if (fresh) return od;
                if (args.size() > 1) fail(fn + " expected at most 1 argument");
                if (args.empty()) return od;
                const Node* src = args[0];
                if (src->kind == NodeKind::dict || src->kind == NodeKind::ordered_dict) {
                    *od->box = *src->box;
                    for (const DictSlot& slot : od->box->slots) ++slot.value->uses;
                    return od;
                }
                for (const Node* pair : iterable_arg(src, fn)) {
                    if ((pair->kind != NodeKind::tuple && pair->kind != NodeKind::list) || pair->box->items.size() != 2)
                        fail(fn + ": items must be pairs");
                    set_items(od, pair->box->items);
                }
                return od;
            }
            case Callable::set:
            case Callable::frozenset: {
                const NodeKind kind = c == Callable::set ? NodeKind::set : NodeKind::frozenset;
                if (args.size() > 1) fail(fn + " expected at most 1 argument");
                if (args.empty() || (fresh && c == Callable::set)) return make(kind);
                std::vector<Node*> items;
                for (Node* item : iterable_arg(args[0], fn)) {
                    check_hashable(item);
                    items.push_back(item);
                }
                return make_sequence(kind, std::move(items));  // counts the new references
            }
            case Callable::bytes:
            case Callable::bytearray: {
                const bool array = c == Callable::bytearray;
                if (args.empty() || (fresh && array))
                    return array ? make_leaf(PyValue(PyByteArray{})) : make_leaf(PyValue(PyBytes{}));
                const PyValue* v = leaf_of(args[0]);
                std::string data;
                if (args.size() == 1 && v && (v->holds<PyBytes>() || v->holds<PyByteArray>())) {
                    data = v->holds<PyBytes>() ? v->get<PyBytes>().data : v->get<PyByteArray>().data;
                } else if (args.size() == 2 && v && v->is_str() && is_latin1_name(str_arg(args[1], fn, "encoding"))) {
                    data = latin1_bytes(v->as_str(), fn)->leaf.get<PyBytes>().data;
                } else {
                    fail(fn + ": only bytes, or a str with the latin-1 encoding, are read");
                }
                return array ? make_leaf(PyValue(PyByteArray{std::move(data)})) : make_leaf(PyValue(PyBytes{std::move(data)}));
            }
            case Callable::codecs_encode: {
                if (args.size() != 2) fail(fn + ": takes a str and an encoding");
                const std::string& s = str_arg(args[0], fn, "the text");
                if (!is_latin1_name(str_arg(args[1], fn, "encoding")))
                    fail(fn + ": only the latin-1 encoding is read");
                return latin1_bytes(s, fn);
            }
            case Callable::getattr: {
                if (args.size() == 2 && args[0]->kind == NodeKind::global &&
                    args[0]->callable == Callable::zoneinfo && leaf_of(args[1]) && leaf_of(args[1])->is_str() &&
                    leaf_of(args[1])->as_str() == "_unpickle") {
                    Node* n = make(NodeKind::global);
                    n->callable = Callable::zoneinfo_unpickle;
                    n->leaf = PyValue("zoneinfo.ZoneInfo._unpickle");
                    return n;
                }
                // Anything else read through getattr is a global we do not know.
                std::string target = args.empty() ? "?" : args[0]->kind == NodeKind::global ? args[0]->leaf.as_str()
                                                                                             : kind_name(args[0]);
                if (args.size() == 2 && leaf_of(args[1]) && leaf_of(args[1])->is_str())
                    target += "." + leaf_of(args[1])->as_str();
                refuse(fn + "(" + target + ")");
            }
            case Callable::zoneinfo: {
                if (args.size() != 1) fail(fn + ": takes a key");
                return make_zoneinfo(str_arg(args[0], fn, "key"), true);
            }
            case Callable::zoneinfo_unpickle: {
                if (args.size() != 2) fail(fn + ": takes a key and from_cache");
                return make_zoneinfo(str_arg(args[0], fn, "key"), int_arg(args[1], fn, "from_cache") != 0);
            }
        }
        fail(fn + " is not callable");
    }

    // ---- text opcodes

    // FLOAT's argument as PyOS_string_to_double reads it.
    double parse_float(std::string_view text) {
        std::string_view s = text;
        bool negative = false;
        if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
            negative = s.front() == '-';
            s.remove_prefix(1);
        }
        double d = 0;
        if (s.empty() || s.front() == '+' || s.front() == '-') fail("could not convert string to float: " + quoted_bytes(text));
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (p != s.data() + s.size() || (ec != std::errc() && ec != std::errc::result_out_of_range))
            fail("could not convert string to float: " + quoted_bytes(text));
        if (ec == std::errc::result_out_of_range) {
            // Overflow is an error in Python; underflow gives 0.0.
            if (std::fabs(d) > 1.0) fail("float out of range: " + quoted_bytes(text));
        }
        return negative ? -d : d;
    }

    // STRING's argument: a quoted Python 2 str literal (PyBytes_DecodeEscape),
    // then decoded as ASCII as pickle.loads does by default.
    std::string decode_string_literal(std::string_view s) {
        if (s.size() < 2 || s.front() != s.back() || (s.front() != '\'' && s.front() != '"'))
            fail("the STRING opcode argument must be quoted");
        s = s.substr(1, s.size() - 2);
        std::string out;
        for (std::size_t i = 0; i < s.size(); ++i) {
            char c = s[i];
            if (c != '\\' || i + 1 == s.size()) {
                if (c == '\\') fail("Trailing \\ in string");
                out += c;
                continue;
            }
            c = s[++i];
            switch (c) {
                case '\n': break;
                case '\\': out += '\\'; break;
                case '\'': out += '\''; break;
                case '"': out += '"'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 't': out += '\t'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 'v': out += '\v'; break;
                case 'a': out += '\a'; break;
                case 'x': {
                    if (i + 2 >= s.size() || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0)
                        fail(fmt::format("invalid \\x escape at position {}", i - 1));
                    out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
                    i += 2;
                    break;
                }
                default:
                    if (c >= '0' && c <= '7') {
                        int v = c - '0';
                        for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k)
                            v = v * 8 + (s[++i] - '0');
                        out += static_cast<char>(v & 0xFF);
                    } else {
                        out += '\\';
                        out += c;
                    }
            }
        }
        return ascii_str(std::move(out));
    }

    // Python 2 str data (STRING / BINSTRING / SHORT_BINSTRING) decoded with
    // pickle.loads' default encoding, ASCII.
    std::string ascii_str(std::string s) {
        for (std::size_t i = 0; i < s.size(); ++i)
            if (static_cast<unsigned char>(s[i]) >= 0x80)
                fail(fmt::format("'ascii' codec can't decode byte 0x{:02x} in position {}: a Python 2 str read "
                                 "with pickle.loads' default encoding",
                                 static_cast<unsigned char>(s[i]), i));
        return s;
    }

    // UNICODE's argument: raw-unicode-escape (latin-1 bytes, \uXXXX, \UXXXXXXXX).
    std::string decode_raw_unicode_escape(std::string_view s) {
        std::string out;
        for (std::size_t i = 0; i < s.size();) {
            const auto c = static_cast<unsigned char>(s[i]);
            if (c == '\\' && i + 1 < s.size() && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
                const std::size_t n = s[i + 1] == 'u' ? 4 : 8;
                if (s.size() - i - 2 < n) fail(fmt::format("truncated \\{}XXXX escape", s[i + 1]));
                std::uint32_t cp = 0;
                for (std::size_t k = 0; k < n; ++k) {
                    const int h = hex_value(s[i + 2 + k]);
                    if (h < 0) fail(fmt::format("truncated \\{}XXXX escape", s[i + 1]));
                    cp = cp * 16 + static_cast<std::uint32_t>(h);
                }
                if (cp > 0x10FFFF) fail("\\Uxxxxxxxx out of range");
                append_code_point(out, cp);
                i += 2 + n;
            } else {
                append_code_point(out, c);
                ++i;
            }
        }
        return out;
    }

    std::string utf8_str(std::string_view data) {
        const auto bad = invalid_utf8_at(data);
        if (bad != std::string_view::npos)
            fail(fmt::format("'utf-8' codec can't decode byte 0x{:02x} in position {}",
                             static_cast<unsigned char>(data[bad]), bad));
        return std::string(data);
    }

    // ---- the loop

    // Runs one opcode; the result once STOP is reached.
    Node* step() {
        op_pos_ = pos_;
        if (pos_ >= end_) {
            if (end_ < data_.size())
                throw PickleError(fmt::format("pickle exceeds the limit of {} bytes", limits_.max_input_size));
            throw PickleError(pos_ == 0 ? std::string("bad pickle: empty input")
                                        : fmt::format("bad pickle: data was truncated (no STOP opcode in {} bytes)", pos_));
        }
        op_ = static_cast<unsigned char>(data_[pos_++]);
        switch (op_) {
            case op::PROTO: {
                const auto proto = static_cast<unsigned char>(take(1)[0]);
                if (proto > 5) fail(fmt::format("unsupported pickle protocol: {}", proto));
                break;
            }
            case op::FRAME: {
                const std::uint64_t n = take_le(8);
                if (n > end_ - pos_) fail_truncated(static_cast<std::size_t>(std::min<std::uint64_t>(n, SIZE_MAX)));
                break;
            }
            case op::STOP: return pop();
            case op::MARK:
                if (marks_.size() >= limits_.max_depth) fail(fmt::format("MARKs nested deeper than {}", limits_.max_depth));
                marks_.push_back(stack_.size());
                break;
            case op::POP:
                if (!marks_.empty() && marks_.back() == stack_.size()) marks_.pop_back();
                else pop();
                break;
            case op::POP_MARK: (void)pop_mark(); break;
            case op::DUP: push(top()); break;

            // ---- atoms
            case op::NONE: push(none_); break;
            case op::NEWTRUE: push(true_); break;
            case op::NEWFALSE: push(false_); break;
            case op::BININT1: push(make_leaf(PyValue(static_cast<std::int64_t>(take_le(1))))); break;
            case op::BININT2: push(make_leaf(PyValue(static_cast<std::int64_t>(take_le(2))))); break;
            case op::BININT: {
                const auto u = static_cast<std::uint32_t>(take_le(4));
                std::int32_t v;
                std::memcpy(&v, &u, sizeof v);
                push(make_leaf(PyValue(static_cast<std::int64_t>(v))));
                break;
            }
            case op::INT: {
                // C load_int: strtol, then "00"/"01" mean False/True.
                const std::string_view text = line();
                if (text.size() == 2 && (text == "00" || text == "01")) {
                    push(text == "01" ? true_ : false_);
                    break;
                }
                auto [digits, error] = parse_python_int(text);
                if (!error.empty()) fail("could not convert string to int: " + quoted_bytes(text));
                if (text.size() == 2 && (digits == "0" || digits == "1") && text.find_first_of("+-") == 0) {
                    push(digits == "1" ? true_ : false_);  // strtol reads "-0" / "+1" too
                    break;
                }
                push(make_leaf(int_from_decimal(digits)));
                break;
            }
            case op::LONG: {
                std::string_view text = line();
                if (!text.empty() && text.back() == 'L') text.remove_suffix(1);
                auto [digits, error] = parse_python_int(text);
                if (!error.empty()) fail(error);
                push(make_leaf(int_from_decimal(digits)));
                break;
            }
            case op::LONG1:
            case op::LONG4: {
                std::uint64_t n = take_le(op_ == op::LONG1 ? 1 : 4);
                if (op_ == op::LONG4 && (n & 0x80000000u)) fail("LONG pickle has negative byte count");
                if (n > limits_.max_int_bytes)
                    fail(fmt::format("an integer of {} bytes (the limit is {})", n, limits_.max_int_bytes));
                push(make_leaf(int_from_le_signed(take(static_cast<std::size_t>(n)))));
                break;
            }
            case op::FLOAT: push(make_leaf(PyValue(parse_float(line())))); break;
            case op::BINFLOAT: {
                const std::string_view b = take(8);
                std::uint64_t u = 0;
                for (char c : b) u = (u << 8) | static_cast<unsigned char>(c);
                double d;
                std::memcpy(&d, &u, sizeof d);
                push(make_leaf(PyValue(d)));
                break;
            }

            // ---- strings and bytes
            case op::STRING: push(make_str(decode_string_literal(line()))); break;
            case op::BINSTRING: {
                const std::uint64_t n = take_le(4);
                if (n & 0x80000000u) fail("BINSTRING pickle has negative byte count");
                if (n > end_ - pos_) fail_truncated(static_cast<std::size_t>(n));
                push(make_str(ascii_str(std::string(take(static_cast<std::size_t>(n))))));
                break;
            }
            case op::SHORT_BINSTRING: push(make_str(ascii_str(std::string(take(take_size(1)))))); break;
            case op::UNICODE: push(make_str(decode_raw_unicode_escape(line()))); break;
            case op::SHORT_BINUNICODE: push(make_str(utf8_str(take(take_size(1))))); break;
            case op::BINUNICODE: push(make_str(utf8_str(take(take_size(4))))); break;
            case op::BINUNICODE8: push(make_str(utf8_str(take(take_size(8))))); break;
            case op::SHORT_BINBYTES: push(make_leaf(PyValue(PyBytes{std::string(take(take_size(1)))}))); break;
            case op::BINBYTES: push(make_leaf(PyValue(PyBytes{std::string(take(take_size(4)))}))); break;
            case op::BINBYTES8: push(make_leaf(PyValue(PyBytes{std::string(take(take_size(8)))}))); break;
            case op::BYTEARRAY8: push(make_leaf(PyValue(PyByteArray{std::string(take(take_size(8)))}))); break;

            // ---- containers
            case op::EMPTY_LIST: push(make(NodeKind::list)); break;
            case op::EMPTY_DICT: push(make(NodeKind::dict)); break;
            case op::EMPTY_SET: push(make(NodeKind::set)); break;
            case op::EMPTY_TUPLE: push(make(NodeKind::tuple)); break;
            case op::LIST: push(make_sequence(NodeKind::list, pop_mark())); break;
            case op::TUPLE: push(make_sequence(NodeKind::tuple, pop_mark())); break;
            case op::TUPLE1:
            case op::TUPLE2:
            case op::TUPLE3: {
                const std::size_t n = static_cast<std::size_t>(op_ - op::TUPLE1) + 1;
                if (stack_.size() < fence() + n) underflow();
                std::vector<Node*> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
                stack_.resize(stack_.size() - n);
                push(make_sequence(NodeKind::tuple, std::move(items)));
                break;
            }
            case op::DICT: {
                std::vector<Node*> kv = pop_mark();
                if (kv.size() % 2) fail("odd number of items for DICT");
                Node* d = make(NodeKind::dict);
                set_items(d, kv);
                push(d);
                break;
            }
            case op::FROZENSET: {
                std::vector<Node*> items = pop_mark();
                for (const Node* item : items) check_hashable(item);
                push(make_sequence(NodeKind::frozenset, std::move(items)));
                break;
            }
            case op::APPEND: {
                Node* value = pop();
                append(top(), {value});
                break;
            }
            case op::APPENDS: {
                std::vector<Node*> items = pop_mark();
                append(top(), items);
                break;
            }
            case op::SETITEM: {
                Node* value = pop();
                Node* key = pop();
                set_items(top(), {key, value});
                break;
            }
            case op::SETITEMS: {
                std::vector<Node*> kv = pop_mark();
                set_items(top(), kv);
                break;
            }
            case op::ADDITEMS: {
                std::vector<Node*> items = pop_mark();
                add_items(top(), items);
                break;
            }

            // ---- memo
            case op::PUT: memo_put(text_index(line())); break;
            case op::BINPUT: memo_put(take_le(1)); break;
            case op::LONG_BINPUT: memo_put(take_le(4)); break;
            case op::MEMOIZE: memo_put(memo_count_); break;
            case op::GET: memo_get(text_index(line())); break;
            case op::BINGET: memo_get(take_le(1)); break;
            case op::LONG_BINGET: memo_get(take_le(4)); break;

            // ---- globals and object construction
            case op::GLOBAL: {
                const std::string module = utf8_str(line());
                const std::string name = utf8_str(line());
                push(global(module, name));
                break;
            }
            case op::STACK_GLOBAL: {
                Node* name = pop();
                Node* module = pop();
                const PyValue* m = leaf_of(module);
                const PyValue* n = leaf_of(name);
                if (!m || !n || !m->is_str() || !n->is_str()) fail("STACK_GLOBAL requires str");
                push(global(m->as_str(), n->as_str()));
                break;
            }
            case op::REDUCE: {
                Node* args = pop();
                Node* fn = top();
                if (args->kind != NodeKind::tuple) fail(fmt::format("REDUCE arguments must be a tuple, not {}", kind_name(args)));
                stack_.back() = apply(fn, args->box->items, false);
                break;
            }
            case op::NEWOBJ: {
                Node* args = pop();
                Node* cls = pop();
                if (args->kind != NodeKind::tuple) fail("NEWOBJ expected an arg tuple");
                push(apply(cls, args->box->items, true));
                break;
            }
            case op::NEWOBJ_EX: {
                Node* kwargs = pop();
                Node* args = pop();
                Node* cls = pop();
                if (args->kind != NodeKind::tuple) fail("NEWOBJ_EX args argument must be a tuple");
                if (kwargs->kind != NodeKind::dict) fail("NEWOBJ_EX kwargs argument must be a dict");
                if (!kwargs->box->slots.empty()) fail("NEWOBJ_EX with keyword arguments is not read");
                push(apply(cls, args->box->items, true));
                break;
            }
            case op::INST: {
                const std::string module = utf8_str(line());
                const std::string name = utf8_str(line());
                Node* cls = global(module, name);
                std::vector<Node*> args = pop_mark();
                push(apply(cls, args, false));
                break;
            }
            case op::OBJ: {
                std::vector<Node*> items = pop_mark();
                if (items.empty()) underflow();
                std::vector<Node*> args(items.begin() + 1, items.end());
                push(apply(items[0], args, false));
                break;
            }
            case op::BUILD: {
                Node* state = pop();
                Node* inst = top();
                const bool empty_state = (state->kind == NodeKind::leaf && state->leaf.is_none()) ||
                                         (state->kind == NodeKind::dict && state->box->slots.empty());
                if (!empty_state) fail(fmt::format("setting the state of a {} (BUILD) is not read", kind_name(inst)));
                break;
            }
            case op::EXT1:
            case op::EXT2:
            case op::EXT4: {
                const std::uint64_t code = take_le(op_ == op::EXT1 ? 1 : op_ == op::EXT2 ? 2 : 4);
                throw PickleRefusedError(fmt::format("extension code {}", code),
                                         fmt::format("refusing to unpickle extension code {} at byte {} (copyreg "
                                                     "extensions name globals; nothing was executed)",
                                                     code, op_pos_));
            }
            case op::PERSID:
            case op::BINPERSID: fail("persistent IDs are not supported");
            case op::NEXT_BUFFER:
            case op::READONLY_BUFFER: fail("out-of-band buffers are not supported");
            default: {
                op_pos_ = pos_ - 1;
                throw PickleError(fmt::format("bad pickle: invalid load key, '\\x{:02x}' at byte {}", op_, op_pos_));
            }
        }
        return nullptr;
    }

    // ---- graph -> PyValue

    void count_value(std::size_t bytes) {
        if (++values_out_ > limits_.max_values)
            throw PickleError(fmt::format("bad pickle: the value has more than {} parts (shared references are "
                                          "counted each time)",
                                          limits_.max_values));
        if (bytes > limits_.max_result_bytes - std::min(bytes_out_, limits_.max_result_bytes))
            throw PickleError(fmt::format("bad pickle: the value holds more than {} bytes of text (shared "
                                          "references are counted each time)",
                                          limits_.max_result_bytes));
        bytes_out_ += bytes;
    }

    // The value of a node. `shared`: some container on the way here is
    // reached more than once, so nothing below may be moved out.
    PyValue convert(Node* n, std::size_t depth, bool shared) {
        shared = shared || n->uses > 1;
        if (n->kind == NodeKind::leaf) {
            PyValue& v = n->leaf;
            std::size_t bytes = 0;
            if (v.is_str()) bytes = v.as_str().size();
            else if (v.is_bigint()) bytes = v.as_bigint().decimal.size();
            else if (v.holds<PyBytes>()) bytes = v.get<PyBytes>().data.size();
            else if (v.holds<PyByteArray>()) bytes = v.get<PyByteArray>().data.size();
            count_value(bytes);
            return shared ? v : std::move(v);
        }
        if (n->kind == NodeKind::global)
            throw PickleError("bad pickle: the pickle holds " + n->leaf.as_str() + " itself, which is not data");
        if (depth >= limits_.max_depth)
            throw PickleError(fmt::format("bad pickle: nesting deeper than {}", limits_.max_depth));
        if (n->converting)
            throw PickleError(fmt::format("bad pickle: a {} that contains itself cannot be represented", kind_name(n)));
        count_value(0);
        n->converting = true;
        PyValue out;
        const Container& box = *n->box;
        switch (n->kind) {
            case NodeKind::list:
            case NodeKind::tuple:
            case NodeKind::set:
            case NodeKind::frozenset: {
                PyList items;
                items.reserve(box.items.size());
                for (Node* item : box.items) items.push_back(convert(item, depth + 1, shared));
                if (n->kind == NodeKind::list) out = PyValue(std::move(items));
                else if (n->kind == NodeKind::tuple) out = PyValue(PyTuple{std::move(items)});
                else out = PyValue(PySet{std::move(items), n->kind == NodeKind::frozenset});
                break;
            }
            case NodeKind::dict:
            case NodeKind::ordered_dict: {
                PyDict dict;
                if (!box.nonstr_keys) {
                    // str keys are distinct already.
                    for (DictSlot& slot : n->box->slots) {
                        PyValue v = convert(slot.value, depth + 1, shared);
                        dict.append_absent(shared ? slot.key : std::move(slot.key), std::move(v));
                    }
                } else {
                    // Keys that differ in Python but not as JSON text (1 and
                    // "1") end as json.loads(json.dumps(d)) would leave them:
                    // the last value at the first position.
                    std::unordered_map<std::string_view, std::size_t> seen;
                    std::vector<std::pair<std::string, PyValue>> entries;
                    entries.reserve(box.slots.size());
                    for (const DictSlot& slot : box.slots) {
                        PyValue v = convert(slot.value, depth + 1, shared);
                        auto it = seen.find(slot.key);
                        if (it != seen.end()) {
                            entries[it->second].second = std::move(v);
                            continue;
                        }
                        seen.emplace(slot.key, entries.size());
                        entries.emplace_back(slot.key, std::move(v));
                    }
                    for (auto& [k, v] : entries) dict.append_absent(std::move(k), std::move(v));
                }
                if (n->kind == NodeKind::dict) out = PyValue(std::move(dict));
                else out = PyValue(PyOrderedDict{std::move(dict)});
                break;
            }
            case NodeKind::leaf:
            case NodeKind::global: break;
        }
        n->converting = false;
        return out;
    }
};

// ------------------------------------------------------------- pickler ----

struct TzMemoEntry {
    PyTzInfo tz;
    std::uint32_t index;
};

class Pickler {
public:
    std::string dump(const PyValue& value) {
        out_.assign("\x80\x05", 2);
        framing_ = true;
        save(value);
        write_op(op::STOP);
        commit_frame();
        return std::move(out_);
    }

private:
    std::string out_;
    bool framing_ = false;
    std::ptrdiff_t frame_start_ = -1;
    std::uint32_t memo_size_ = 0;
    // Keys view the value being written (or static names), which outlive the dump.
    std::unordered_map<std::string_view, std::uint32_t> str_memo_;  // str values, module names included
    std::map<std::string, std::uint32_t> global_memo_;           // "module\nname"
    std::map<std::string, std::uint32_t> bytes_memo_;  // b"" and 1-byte bytes (CPython singletons)
    std::vector<TzMemoEntry> tz_memo_;

    // ---- output buffer and framing (_Pickler_Write & co)

    void write(std::string_view s) {
        if (framing_ && frame_start_ < 0) {
            frame_start_ = static_cast<std::ptrdiff_t>(out_.size());
            out_.append(kFrameHeaderSize, '\xfe');
        }
        out_.append(s);
    }
    void write_op(unsigned char c) { write(std::string_view(reinterpret_cast<const char*>(&c), 1)); }
    void write_op_le(unsigned char c, std::uint64_t v, std::size_t n) {
        char buf[9];
        buf[0] = static_cast<char>(c);
        for (std::size_t i = 0; i < n; ++i) buf[1 + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
        write(std::string_view(buf, n + 1));
    }
    void commit_frame() {
        if (!framing_ || frame_start_ < 0) return;
        const auto start = static_cast<std::size_t>(frame_start_);
        const std::size_t len = out_.size() - start - kFrameHeaderSize;
        if (len >= kFrameSizeMin) {
            out_[start] = static_cast<char>(op::FRAME);
            for (std::size_t i = 0; i < 8; ++i) out_[start + 1 + i] = static_cast<char>((len >> (8 * i)) & 0xFF);
        } else {
            out_.erase(start, kFrameHeaderSize);
        }
        frame_start_ = -1;
    }
    // At the start of every save(): close the frame once it reached 64 KiB.
    void boundary() {
        if (!framing_ || frame_start_ < 0) return;
        if (out_.size() - static_cast<std::size_t>(frame_start_) - kFrameHeaderSize >= kFrameSizeTarget) commit_frame();
    }
    // A header and data that bypass the frame when the data is 64 KiB or more.
    void write_bytes(std::string_view header, std::string_view data) {
        const bool bypass = data.size() >= kFrameSizeTarget;
        const bool framing = framing_;
        if (bypass) {
            commit_frame();
            framing_ = false;
        }
        write(header);
        write(data);
        framing_ = framing;
    }
    std::uint32_t memo_put() {
        write_op(op::MEMOIZE);
        return memo_size_++;
    }
    void memo_get(std::uint32_t index) {
        if (index < 256) write_op_le(op::BINGET, index, 1);
        else write_op_le(op::LONG_BINGET, index, 4);
    }

    // ---- atoms

    void save_int(std::int64_t v) {
        if (v >= 0 && v <= 0xFF) {
            write_op_le(op::BININT1, static_cast<std::uint64_t>(v), 1);
        } else if (v >= 0 && v <= 0xFFFF) {
            write_op_le(op::BININT2, static_cast<std::uint64_t>(v), 2);
        } else if (v >= -0x80000000LL && v <= 0x7FFFFFFFLL) {
            write_op_le(op::BININT, static_cast<std::uint64_t>(v) & 0xFFFFFFFFu, 4);
        } else {
            const bool negative = v < 0;
            std::uint64_t mag = negative ? ~static_cast<std::uint64_t>(v) + 1 : static_cast<std::uint64_t>(v);
            std::vector<unsigned char> bytes;
            for (; mag; mag >>= 8) bytes.push_back(static_cast<unsigned char>(mag & 0xFF));
            save_long_bytes(encode_long(negative, std::move(bytes)));
        }
    }
    void save_bigint(const PyBigInt& big) {
        std::string_view d = big.decimal;
        const bool negative = !d.empty() && d.front() == '-';
        if (negative) d.remove_prefix(1);
        if (d.empty() || d.find_first_not_of("0123456789") != std::string_view::npos)
            throw PickleError("cannot pickle an integer written as " + quoted_bytes(big.decimal));
        PyValue small = int_from_decimal(big.decimal);
        if (small.is_int()) return save_int(small.as_int());
        std::vector<std::uint32_t> limbs = decimal_to_limbs(d);
        std::vector<unsigned char> bytes;
        for (std::uint32_t limb : limbs)
            for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<unsigned char>((limb >> (8 * k)) & 0xFF));
        save_long_bytes(encode_long(negative, std::move(bytes)));
    }
    void save_long_bytes(const std::string& bytes) {
        if (bytes.size() < 256) write_op_le(op::LONG1, bytes.size(), 1);
        else write_op_le(op::LONG4, bytes.size(), 4);
        write(bytes);
    }
    void save_float(double d) {
        std::uint64_t u;
        std::memcpy(&u, &d, sizeof u);
        char buf[9];
        buf[0] = static_cast<char>(op::BINFLOAT);
        for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>((u >> (8 * (7 - i))) & 0xFF);
        write(std::string_view(buf, 9));
    }

    // ---- str and bytes

    // save() of a str. `shared`: equal values are one object (see the header);
    // otherwise a fresh object every time.
    void save_str(std::string_view s, bool shared) {
        boundary();
        if (shared) {
            auto it = str_memo_.find(s);
            if (it != str_memo_.end()) return memo_get(it->second);
        }
        if (invalid_utf8_at(s) != std::string_view::npos)
            throw PickleError("cannot pickle a str that is not valid UTF-8: " + quoted_bytes(s));
        char header[9];
        std::size_t hlen;
        if (s.size() <= 0xFF) {
            header[0] = static_cast<char>(op::SHORT_BINUNICODE);
            header[1] = static_cast<char>(s.size());
            hlen = 2;
        } else if (s.size() > 0xFFFFFFFFu) {
            header[0] = static_cast<char>(op::BINUNICODE8);
            for (int i = 0; i < 8; ++i) header[1 + i] = static_cast<char>((static_cast<std::uint64_t>(s.size()) >> (8 * i)) & 0xFF);
            hlen = 9;
        } else {
            header[0] = static_cast<char>(op::BINUNICODE);
            for (int i = 0; i < 4; ++i) header[1 + i] = static_cast<char>((s.size() >> (8 * i)) & 0xFF);
            hlen = 5;
        }
        write_bytes(std::string_view(header, hlen), s);
        const std::uint32_t index = memo_put();
        if (shared) str_memo_.emplace(s, index);
    }

    void save_bytes(std::string_view data, bool array) {
        boundary();
        const bool singleton = !array && data.size() <= 1;
        if (singleton) {
            auto it = bytes_memo_.find(std::string(data));
            if (it != bytes_memo_.end()) return memo_get(it->second);
        }
        char header[9];
        std::size_t hlen;
        if (array) {
            header[0] = static_cast<char>(op::BYTEARRAY8);
            for (int i = 0; i < 8; ++i) header[1 + i] = static_cast<char>((static_cast<std::uint64_t>(data.size()) >> (8 * i)) & 0xFF);
            hlen = 9;
        } else if (data.size() <= 0xFF) {
            header[0] = static_cast<char>(op::SHORT_BINBYTES);
            header[1] = static_cast<char>(data.size());
            hlen = 2;
        } else if (data.size() > 0xFFFFFFFFu) {
            header[0] = static_cast<char>(op::BINBYTES8);
            for (int i = 0; i < 8; ++i) header[1 + i] = static_cast<char>((static_cast<std::uint64_t>(data.size()) >> (8 * i)) & 0xFF);
            hlen = 9;
        } else {
            header[0] = static_cast<char>(op::BINBYTES);
            for (int i = 0; i < 4; ++i) header[1 + i] = static_cast<char>((data.size() >> (8 * i)) & 0xFF);
            hlen = 5;
        }
        write_bytes(std::string_view(header, hlen), data);
        const std::uint32_t index = memo_put();
        if (singleton) bytes_memo_.emplace(std::string(data), index);
    }

    // ---- containers

    void batch_list(const PyList& items) {
        if (items.size() == 1) {
            save(items[0]);
            write_op(op::APPEND);
            return;
        }
        std::size_t total = 0;
        do {
            write_op(op::MARK);
            std::size_t batch = 0;
            while (total < items.size()) {
                save(items[total++]);
                if (++batch == kBatchSize) break;
            }
            write_op(op::APPENDS);
        } while (total < items.size());
    }

    // batch_dict_exact (a dict): one SETITEM for a single item, else batches,
    // with an empty trailing batch when the size is a multiple of 1000.
    void batch_dict_exact(const PyDict& dict) {
        const auto& entries = dict.entries();
        if (entries.size() == 1) {
            save_str(entries[0].key, true);
            save(entries[0].value);
            write_op(op::SETITEM);
            return;
        }
        std::size_t pos = 0;
        std::size_t batch = 0;
        do {
            batch = 0;
            write_op(op::MARK);
            while (pos < entries.size()) {
                save_str(entries[pos].key, true);
                save(entries[pos].value);
                ++pos;
                if (++batch == kBatchSize) break;
            }
            write_op(op::SETITEMS);
        } while (batch == kBatchSize);
    }

    // batch_dict over an items iterator (what save_reduce uses for an
    // OrderedDict): no trailing empty batch, SETITEM for a lone last item.
    void batch_dict_iter(const PyDict& dict) {
        const auto& entries = dict.entries();
        std::size_t pos = 0;
        while (pos < entries.size()) {
            if (entries.size() - pos == 1) {
                save_str(entries[pos].key, true);
                save(entries[pos].value);
                write_op(op::SETITEM);
                return;
            }
            write_op(op::MARK);
            std::size_t n = 0;
            while (pos < entries.size() && n < kBatchSize) {
                save_str(entries[pos].key, true);
                save(entries[pos].value);
                ++pos;
                ++n;
            }
            write_op(op::SETITEMS);
            if (n < kBatchSize) return;
        }
    }

    void save_tuple_items(const PyList& items) {
        boundary();
        if (items.empty()) {
            write_op(op::EMPTY_TUPLE);
            return;
        }
        if (items.size() <= 3) {
            for (const auto& item : items) save(item);
            write_op(static_cast<unsigned char>(op::TUPLE1 + items.size() - 1));
        } else {
            write_op(op::MARK);
            for (const auto& item : items) save(item);
            write_op(op::TUPLE);
        }
        memo_put();
    }

    void save_set(const PySet& set) {
        if (set.frozen) {
            write_op(op::MARK);
            for (const auto& item : set.items) save(item);
            write_op(op::FROZENSET);
            memo_put();
            return;
        }
        write_op(op::EMPTY_SET);
        memo_put();
        if (set.items.empty()) return;
        std::size_t pos = 0;
        std::size_t batch = 0;
        do {
            batch = 0;
            write_op(op::MARK);
            while (pos < set.items.size()) {
                save(set.items[pos++]);
                if (++batch == kBatchSize) break;
            }
            write_op(op::ADDITEMS);
        } while (batch == kBatchSize);
    }

    // ---- objects built by REDUCE

    // save_global for protocol >= 4: module and qualified name, STACK_GLOBAL,
    // memoized. Module names are the shared str objects; the qualified name
    // is a fresh one (as for CPython's C types).
    void save_global(std::string_view module, std::string_view name) {
        boundary();
        const std::string key = std::string(module) + "\n" + std::string(name);
        auto it = global_memo_.find(key);
        if (it != global_memo_.end()) return memo_get(it->second);
        save_str(module, true);
        save_str(name, false);
        write_op(op::STACK_GLOBAL);
        global_memo_.emplace(key, memo_put());
    }

    // An object pickled as REDUCE(callable, args); `args` writes the tuple's items.
    template <class Args>
    void save_reduce(std::string_view module, std::string_view name, std::size_t nargs, Args&& args) {
        save_global(module, name);
        boundary();  // save(argtup)
        if (nargs == 0) {
            write_op(op::EMPTY_TUPLE);
        } else {
            if (nargs > 3) write_op(op::MARK);
            args();
            write_op(nargs > 3 ? op::TUPLE : static_cast<unsigned char>(op::TUPLE1 + nargs - 1));
            memo_put();
        }
        write_op(op::REDUCE);
    }

    void save_timedelta(const PyTimeDelta& td) {
        boundary();
        save_reduce("datetime", "timedelta", 3, [&] {
            boundary();
            save_int(td.days);
            boundary();
            save_int(td.seconds);
            boundary();
            save_int(td.microseconds);
        });
        memo_put();
    }

    void save_tz(const PyTzInfo& tz) {
        boundary();
        for (const auto& e : tz_memo_)
            if (e.tz == tz) return memo_get(e.index);
        switch (tz.kind) {
            case PyTzInfo::Kind::fixed: {
                if (tz.utcoffset_us <= -kMicrosPerDay || tz.utcoffset_us >= kMicrosPerDay)
                    throw PickleError("cannot pickle a timezone offset of a day or more");
                save_reduce("datetime", "timezone", tz.has_name ? 2 : 1, [&] {
                    save_timedelta(timedelta_from_micros(tz.utcoffset_us));
                    if (tz.has_name) save_str(tz.name, false);
                });
                break;
            }
            case PyTzInfo::Kind::pytz_utc: save_reduce("pytz", "_UTC", 0, [] {}); break;
            case PyTzInfo::Kind::pytz_zone:
                save_reduce("pytz", "_p", tz.has_utcoffset ? 4 : 1, [&] {
                    save_str(tz.key, false);
                    if (!tz.has_utcoffset) return;
                    boundary();
                    save_int(floor_div(tz.utcoffset_us, kMicrosPerSecond));
                    boundary();
                    save_int(floor_div(tz.dst_us, kMicrosPerSecond));
                    save_str(tz.name, false);
                });
                break;
            case PyTzInfo::Kind::zoneinfo: throw std::logic_error("zoneinfo goes through save_zoneinfo");
        }
        tz_memo_.push_back(TzMemoEntry{tz, memo_put()});
    }

    void save_zoneinfo(const PyTzInfo& tz) {
        boundary();
        for (const auto& e : tz_memo_)
            if (e.tz == tz) return memo_get(e.index);
        // save(bound method): REDUCE(getattr, (ZoneInfo, "_unpickle")), memoized.
        boundary();
        save_reduce("builtins", "getattr", 2, [&] {
            save_global("zoneinfo", "ZoneInfo");
            save_str("_unpickle", false);  // a fresh str each time, as Python writes it
        });
        memo_put();
        boundary();  // save(args)
        save_str(tz.key, false);
        boundary();
        save_int(tz.zoneinfo_cached ? 1 : 0);
        write_op(op::TUPLE2);
        memo_put();
        write_op(op::REDUCE);
        tz_memo_.push_back(TzMemoEntry{tz, memo_put()});
    }

    void save_tzinfo(const PyTzInfoPtr& tz) {
        if (!tz) throw PickleError("cannot pickle a timezone without its data");
        if (tz->kind == PyTzInfo::Kind::zoneinfo) save_zoneinfo(*tz);
        else save_tz(*tz);
    }

    void save_datetime(const PyDateTime& d) {
        std::string state;
        std::string_view name;
        switch (d.kind) {
            case PyDateTime::Kind::datetime:
                name = "datetime";
                state = {static_cast<char>(d.year >> 8),
                         static_cast<char>(d.year & 0xFF),
                         static_cast<char>(d.month | (d.fold << 7)),
                         static_cast<char>(d.day),
                         static_cast<char>(d.hour),
                         static_cast<char>(d.minute),
                         static_cast<char>(d.second),
                         static_cast<char>((d.microsecond >> 16) & 0xFF),
                         static_cast<char>((d.microsecond >> 8) & 0xFF),
                         static_cast<char>(d.microsecond & 0xFF)};
                break;
            case PyDateTime::Kind::date:
                name = "date";
                state = {static_cast<char>(d.year >> 8), static_cast<char>(d.year & 0xFF), static_cast<char>(d.month),
                         static_cast<char>(d.day)};
                break;
            case PyDateTime::Kind::time:
                name = "time";
                state = {static_cast<char>(d.hour | (d.fold << 7)),
                         static_cast<char>(d.minute),
                         static_cast<char>(d.second),
                         static_cast<char>((d.microsecond >> 16) & 0xFF),
                         static_cast<char>((d.microsecond >> 8) & 0xFF),
                         static_cast<char>(d.microsecond & 0xFF)};
                break;
        }
        const bool aware = d.kind != PyDateTime::Kind::date && d.tzinfo;
        save_reduce("datetime", name, aware ? 2 : 1, [&] {
            save_bytes(state, false);
            if (aware) save_tzinfo(d.tzinfo);
        });
        memo_put();
    }

    // ---- dispatch

    void save(const PyValue& v) {
        boundary();
        std::visit(
            [&](const auto& x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, std::monostate>) write_op(op::NONE);
                else if constexpr (std::is_same_v<T, bool>) write_op(x ? op::NEWTRUE : op::NEWFALSE);
                else if constexpr (std::is_same_v<T, std::int64_t>) save_int(x);
                else if constexpr (std::is_same_v<T, PyBigInt>) save_bigint(x);
                else if constexpr (std::is_same_v<T, double>) save_float(x);
                else if constexpr (std::is_same_v<T, std::string>) save_str(x, true);
                else if constexpr (std::is_same_v<T, PyList>) {
                    write_op(op::EMPTY_LIST);
                    memo_put();
                    if (!x.empty()) batch_list(x);
                } else if constexpr (std::is_same_v<T, PyDict>) {
                    write_op(op::EMPTY_DICT);
                    memo_put();
                    if (!x.empty()) batch_dict_exact(x);
                } else if constexpr (std::is_same_v<T, PyTuple>) save_tuple_items(x.items);
                else if constexpr (std::is_same_v<T, PySet>) save_set(x);
                else if constexpr (std::is_same_v<T, PyBytes>) save_bytes(x.data, false);
                else if constexpr (std::is_same_v<T, PyByteArray>) save_bytes(x.data, true);
                else if constexpr (std::is_same_v<T, PyDecimal>) {
                    if (!decimal_canonical(x.text)) throw PickleError("cannot pickle Decimal " + quoted_bytes(x.text));
                    save_reduce("decimal", "Decimal", 1, [&] { save_str(x.text, false); });
                    memo_put();
                } else if constexpr (std::is_same_v<T, PyDateTime>) save_datetime(x);
                else if constexpr (std::is_same_v<T, PyTimeDelta>) save_timedelta(x);
                else if constexpr (std::is_same_v<T, PyTimezone>) save_tzinfo(x.info);
                else if constexpr (std::is_same_v<T, PyOrderedDict>) {
                    save_reduce("collections", "OrderedDict", 0, [] {});
                    memo_put();
                    batch_dict_iter(x.dict);
                }
            },
            v.variant());
    }
};

// ------------------------------------------------------------------ repr ----

bool py_printable(std::uint32_t c) {
    if (c < 0x20 || c == 0x7F) return false;
    if (c < 0x7F) return true;
    if (c <= 0xA0 || c == 0xAD) return false;
    if (c >= 0xD800 && c <= 0xDFFF) return false;  // surrogates
    if (c == 0x034F || c == 0x061C || c == 0x1680 || c == 0x180E || c == 0x3000 || c == 0xFEFF) return false;
    if ((c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) || (c >= 0x205F && c <= 0x206F)) return false;
    if (c >= 0xE000 && c <= 0xF8FF) return false;  // private use
    if ((c >= 0xFFF9 && c <= 0xFFFB) || (c & 0xFFFE) == 0xFFFE) return false;
    if ((c >= 0xE0000 && c <= 0xE0FFF) || c >= 0xF0000) return false;  // tags, private use planes
    return c <= 0x10FFFF;
}

std::string str_repr(std::string_view s) {
    const bool has_single = s.find('\'') != std::string_view::npos;
    const bool has_double = s.find('"') != std::string_view::npos;
    const char quote = has_single && !has_double ? '"' : '\'';
    std::string out(1, quote);
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t start = i;
        const std::uint32_t cp = next_code_point(s, i);
        if (cp == static_cast<std::uint32_t>(quote) || cp == '\\') {
            out += '\\';
            out += static_cast<char>(cp);
        } else if (cp == '\t') out += "\\t";
        else if (cp == '\n') out += "\\n";
        else if (cp == '\r') out += "\\r";
        else if (cp >= 0x110000) out += fmt::format("\\x{:02x}", cp - 0x110000);
        else if (py_printable(cp)) out.append(s.substr(start, i - start));
        else if (cp < 0x100) out += fmt::format("\\x{:02x}", cp);
        else if (cp < 0x10000) out += fmt::format("\\u{:04x}", cp);
        else out += fmt::format("\\U{:08x}", cp);
    }
    out += quote;
    return out;
}

std::string bytes_repr(std::string_view s) {
    const bool has_single = s.find('\'') != std::string_view::npos;
    const bool has_double = s.find('"') != std::string_view::npos;
    const char quote = has_single && !has_double ? '"' : '\'';
    std::string out = "b";
    out += quote;
    for (unsigned char c : s) {
        if (c == static_cast<unsigned char>(quote) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\t') out += "\\t";
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c < 0x20 || c >= 0x7F) out += fmt::format("\\x{:02x}", c);
        else out += static_cast<char>(c);
    }
    out += quote;
    return out;
}

void repr_into(std::string& out, const PyValue& value);

void repr_items(std::string& out, const PyList& items) {
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        repr_into(out, items[i]);
    }
}

void repr_dict(std::string& out, const PyDict& dict) {
    out += '{';
    bool first = true;
    for (const auto& e : dict) {
        if (!first) out += ", ";
        first = false;
        out += str_repr(e.key);
        out += ": ";
        repr_into(out, e.value);
    }
    out += '}';
}

std::string datetime_repr(const PyDateTime& d) {
    std::string out;
    switch (d.kind) {
        case PyDateTime::Kind::date: return fmt::format("datetime.date({}, {}, {})", d.year, d.month, d.day);
        case PyDateTime::Kind::datetime:
            out = fmt::format("datetime.datetime({}, {}, {}, {}, {}", d.year, d.month, d.day, d.hour, d.minute);
            break;
        case PyDateTime::Kind::time: out = fmt::format("datetime.time({}, {}", d.hour, d.minute); break;
    }
    if (d.second || d.microsecond) out += fmt::format(", {}", d.second);
    if (d.microsecond) out += fmt::format(", {}", d.microsecond);
    // datetime writes fold before tzinfo, time after it.
    if (d.fold && d.kind == PyDateTime::Kind::datetime) out += ", fold=1";
    if (d.tzinfo) out += ", tzinfo=" + tzinfo_repr(*d.tzinfo);
    if (d.fold && d.kind == PyDateTime::Kind::time) out += ", fold=1";
    return out + ")";
}

void repr_into(std::string& out, const PyValue& value) {
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>) out += "None";
            else if constexpr (std::is_same_v<T, bool>) out += x ? "True" : "False";
            else if constexpr (std::is_same_v<T, std::int64_t>) out += std::to_string(x);
            else if constexpr (std::is_same_v<T, PyBigInt>) out += x.decimal;
            else if constexpr (std::is_same_v<T, double>) out += python_float_repr(x);
            else if constexpr (std::is_same_v<T, std::string>) out += str_repr(x);
            else if constexpr (std::is_same_v<T, PyList>) {
                out += '[';
                repr_items(out, x);
                out += ']';
            } else if constexpr (std::is_same_v<T, PyDict>) repr_dict(out, x);
            else if constexpr (std::is_same_v<T, PyTuple>) {
                out += '(';
                repr_items(out, x.items);
                if (x.items.size() == 1) out += ',';
                out += ')';
            } else if constexpr (std::is_same_v<T, PySet>) {
                if (x.items.empty()) {
                    out += x.frozen ? "frozenset()" : "set()";
                    return;
                }
                if (x.frozen) out += "frozenset(";
                out += '{';
                repr_items(out, x.items);
                out += '}';
                if (x.frozen) out += ')';
            } else if constexpr (std::is_same_v<T, PyBytes>) out += bytes_repr(x.data);
            else if constexpr (std::is_same_v<T, PyByteArray>) out += "bytearray(" + bytes_repr(x.data) + ")";
            else if constexpr (std::is_same_v<T, PyDecimal>) out += "Decimal('" + x.text + "')";
            else if constexpr (std::is_same_v<T, PyDateTime>) out += datetime_repr(x);
            else if constexpr (std::is_same_v<T, PyTimeDelta>) out += timedelta_repr(x);
            else if constexpr (std::is_same_v<T, PyTimezone>) out += tzinfo_repr(*x.info);
            else if constexpr (std::is_same_v<T, PyOrderedDict>) {
                if (x.dict.empty()) {
                    out += "OrderedDict()";
                    return;
                }
                out += "OrderedDict(";
                repr_dict(out, x.dict);
                out += ')';
            }
        },
        value.variant());
}

}  // namespace

// ---------------------------------------------------------------- public ----

PickleLoadResult pickle_load_prefix(std::string_view bytes, const PickleLimits& limits) {
    return Unpickler(bytes, limits).run();
}

PyValue pickle_loads(std::string_view bytes, const PickleLimits& limits) {
    if (bytes.size() > limits.max_input_size)
        throw PickleError(fmt::format("pickle of {} bytes exceeds the limit of {} bytes", bytes.size(), limits.max_input_size));
    return Unpickler(bytes, limits).run().value;
}

std::string pickle_dumps(const PyValue& value) { return Pickler().dump(value); }

std::string python_repr(const PyValue& value) {
    std::string out;
    repr_into(out, value);
    return out;
}

std::string python_str(const PyTimeDelta& td) {
    std::string out;
    if (td.days) out = fmt::format("{} day{}, ", td.days, td.days == 1 || td.days == -1 ? "" : "s");
    out += fmt::format("{}:{:02d}:{:02d}", td.seconds / 3600, td.seconds / 60 % 60, td.seconds % 60);
    if (td.microseconds) out += fmt::format(".{:06d}", td.microseconds);
    return out;
}

std::string python_tzname(const PyTzInfo& tz) {
    switch (tz.kind) {
        case PyTzInfo::Kind::fixed:
            if (tz.has_name) return tz.name;
            return tz.utcoffset_us == 0 ? "UTC" : "UTC" + format_offset(tz.utcoffset_us);
        case PyTzInfo::Kind::pytz_utc: return "UTC";
        case PyTzInfo::Kind::pytz_zone:
        case PyTzInfo::Kind::zoneinfo: return tz.key;
    }
    return "";
}

std::string python_isoformat(const PyDateTime& d) {
    std::string out;
    if (d.kind != PyDateTime::Kind::time) out = fmt::format("{:04d}-{:02d}-{:02d}", d.year, d.month, d.day);
    if (d.kind == PyDateTime::Kind::date) return out;
    if (d.kind == PyDateTime::Kind::datetime) out += 'T';
    out += fmt::format("{:02d}:{:02d}:{:02d}", d.hour, d.minute, d.second);
    if (d.microsecond) out += fmt::format(".{:06d}", d.microsecond);
    if (d.tzinfo) {
        const PyTzInfo& tz = *d.tzinfo;
        if (tz.kind == PyTzInfo::Kind::pytz_utc) out += "+00:00";
        else if (tz.has_utcoffset) out += format_offset(tz.utcoffset_us);
        else out += "[" + tz.key + "]";
    }
    return out;
}

std::optional<DateTime> to_core_datetime(const PyDateTime& d) {
    if (d.kind != PyDateTime::Kind::datetime) return std::nullopt;
    DateTime out;
    out.wall_micros = days_from_civil(d.year, d.month, d.day) * kMicrosPerDay +
                      (std::int64_t{d.hour} * 3600 + std::int64_t{d.minute} * 60 + d.second) * kMicrosPerSecond +
                      d.microsecond;
    if (d.tzinfo) {
        const PyTzInfo& tz = *d.tzinfo;
        std::int64_t off = 0;
        if (tz.kind != PyTzInfo::Kind::pytz_utc) {
            if (!tz.has_utcoffset) return std::nullopt;
            off = tz.utcoffset_us;
        }
        if (off % kMicrosPerSecond) return std::nullopt;
        out.utc_offset = static_cast<std::int32_t>(off / kMicrosPerSecond);
    }
    return out;
}

}  // namespace sessionctl
