// Unit tests of util/, the lowest layer: hex digits, Python's len() and
// slicing on UTF-8, counts in messages, floor division and the two UTF-8
// readings (surrogatepass and strict). Expected values are what CPython 3.11
// gives for the same operation.

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "util/integer.hpp"
#include "util/text.hpp"
#include "util/utf8.hpp"

using namespace sessionctl;
using namespace std::string_literals;

namespace {

// utf8_sequence / utf8_sequence_strict over a whole string: the length, and
// the code point when the length is not 0.
struct Decoded {
    std::size_t length;
    std::uint32_t cp;
};
Decoded decode(std::string_view s, bool strict = false) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    std::uint32_t cp = 0;
    const std::size_t n = strict ? utf8_sequence_strict(p, p + s.size(), cp) : utf8_sequence(p, p + s.size(), cp);
    return {n, n ? cp : 0};
}

std::string encoded(std::uint32_t cp) {
    std::string out;
    append_code_point(out, cp);
    return out;
}

}  // namespace

TEST_CASE("hex_value: int(c, 16) for one character, -1 otherwise", "[util][text]") {
    CHECK(hex_value('0') == 0);
    CHECK(hex_value('9') == 9);
    CHECK(hex_value('a') == 10);
    CHECK(hex_value('f') == 15);
    CHECK(hex_value('A') == 10);
    CHECK(hex_value('F') == 15);
    for (char c : "/:@G`gxX \0"s) CHECK(hex_value(c) == -1);
    static_assert(hex_value('c') == 12);  // usable in constant expressions
}

TEST_CASE("floor_div rounds toward negative infinity as Python's //", "[util][integer]") {
    CHECK(floor_div(7, 2) == 3);
    CHECK(floor_div(-7, 2) == -4);
    CHECK(floor_div(7, -2) == -4);
    CHECK(floor_div(-7, -2) == 3);
    CHECK(floor_div(-6, 3) == -2);
    CHECK(floor_div(0, 5) == 0);
    CHECK(floor_div(-1, 86'400'000'000) == -1);  // -1 us is on day -1
    static_assert(floor_div(-1, 1'000'000) == -1);
}

TEST_CASE("code_point_count and first_code_points: len(s) and s[:n] on UTF-8", "[util][text]") {
    CHECK(code_point_count("") == 0);
    CHECK(code_point_count("abc") == 3);
    CHECK(code_point_count("\xC3\xA9") == 1);                  // é
    CHECK(code_point_count("\xE6\x97\xA5\xE6\x9C\xAC") == 2);  // 日本
    CHECK(code_point_count("\xF0\x9F\x98\x80") == 1);          // U+1F600
    CHECK(code_point_count("a\xED\xA0\x80") == 2);             // a lone surrogate counts as one
    CHECK(first_code_points("h\xC3\xA9llo", 2) == "h\xC3\xA9");
    CHECK(first_code_points("h\xC3\xA9llo", 0).empty());
    CHECK(first_code_points("ab", 5) == "ab");
    CHECK(first_code_points("\xF0\x9F\x98\x80x", 1) == "\xF0\x9F\x98\x80");
    CHECK(first_code_points("", 3).empty());
}

TEST_CASE("count_of: a count and a noun, plural unless 1", "[util][text]") {
    CHECK(count_of(1, "session") == "1 session");
    CHECK(count_of(0, "session") == "0 sessions");
    CHECK(count_of(2, "expired session") == "2 expired sessions");
    CHECK(count_of(18'446'744'073'709'551'615ULL, "byte") == "18446744073709551615 bytes");
}

TEST_CASE("trim_ascii_space strips C's isspace characters only", "[util][text]") {
    CHECK(trim_ascii_space(" \t\n\r\v\f12 \n") == "12");
    CHECK(trim_ascii_space("  ").empty());
    CHECK(trim_ascii_space("1 2") == "1 2");
    CHECK(trim_ascii_space("1\xC2\xA0") == "1\xC2\xA0");  // U+00A0 is not ASCII space
}

TEST_CASE("utf8_sequence reads surrogatepass UTF-8, utf8_sequence_strict strict", "[util][utf8]") {
    CHECK(decode("\xC3\xA9").length == 2);
    CHECK(decode("\xC3\xA9").cp == 0xE9);
    CHECK(decode("\xE6\x97\xA5").cp == 0x65E5);
    CHECK(decode("\xF0\x9F\x98\x80").length == 4);
    CHECK(decode("\xF0\x9F\x98\x80").cp == 0x1F600);
    CHECK(decode("\xF4\x8F\xBF\xBF").cp == 0x10FFFF);
    // Lone surrogates: accepted with surrogatepass, refused by strict.
    CHECK(decode("\xED\xA0\x80").length == 3);
    CHECK(decode("\xED\xA0\x80").cp == 0xD800);
    CHECK(decode("\xED\xBF\xBF").cp == 0xDFFF);
    CHECK(decode("\xED\xA0\x80", true).length == 0);
    CHECK(decode("\xED\x9F\xBF", true).cp == 0xD7FF);
    CHECK(decode("\xEE\x80\x80", true).cp == 0xE000);
    // Refused by both.
    for (bool strict : {false, true}) {
        CHECK(decode("\x80", strict).length == 0);              // continuation byte first
        CHECK(decode("\xC0\x80", strict).length == 0);          // overlong NUL
        CHECK(decode("\xC1\xBF", strict).length == 0);          // overlong
        CHECK(decode("\xE0\x80\x80", strict).length == 0);      // overlong
        CHECK(decode("\xF0\x80\x80\x80", strict).length == 0);  // overlong
        CHECK(decode("\xF4\x90\x80\x80", strict).length == 0);  // beyond U+10FFFF
        CHECK(decode("\xF5\x80\x80\x80", strict).length == 0);
        CHECK(decode("\xFF", strict).length == 0);
        CHECK(decode("\xC3\x28", strict).length == 0);  // bad continuation
        CHECK(decode("\xE6\x97", strict).length == 0);  // truncated
    }
}

TEST_CASE("append_code_point writes UTF-8 (WTF-8 for surrogates) that utf8_sequence reads back", "[util][utf8]") {
    CHECK(encoded(0x41) == "A");
    CHECK(encoded(0xE9) == "\xC3\xA9");
    CHECK(encoded(0x65E5) == "\xE6\x97\xA5");
    CHECK(encoded(0x1F600) == "\xF0\x9F\x98\x80");
    CHECK(encoded(0xD800) == "\xED\xA0\x80");
    std::size_t mismatches = 0;
    for (std::uint32_t cp = 0x80; cp <= 0x10FFFF; ++cp) {
        const std::string s = encoded(cp);
        const Decoded d = decode(s);
        const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
        if (d.length != s.size() || d.cp != cp || (decode(s, true).length == 0) != surrogate) ++mismatches;
    }
    CHECK(mismatches == 0);
}

TEST_CASE("invalid_utf8_at and next_code_point walk surrogatepass UTF-8", "[util][utf8]") {
    CHECK(invalid_utf8_at("") == std::string_view::npos);
    CHECK(invalid_utf8_at("plain ASCII, longer than eight bytes") == std::string_view::npos);
    CHECK(invalid_utf8_at("abcdefghij\xFFk") == 10);
    CHECK(invalid_utf8_at("abcdefgh\xC3\xA9"
                          "abcdefgh\xED\xA0\x80") == std::string_view::npos);
    CHECK(invalid_utf8_at("ok\xC3") == 2);
    CHECK(invalid_utf8_at("\xC0\x80") == 0);

    const std::string s = "a\xC3\xA9\xFF\xED\xA0\x80\xE6\x97";
    std::size_t i = 0;
    CHECK(next_code_point(s, i) == 'a');
    CHECK(i == 1);
    CHECK(next_code_point(s, i) == 0xE9);
    CHECK(i == 3);
    CHECK(next_code_point(s, i) == 0x110000u + 0xFF);  // not UTF-8: the byte, marked
    CHECK(i == 4);
    CHECK(next_code_point(s, i) == 0xD800);
    CHECK(i == 7);
    CHECK(next_code_point(s, i) == 0x110000u + 0xE6);  // truncated sequence: one byte at a time
    CHECK(i == 8);
    CHECK(next_code_point(s, i) == 0x110000u + 0x97);
    CHECK(i == 9);
}
