#pragma once

// Helpers shared by the json_codec tests (test_json_codec.cpp,
// test_json_document.cpp).

#include <string>
#include <string_view>

#include "core/json_codec.hpp"

namespace sessionctl::json_test {

// The message of the JsonDecodeError json_loads_latin1 throws, or "" if none.
inline std::string decode_error(std::string_view text, const JsonLimits& limits = {}) {
    try {
        (void)json_loads_latin1(text, limits);
    } catch (const JsonDecodeError& e) {
        return e.what();
    }
    return "";
}

inline std::string repeat(std::string_view s, std::size_t n) {
    std::string out;
    out.reserve(s.size() * n);
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

}  // namespace sessionctl::json_test
