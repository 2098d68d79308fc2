// Tests for core/json_codec's reading of whole documents: whitespace, what
// may follow the document, top-level values, object keys, nesting depth and
// size. As in test_json_codec.cpp, expected messages and offsets were produced
// by running CPython 3.11.2.

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "core/json_codec.hpp"
#include "core/pyvalue.hpp"
#include "tests/core/json_test_helpers.hpp"

using namespace sessionctl;
using namespace std::string_literals;
using sessionctl::json_test::decode_error;
using sessionctl::json_test::repeat;

TEST_CASE("json_loads_latin1 allows space, tab, newline and carriage return around tokens", "[core][json]") {
    const PyValue v = json_loads_latin1(" \t\n\r{ \"a\" \t:\n[ 1 ,\r2 ] , \"b\" : { } }\r\n\t ");
    CHECK(v == PyValue(PyDict{{"a", PyList{1, 2}}, {"b", PyDict{}}}));
    CHECK(json_loads_latin1("  7  ") == PyValue(7));
    CHECK(json_loads_latin1("\n\"s\"\n") == PyValue("s"));
}

TEST_CASE("json_loads_latin1 treats form feed, vertical tab and NBSP as non-whitespace", "[core][json]") {
    CHECK(decode_error("\x0c"
                       "1") == "Expecting value at byte 0");
    CHECK(decode_error("1\x0c") == "Extra data at byte 1");
    CHECK(decode_error("\x0b"
                       "1") == "Expecting value at byte 0");
    CHECK(decode_error("\xa0"
                       "1") == "Expecting value at byte 0");
    CHECK(decode_error("[1,\x0c"
                       "2]") == "Expecting value at byte 3");
}

TEST_CASE("json_loads_latin1 rejects data after the document", "[core][json]") {
    CHECK(decode_error("{} {}") == "Extra data at byte 3");
    CHECK(decode_error("{\"k\":\"v\"}x") == "Extra data at byte 9");
    CHECK(decode_error("[1,2]]") == "Extra data at byte 5");
    CHECK(decode_error("\"x\" \"y\"") == "Extra data at byte 4");
    CHECK(decode_error(std::string("1\0", 2)) == "Extra data at byte 1");
}

TEST_CASE("json_loads_latin1 rejects an empty or whitespace-only document", "[core][json]") {
    CHECK(decode_error("") == "Expecting value at byte 0");
    CHECK(decode_error("   ") == "Expecting value at byte 3");
    CHECK(decode_error(" \t\n\r") == "Expecting value at byte 4");
    CHECK_THROWS_AS(json_loads_latin1(std::string_view{}), JsonDecodeError);
}

TEST_CASE("json_loads_latin1 accepts any JSON value at the top level", "[core][json]") {
    CHECK(json_loads_latin1("\"hello\"") == PyValue("hello"));
    CHECK(json_loads_latin1("[1,2,3]") == PyValue(PyList{1, 2, 3}));
    CHECK(json_loads_latin1("42") == PyValue(42));
    CHECK(json_loads_latin1("4.5") == PyValue(4.5));
    CHECK(json_loads_latin1("null").is_none());
    CHECK(json_loads_latin1("{}") == PyValue(PyDict{}));
}

TEST_CASE("json_loads_latin1 keeps the first position and the last value of a duplicate key", "[core][json]") {
    const PyValue v = json_loads_latin1(R"({"a":1,"b":2,"a":3,"c":4,"b":{"x":1,"x":2}})");
    REQUIRE(v.is_dict());
    const auto& entries = v.as_dict().entries();
    REQUIRE(entries.size() == 3);
    CHECK(entries[0].key == "a");
    CHECK(entries[0].value == PyValue(3));
    CHECK(entries[1].key == "b");
    CHECK(entries[1].value == PyValue(PyDict{{"x", 2}}));
    CHECK(entries[2].key == "c");
    CHECK(json_dumps(v) == R"({"a":3,"b":{"x":2},"c":4})");
    // Keys are compared after unescaping.
    CHECK(json_dumps(json_loads_latin1(R"({"\u0061":1,"a":2})")) == R"({"a":2})");
}

TEST_CASE("json_loads_latin1 keeps object keys in document order", "[core][json]") {
    const PyValue v = json_loads_latin1(R"({"z":1,"a":2,"m":3,"1":4,"01":5})");
    std::vector<std::string> keys;
    for (const auto& e : v.as_dict()) keys.push_back(e.key);
    CHECK(keys == std::vector<std::string>{"z", "a", "m", "1", "01"});
}

TEST_CASE("json_loads_latin1 requires object keys in double quotes", "[core][json]") {
    CHECK(decode_error("{1:2}") == "Expecting property name enclosed in double quotes at byte 1");
    CHECK(decode_error("{'a':1}") == "Expecting property name enclosed in double quotes at byte 1");
    CHECK(decode_error("{a:1}") == "Expecting property name enclosed in double quotes at byte 1");
    CHECK(decode_error("{null:1}") == "Expecting property name enclosed in double quotes at byte 1");
    CHECK(decode_error("{\"a\":1,}") == "Expecting property name enclosed in double quotes at byte 7");
    CHECK(decode_error("{\"a\" 1}") == "Expecting ':' delimiter at byte 5");
}

TEST_CASE("json_loads_latin1 accepts nesting up to max_depth", "[core][json]") {
    const std::string lists = repeat("[", 2048) + repeat("]", 2048);
    PyValue v = json_loads_latin1(lists);
    int depth = 1;
    for (const PyValue* p = &v; !p->as_list().empty(); p = &p->as_list()[0]) ++depth;
    CHECK(depth == 2048);
    CHECK(json_dumps(v) == lists);

    const std::string dicts = repeat("{\"a\":", 2047) + "[]" + repeat("}", 2047);
    CHECK(json_dumps(json_loads_latin1(dicts)) == dicts);
}

TEST_CASE("json_loads_latin1 rejects nesting deeper than max_depth", "[core][json]") {
    CHECK(decode_error(repeat("[", 2049) + repeat("]", 2049)) == "nesting deeper than 2048 at byte 2048");
    CHECK_THAT(decode_error(repeat("{\"a\":", 2048) + "[]" + repeat("}", 2048)),
               Catch::StartsWith("nesting deeper than 2048"));
    CHECK_THAT(decode_error(repeat("[{\"k\":", 1100) + "1" + repeat("}]", 1100)),
               Catch::StartsWith("nesting deeper than 2048"));
}

TEST_CASE("json_loads_latin1 rejects 100000 nested brackets without overflowing the stack", "[core][json]") {
    CHECK(decode_error(repeat("[", 100000)) == "nesting deeper than 2048 at byte 2048");
    CHECK(decode_error(repeat("[", 100000) + repeat("]", 100000)) == "nesting deeper than 2048 at byte 2048");
    CHECK_THAT(decode_error(repeat("{\"a\":", 100000)), Catch::StartsWith("nesting deeper than 2048"));
}

TEST_CASE("json_loads_latin1 honours a custom max_depth", "[core][json]") {
    JsonLimits limits;
    limits.max_depth = 2;
    CHECK(json_loads_latin1("[[1]]", limits) == PyValue(PyList{PyList{1}}));
    CHECK(json_loads_latin1("{\"a\":[]}", limits) == PyValue(PyDict{{"a", PyList{}}}));
    CHECK(decode_error("[[[]]]", limits) == "nesting deeper than 2 at byte 2");
    limits.max_depth = 0;
    CHECK(json_loads_latin1("\"scalar\"", limits) == PyValue("scalar"));
    CHECK(decode_error("[]", limits) == "nesting deeper than 0 at byte 0");
    limits.max_depth = 5000;
    const std::string deep = repeat("[", 5000) + repeat("]", 5000);
    CHECK(json_dumps(json_loads_latin1(deep, limits)) == deep);
}

TEST_CASE("json_loads_latin1 parses large documents", "[core][json]") {
    std::string text = "[";
    for (int i = 0; i < 100000; ++i) {
        if (i) text += ',';
        text += std::to_string(i);
    }
    text += ']';
    const PyValue v = json_loads_latin1(text);
    REQUIRE(v.is_list());
    CHECK(v.as_list().size() == 100000);
    CHECK(v.as_list().back() == PyValue(99999));
    CHECK(json_dumps(v) == text);

    const std::string long_string = "\"" + std::string(1 << 20, 'x') + "\"";
    CHECK(json_dumps(json_loads_latin1(long_string)) == long_string);

    std::string obj = "{";
    for (int i = 0; i < 2000; ++i) {
        if (i) obj += ',';
        obj += "\"key" + std::to_string(i) + "\":" + std::to_string(i);
    }
    obj += '}';
    const PyValue d = json_loads_latin1(obj);
    CHECK(d.as_dict().size() == 2000);
    CHECK(json_dumps(d) == obj);
}
