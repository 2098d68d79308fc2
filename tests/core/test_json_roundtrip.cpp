// Tests for core/json_codec, continued: json_loads_latin1 and json_dumps as
// inverses, and Django's own JSON bytes (the vectors) reproduced exactly.
// Expected values were produced by running CPython 3.11.2.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_codec.hpp"
#include "core/pyvalue.hpp"

using namespace sessionctl;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

// ---- round trips

TEST_CASE("json_loads_latin1 inverts json_dumps for nested values", "[core][json]") {
    const std::string d4300(4300, '7');
    const std::vector<PyValue> values = {
        PyValue(),
        PyValue(true),
        PyValue(PyBigInt{"1180591620717411303424"}),   // 2**70
        PyValue(PyBigInt{"-1180591620717411303424"}),  // -(2**70)
        PyValue(PyBigInt{d4300}),
        PyValue(std::numeric_limits<std::int64_t>::min()),
        PyValue(-0.0),
        PyValue(kNaN),
        PyValue(kInf),
        PyValue(-kInf),
        PyValue(5e-324),
        PyValue(1.7976931348623157e308),
        PyValue("\xed\xa0\x80 lone, \xf0\x9f\x98\x80 pair, \x7f \x01 \xc3\xa9 \"\\/"),
        PyValue(PyDict{
            {"_auth_user_id", "42"},
            {"cart", PyList{1, 2, 3}},
            {"big", PyBigInt{"18446744073709551615"}},
            {"nested", PyDict{{"a", PyList{PyDict{}, PyList{}, "", -0.0, kNaN, nullptr, false}},
                              {"\xe2\x80\xa8", PyDict{{"x", 1e16}, {"y", 1.5e-7}, {"z", 0.1}}}}},
            {"\xf0\x9f\x98\x80", PyList{PyBigInt{"-9223372036854775809"}, 1e22, -kInf}},
        }),
    };
    for (const auto& v : values) {
        const std::string text = json_dumps(v);
        INFO(text.substr(0, 200));
        const PyValue back = json_loads_latin1(text);
        CHECK(back == v);
        CHECK(json_dumps(back) == text);
    }
}

TEST_CASE("json_loads_latin1 round-trips negative zero and big ints with their types", "[core][json]") {
    const PyValue back = json_loads_latin1(json_dumps(PyValue(PyList{-0.0, PyBigInt{"1180591620717411303424"}})));
    REQUIRE(back.as_list().size() == 2);
    CHECK(back.as_list()[0].is_float());
    CHECK(std::signbit(back.as_list()[0].as_float()));
    CHECK(back.as_list()[1].is_bigint());
}

TEST_CASE("json_dumps inverts json_loads_latin1 for canonical documents", "[core][json]") {
    const std::vector<std::string> docs = {
        R"({})",
        R"({"foo":"bar"})",
        R"({"_session_expiry":300,"cart":[1,2,3]})",
        R"({"cl\u00e9":"v\u00e4lue","emoji":"\ud83d\ude00","cjk":"\u6f22\u5b57"})",
        R"({"ctl":"\u0000\u0001\u001f\u007f","ws":"a\nb\tc\rd\be\ff","quote":"\"'\\/"})",
        R"({"nan":NaN,"inf":Infinity,"ninf":-Infinity})",
        R"([1,2.5,-0.0,1e+16,1.5e-07,1000000000000000.0,0.0001,1e-05,1180591620717411303424])",
        R"("\ud800\udfff\ud83d")",
        R"([[],{},"",[[[{"a":[null,true,false]}]]]])",
    };
    for (const auto& doc : docs) {
        INFO(doc);
        CHECK(json_dumps(json_loads_latin1(doc)) == doc);
    }
}

TEST_CASE("json_dumps canonicalises non-canonical input exactly like Python", "[core][json]") {
    // json.dumps(json.loads(text), separators=(",", ":")) in CPython 3.11.
    CHECK(json_dumps(json_loads_latin1(R"( { "a" : 1.50 , "b":1E2, "c":"\u00E9\/", "d" : [ -0 , -0.0 , 0e0 ] } )")) ==
          R"({"a":1.5,"b":100.0,"c":"\u00e9/","d":[0,-0.0,0.0]})");
    CHECK(json_dumps(json_loads_latin1("\"\\uD83D\\uDE00\xe9\"")) == R"("\ud83d\ude00\u00e9")");
    CHECK(json_dumps(json_loads_latin1("[1e400,-1e-400,0.10000000000000001]")) == "[Infinity,-0.0,0.1]");
}

// ---- vectors

namespace {

nlohmann::json load_vector_file(const std::string& relative) {
    const std::string path = std::string(SESSIONCTL_TEST_DATA) + "/" + relative;
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return nlohmann::json::parse(ss.str());
}

}  // namespace

TEST_CASE("json_dumps(json_loads_latin1(case.json)) reproduces Django's exact JSON bytes", "[vectors][json]") {
    const char* files[] = {"django-3.2.25/signing.json", "django-6.1.dev-afa026cd/signing.json"};
    for (const char* file : files) {
        const nlohmann::json doc = load_vector_file(file);
        REQUIRE(doc.contains("cases"));
        REQUIRE(doc["cases"].size() > 0);
        std::size_t checked = 0;
        for (const auto& c : doc["cases"]) {
            if (!c.contains("json") || !c["json"].is_string()) continue;
            const std::string text = c["json"].get<std::string>();
            INFO(file << " case " << c.value("id", std::string("?")) << ": " << text.substr(0, 200));
            CHECK(json_dumps(json_loads_latin1(text)) == text);
            if (c.contains("json_len") && c["json_len"].is_number_integer())
                CHECK(text.size() == c["json_len"].get<std::size_t>());
            ++checked;
        }
        CHECK(checked == doc["cases"].size());
    }
}

TEST_CASE("Django's type-zoo vector decodes to the Python types it was written from", "[vectors][json]") {
    const nlohmann::json doc = load_vector_file("django-3.2.25/signing.json");
    bool found = false;
    for (const auto& c : doc["cases"]) {
        const std::string text = c.value("json", std::string());
        if (text.find("\"big\":") == std::string::npos) continue;
        found = true;
        const PyValue v = json_loads_latin1(text);
        REQUIRE(v.is_dict());
        const PyDict& d = v.as_dict();
        REQUIRE(d.find("big"));
        CHECK(*d.find("big") == PyValue(PyBigInt{"1180591620717411303424"}));
        CHECK(*d.find("i64min") == PyValue(std::numeric_limits<std::int64_t>::min()));
        CHECK(*d.find("u64max") == PyValue(PyBigInt{"18446744073709551615"}));
        CHECK(*d.find("f_1_0") == PyValue(1.0));
        CHECK(*d.find("f_1e16") == PyValue(1e16));
        REQUIRE(d.find("f_neg0")->is_float());
        CHECK(std::signbit(d.find("f_neg0")->as_float()));
    }
    CHECK(found);
}
