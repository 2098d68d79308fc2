#pragma once

// Python's json module, byte for byte, as Django's JSONSerializer uses it:
//   dumps: json.dumps(obj, separators=(",", ":")) then .encode("latin-1")
//   loads: json.loads(data.decode("latin-1"))

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/pyvalue.hpp"

namespace sessionctl {

// json.loads failed (Python's JSONDecodeError / RecursionError).
class JsonDecodeError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// json.dumps would raise (Python's TypeError / ValueError), e.g. a string that
// is not valid WTF-8.
class JsonEncodeError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct JsonLimits {
    // Above what Django can store: json.loads/dumps on Python 3.11 raise
    // RecursionError near 990 levels (3.12's C recursion limit is 1500), so no
    // session Django wrote and can read is refused. Deeper input is refused
    // before the recursive parser could exhaust the stack.
    std::size_t max_depth = 2048;
};

enum class JsonSeparators {
    compact,         // separators=(",", ":"), as Django's JSONSerializer
    python_default,  // json.dumps' own (", ", ": "), as django-redis's JSONSerializer
};

// The exact ASCII bytes of json.dumps(value, separators=...) with
// ensure_ascii=True.
[[nodiscard]] std::string json_dumps(const PyValue& value, JsonSeparators separators = JsonSeparators::compact);

// json.loads(bytes.decode("latin-1")): every input byte is one code point
// (U+0000..U+00FF), so raw UTF-8 reads as mojibake exactly as in Django.
// Any JSON value is accepted at the top level.
[[nodiscard]] PyValue json_loads_latin1(std::string_view bytes, const JsonLimits& limits = {});

// json.loads(bytes.decode()): the bytes must be UTF-8 (strict: encoded
// surrogates are refused, as bytes.decode() refuses them); non-ASCII text
// reads as the characters it encodes.
[[nodiscard]] PyValue json_loads_utf8(std::string_view bytes, const JsonLimits& limits = {});

// Python's repr() of a float: shortest round-trip digits, "1e+16", "1.5e-07",
// "1000000000000000.0", "-0.0", "nan", "inf", "-inf".
[[nodiscard]] std::string python_float_repr(double value);

}  // namespace sessionctl
