#pragma once

// Python's repr() of the values a pickle holds, as CPython 3.12 writes it
// (python_repr in core/pickle_codec.hpp), and the two pieces of it that the
// reader and writer use in their messages. Internal to the pickle codec.

#include <cstddef>
#include <string>
#include <string_view>

namespace sessionctl::pickle {

// repr(s) of a str held as UTF-8 (WTF-8 for lone surrogates): quotes as Python
// picks them, non-printable characters escaped, so that text from a pickle
// cannot drive a terminal; bytes that are not UTF-8 are shown as \xNN.
[[nodiscard]] std::string str_repr(std::string_view s);

// A byte string shown the way Python shows one inside a message: 'abc\x00',
// cut after `max` bytes with "...".
[[nodiscard]] std::string quoted_bytes(std::string_view s, std::size_t max = 60);

}  // namespace sessionctl::pickle
