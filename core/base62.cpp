#include "core/base62.hpp"

#include <algorithm>
#include <limits>

namespace sessionctl {
namespace {
constexpr std::string_view kDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
}

std::string b62_encode(std::int64_t value) {
    if (value == 0) return "0";
    bool negative = value < 0;
    // Work in unsigned so INT64_MIN does not overflow.
    std::uint64_t n = negative ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
    std::string out;
    while (n > 0) {
        out += kDigits[n % 62];
        n /= 62;
    }
    if (negative) out += '-';
    std::reverse(out.begin(), out.end());
    return out;
}

std::int64_t b62_decode(std::string_view text) {
    if (text.empty()) throw Base62Error("empty base62 number");
    bool negative = text.front() == '-';
    if (negative) text.remove_prefix(1);  // Django decodes a lone "-" as 0
    std::uint64_t n = 0;
    const std::uint64_t limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    for (char c : text) {
        auto pos = kDigits.find(c);
        if (pos == std::string_view::npos) throw Base62Error("invalid base62 digit");
        if (n > (limit - pos) / 62) throw Base62Error("base62 number out of range");
        n = n * 62 + pos;
    }
    return negative ? -static_cast<std::int64_t>(n) : static_cast<std::int64_t>(n);
}

}  // namespace sessionctl
