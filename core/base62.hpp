#pragma once

// django.utils.baseconv.base62 / signing.b62_encode: the signing timestamp.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sessionctl {

class Base62Error : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

[[nodiscard]] std::string b62_encode(std::int64_t value);

// signing.b62_decode: an optional leading "-" ("-" alone is 0, as in Django);
// throws Base62Error on an empty string, a character outside 0-9A-Za-z, or a
// value beyond int64.
[[nodiscard]] std::int64_t b62_decode(std::string_view text);

}  // namespace sessionctl
