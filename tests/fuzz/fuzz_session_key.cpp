// Fuzz target: session key validation, the guard in front of file names and
// cache keys (CVE-2011-0698: path traversal through a session key). Neither
// function throws. Invariants: a key that passes has_only_valid_key_chars
// holds nothing a path or a cache key could be steered with ('/', '.', '\',
// NUL, whitespace, uppercase, non-ASCII); is_valid_session_key counts UTF-8
// code points (at least 8) and never accepts the empty key.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/session_key.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sessionctl;
    const std::string_view key(reinterpret_cast<const char*>(data), size);

    const bool valid = is_valid_session_key(key);
    if (valid) FUZZ_CHECK(key.size() >= 8);
    if (key.size() < 8) FUZZ_CHECK(!valid);

    if (has_only_valid_key_chars(key)) {
        for (char c : key) {
            FUZZ_CHECK(c != '/' && c != '.' && c != '\\' && c != '\0');
            FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
        }
        // An ASCII key: bytes are code points.
        FUZZ_CHECK(valid == (key.size() >= 8));
    }
    return 0;
}
