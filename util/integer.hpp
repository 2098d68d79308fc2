#pragma once

// Integer helpers with Python's semantics, where C++'s differ.

#include <cstdint>

namespace sessionctl {

// a // b as Python computes it: the quotient rounded toward negative infinity
// (C++'s / truncates toward zero). Splitting a negative count of microseconds
// into days, seconds and microseconds needs it: -1 us is day -1, 86399.999999 s.
[[nodiscard]] constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

}  // namespace sessionctl
