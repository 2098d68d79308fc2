#include "util/utf8.hpp"

#include <cstring>

namespace sessionctl {

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

std::uint32_t next_code_point(std::string_view s, std::size_t& i) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const unsigned char c = p[i];
    if (c < 0x80) {
        ++i;
        return c;
    }
    std::uint32_t cp = 0;
    const std::size_t len = utf8_sequence(p + i, p + s.size(), cp);
    if (len == 0) {
        ++i;
        return 0x110000u + c;
    }
    i += len;
    return cp;
}

}  // namespace sessionctl
