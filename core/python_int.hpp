#pragma once

// Python ints in the two forms a pickle carries them: decimal text (the INT
// and LONG opcodes, read with int()'s rules) and little-endian two's
// complement (LONG1 and LONG4). As a PyValue, an int is an int64 when it
// fits and a PyBigInt (its canonical decimal) otherwise. Internal to the
// pickle codec.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/pyvalue.hpp"

namespace sessionctl::pickle {

constexpr std::size_t kMaxIntStrDigits = 4300;  // sys.int_info.default_max_str_digits

// Canonical decimal text ("-" then digits without leading zeros, "0") as a
// PyValue: int64 when it fits, PyBigInt otherwise.
[[nodiscard]] PyValue int_from_decimal(std::string digits_with_sign);

// Decimal digits (no sign) as a little-endian base-2^32 magnitude.
[[nodiscard]] std::vector<std::uint32_t> decimal_to_limbs(std::string_view digits);

// A LONG1/LONG4 payload (little-endian two's complement) as a Python int.
[[nodiscard]] PyValue int_from_le_signed(std::string_view bytes);

// int(text) for base 10 as PyLong_FromString reads it: surrounding whitespace,
// one sign, digits with single underscores between them. The canonical
// decimal, or an error message.
[[nodiscard]] std::pair<std::string, std::string> parse_python_int(std::string_view text);

// pickle's encode_long for a sign and magnitude (little-endian bytes): the
// shortest two's complement that round-trips, as the C pickler computes it.
[[nodiscard]] std::string encode_long(bool negative, std::vector<unsigned char> mag);

}  // namespace sessionctl::pickle
