#pragma once

// UTF-8 as Python's codecs read and write it, in one place, so that the JSON
// and pickle codecs, the memcached key rules and the terminal output agree on
// what a valid string is.
//
// Two readings exist because Python has two:
//   - "surrogatepass" (utf8_sequence): the 3-byte encodings of U+D800..U+DFFF
//     (lone surrogates, which Django's JSON and pickles can carry: WTF-8) are
//     accepted. What the codecs use for session data.
//   - "strict" (utf8_sequence_strict): surrogates are refused too, as
//     str.encode()/bytes.decode() do by default. What a memcached key or a
//     terminal may hold.
// Both refuse overlong forms, bad continuation bytes and anything beyond
// U+10FFFF.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sessionctl {

// The length (2..4) of the multi-byte sequence at `p` (whose first byte is
// 0x80 or above) and its code point in `cp`; 0 if it is not a valid sequence
// or runs past `end`. Surrogates are accepted ("surrogatepass").
inline std::size_t utf8_sequence(const unsigned char* p, const unsigned char* end, std::uint32_t& cp) {
    const unsigned char c = *p;
    std::size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (static_cast<std::size_t>(end - p) < len) return 0;
    for (std::size_t i = 1; i < len; ++i) {
        if ((p[i] & 0xC0u) != 0x80u) return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;  // overlong, too big
    return len;
}

// utf8_sequence without surrogates ("strict"): 0 for U+D800..U+DFFF as well.
inline std::size_t utf8_sequence_strict(const unsigned char* p, const unsigned char* end, std::uint32_t& cp) {
    const std::size_t len = utf8_sequence(p, end, cp);
    if (len != 0 && cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return len;
}

// Appends the UTF-8 of a code point up to U+10FFFF; surrogates get their
// 3-byte form (WTF-8, "surrogatepass"), as Python writes a str that holds one.
inline void append_code_point(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        const char b[2] = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
        out.append(b, 2);
    } else if (cp < 0x10000) {
        const char b[3] = {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                           static_cast<char>(0x80 | (cp & 0x3F))};
        out.append(b, 3);
    } else {
        const char b[4] = {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
                           static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
        out.append(b, 4);
    }
}

// Offset of the first byte that does not start a valid UTF-8 sequence
// ("surrogatepass"); npos when all of `s` is valid. ASCII runs are skipped
// eight bytes at a time: most session text is ASCII.
[[nodiscard]] std::size_t invalid_utf8_at(std::string_view s);

// The code point at s[i], advancing i past it ("surrogatepass": a lone
// surrogate comes back as itself). A byte that does not start a valid
// sequence comes back as 0x110000 + byte, i advanced by one, so that a caller
// can show it as Python's repr shows undecodable bytes (\xNN).
[[nodiscard]] std::uint32_t next_code_point(std::string_view s, std::size_t& i);

}  // namespace sessionctl
