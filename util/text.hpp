#pragma once

// Small text helpers that several layers need with exactly the same meaning:
// hex digits, Python's len() and slicing of a str held as UTF-8, and counts
// of things in messages.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sessionctl {

// The value of one hex digit (0-9, a-f, A-F), or -1 for any other character.
// For \xNN, \uXXXX and %NN escapes.
[[nodiscard]] constexpr int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// `text` without leading and trailing ASCII white space (space, \t, \n, \r,
// \v, \f: C's isspace), as int() and Decimal() ignore it around a number.
[[nodiscard]] std::string_view trim_ascii_space(std::string_view text);

// len(text) in Python for a str held as UTF-8: the number of code points,
// counted as the bytes that are not continuation bytes (10xxxxxx). The text
// is not validated; callers that need valid UTF-8 check it apart
// (util/utf8.hpp).
[[nodiscard]] std::size_t code_point_count(std::string_view text);

// text[:count] in Python for a str held as UTF-8: the longest prefix holding
// `count` code points (all of `text` if it holds fewer), never cutting a
// multi-byte sequence.
[[nodiscard]] std::string_view first_code_points(std::string_view text, std::size_t count);

// "1 session", "0 sessions", "3 expired sessions": a count and a noun made
// plural with an "s" unless the count is 1.
[[nodiscard]] std::string count_of(std::uint64_t n, std::string_view noun);

}  // namespace sessionctl
