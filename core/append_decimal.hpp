#pragma once

// An integer's decimal digits appended to a string, with no temporary string
// (std::to_string allocates one): the JSON lines of a scan and the Redis
// commands of a SCAN batch are built in one buffer each.

#include <charconv>
#include <concepts>
#include <string>

namespace sessionctl {

template <std::integral Integer>
void append_decimal(std::string& out, Integer value) {
    char digits[24];  // 20 digits and a sign hold any 64-bit value
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    (void)ec;  // cannot fail: the buffer holds every value of Integer
    out.append(digits, end);
}

}  // namespace sessionctl
