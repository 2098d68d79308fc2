#pragma once

// One UTF-8 sequence, as Python's codecs read it with "surrogatepass": the
// 3-byte encodings of U+D800..U+DFFF (lone surrogates, which Django's JSON
// and pickles can carry) are accepted; overlong forms, bad continuation
// bytes and anything beyond U+10FFFF are not. Shared by the JSON and pickle
// codecs, which must agree on what a valid string is.

#include <cstddef>
#include <cstdint>

namespace sessionctl {

// The length (2..4) of the multi-byte sequence at `p` (whose first byte is
// 0x80 or above) and its code point in `cp`; 0 if it is not a valid sequence
// or runs past `end`.
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

}  // namespace sessionctl
