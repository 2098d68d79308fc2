// The CLI's building blocks: key validation and key lists, --where parsing and
// matching, user JSON, session values as output JSON, and the human texts.

#include <catch2/catch.hpp>

#include <cmath>
#include <csignal>
#include <random>
#include <sstream>
#include <string>

#include "cli/exit_codes.hpp"
#include "cli/expiry_arg.hpp"
#include "cli/interrupt.hpp"
#include "cli/json_input.hpp"
#include "cli/key_input.hpp"
#include "cli/matchers.hpp"
#include "cli/output.hpp"
#include "cli/pyvalue_json.hpp"
#include "core/errors.hpp"

using namespace sessionctl;
using namespace sessionctl::cli;

// ---- keys

TEST_CASE("key validation accepts Django's keys and rejects paths and short keys", "[cli][keys]") {
    CHECK_FALSE(key_problem("4x8zyq0wd2m1j5vhn3b7k6c9p0r2s1t0", KeyRule::other));
    CHECK_FALSE(key_problem("4x8zyq0wd2m1j5vhn3b7k6c9p0r2s1t0", KeyRule::file_engine));
    CHECK_FALSE(key_problem("Custom_Key-123", KeyRule::other));
    CHECK(key_problem("Custom_Key-123", KeyRule::file_engine));
    CHECK(key_problem("../etc/passwd", KeyRule::other));
    CHECK(key_problem("../etc/passwd", KeyRule::file_engine));
    CHECK(key_problem("abcdefgh/..", KeyRule::other));
    CHECK(key_problem("abcd efgh", KeyRule::other));
    CHECK(key_problem("abcdefg", KeyRule::other) == std::optional<std::string>("is shorter than 8 characters"));
    CHECK_FALSE(key_problem("abcdefgh", KeyRule::other));
    CHECK(key_problem("", KeyRule::other));
    CHECK(key_problem("abcdefgh\n", KeyRule::other));
    CHECK(key_problem("abcdéfgh", KeyRule::other));
    CHECK_FALSE(key_problem(std::string(255, 'a'), KeyRule::other));
    CHECK(key_problem(std::string(256, 'a'), KeyRule::other));
    CHECK(key_rule_for_engine("django.contrib.sessions.backends.file") == KeyRule::file_engine);
    CHECK(key_rule_for_engine("django.contrib.sessions.backends.db") == KeyRule::other);
}

TEST_CASE("read_keys takes lines with blanks trimmed, or exact NUL-separated items", "[cli][keys]") {
    std::istringstream lines("  aaaaaaaa  \r\n\nbbbbbbbb\r\n\t\ncccccccc");
    CHECK(read_keys(lines, KeySeparator::newline) == std::vector<std::string>{"aaaaaaaa", "bbbbbbbb", "cccccccc"});
    std::istringstream nul(std::string("aaaaaaaa\0bbbb bbbb\0\0", 21));
    CHECK(read_keys(nul, KeySeparator::nul) == std::vector<std::string>{"aaaaaaaa", "bbbb bbbb"});
}

TEST_CASE("collect_keys drops duplicates and names the first invalid key", "[cli][keys]") {
    std::istringstream none;
    KeyArgs args;
    args.keys = {"aaaaaaaa", "bbbbbbbb", "aaaaaaaa"};
    CHECK(collect_keys(args, none, KeyRule::other) == std::vector<std::string>{"aaaaaaaa", "bbbbbbbb"});

    args.keys = {"aaaaaaaa", "../etc/passwd", "x"};
    try {
        (void)collect_keys(args, none, KeyRule::other);
        FAIL("no exception");
    } catch (const InvalidSessionKey& e) {
        std::string what = e.what();
        CHECK(what.find("'../etc/passwd'") != std::string::npos);
        CHECK(what.find("and 1 more") != std::string::npos);
    }

    std::istringstream input("cccccccc\n\x1b[31mevil\n");
    KeyArgs from_stdin;
    from_stdin.from_stdin = true;
    try {
        (void)collect_keys(from_stdin, input, KeyRule::other);
        FAIL("no exception");
    } catch (const InvalidSessionKey& e) {
        // Control characters of a bad key are escaped, never echoed raw.
        CHECK(std::string(e.what()).find('\x1b') == std::string::npos);
        CHECK(std::string(e.what()).find("\\x1b[31mevil") != std::string::npos);
    }

    KeyArgs both;
    both.keys = {"aaaaaaaa"};
    both.from_stdin = true;
    CHECK_THROWS_AS(collect_keys(both, none, KeyRule::other), UsageError);
}

// ---- --where

TEST_CASE("--where splits PATH=VALUE at the first unescaped '=' and parses VALUE as JSON", "[cli][where]") {
    WhereClause c = parse_where("cart.items.0.sku=\"A-1\"");
    CHECK(c.path == std::vector<std::string>{"cart", "items", "0", "sku"});
    CHECK(c.raw_value == "\"A-1\"");
    REQUIRE(c.json_value);
    CHECK(*c.json_value == PyValue("A-1"));

    WhereClause eq = parse_where("note=a=b");
    CHECK(eq.path == std::vector<std::string>{"note"});
    CHECK(eq.raw_value == "a=b");
    CHECK_FALSE(eq.json_value);

    WhereClause n = parse_where("count=42");
    REQUIRE(n.json_value);
    CHECK(*n.json_value == PyValue(42));

    WhereClause empty_value = parse_where("flag=");
    CHECK(empty_value.raw_value.empty());
}

TEST_CASE("--where escapes: backslash makes '.', '=' and '\\' literal", "[cli][where]") {
    CHECK(parse_where(R"(a\.b=1)").path == std::vector<std::string>{"a.b"});
    CHECK(parse_where(R"(k\=v.x=1)").path == std::vector<std::string>{"k=v", "x"});
    CHECK(parse_where(R"(back\\slash.y=1)").path == std::vector<std::string>{"back\\slash", "y"});
    CHECK_THROWS_AS(parse_where("novalue"), UsageError);
    CHECK_THROWS_AS(parse_where("=1"), UsageError);
    CHECK_THROWS_AS(parse_where("a..b=1"), UsageError);
    CHECK_THROWS_AS(parse_where("a.=1"), UsageError);
    CHECK_THROWS_AS(parse_where("a\\"), UsageError);
}

TEST_CASE("--where matches nested dicts and lists, numbers as Python compares them", "[cli][where]") {
    PyDict session{
        {"_auth_user_id", "42"},
        {"cart", PyDict{{"items", PyList{PyDict{{"sku", "A-1"}, {"qty", 2}}}}, {"total", 9.5}}},
        {"a.b", true},
        {"flag", nullptr},
        {"big", PyBigInt{"123456789012345678901234567890"}},
    };
    auto match = [&](std::string_view spec) { return where_matches(parse_where(spec), session); };
    CHECK(match("cart.items.0.sku=A-1"));
    CHECK(match("cart.items.0.sku=\"A-1\""));
    CHECK(match("cart.items.0.qty=2"));
    CHECK(match("cart.items.0.qty=2.0"));
    CHECK_FALSE(match("cart.items.0.qty=3"));
    CHECK_FALSE(match("cart.items.1.sku=A-1"));
    CHECK_FALSE(match("cart.items.x.sku=A-1"));
    CHECK(match("cart.total=9.5"));
    CHECK(match("_auth_user_id=42"));      // raw text matches the stored string
    CHECK(match("_auth_user_id=\"42\""));  // and so does the JSON string
    CHECK(match(R"(a\.b=true)"));
    CHECK_FALSE(match(R"(a\.b=1)"));  // True is not 1 here
    CHECK(match("flag=null"));
    CHECK(match("big=123456789012345678901234567890"));
    CHECK(match(R"(cart.items=[{"sku":"A-1","qty":2}])"));
    CHECK_FALSE(match("missing=1"));
    CHECK_FALSE(match("cart.items.0.sku.deeper=1"));
}

TEST_CASE("a filter needs every clause and the user id as a string", "[cli][where]") {
    PyDict session{{"_auth_user_id", "42"}, {"lang", "fr"}};
    PyDict int_id{{"_auth_user_id", 42}};
    SessionFilter f = make_filter(std::string("42"), {"lang=fr"});
    CHECK(f.matches(session));
    CHECK_FALSE(make_filter(std::string("42"), {"lang=de"}).matches(session));
    CHECK_FALSE(make_filter(std::string("4"), {}).matches(session));
    CHECK(make_filter(std::string("42"), {}).matches(int_id));
    CHECK(user_id_of(PyDict{}) == std::nullopt);
    CHECK(make_filter(std::nullopt, {}).empty());
}

// ---- JSON in and out

TEST_CASE("user JSON keeps key order, exact big integers and UTF-8", "[cli][json]") {
    auto v = parse_user_json(
        R"({"z":1,"a":"é","big":123456789012345678901234567890,"u":18446744073709551615,"f":1.5,"z":2})");
    REQUIRE(v);
    REQUIRE(v->is_dict());
    const PyDict& d = v->as_dict();
    REQUIRE(d.size() == 5);
    CHECK(d.entries()[0].key == "z");
    CHECK(*d.find("z") == PyValue(2));  // last duplicate wins, first position kept
    CHECK(*d.find("a") == PyValue("\xc3\xa9"));
    CHECK(*d.find("big") == PyValue(PyBigInt{"123456789012345678901234567890"}));
    CHECK(*d.find("u") == PyValue(PyBigInt{"18446744073709551615"}));
    CHECK(*d.find("f") == PyValue(1.5));
    auto neg = parse_user_json("-99999999999999999999");
    REQUIRE(neg);
    CHECK(*neg == PyValue(PyBigInt{"-99999999999999999999"}));

    std::string error;
    CHECK_FALSE(parse_user_json("{bad", &error));
    CHECK_FALSE(error.empty());
    CHECK(error.find("json.exception") == std::string::npos);
    CHECK_THROWS_AS(parse_user_json_object("[1,2]", "--data"), UsageError);
    CHECK_THROWS_AS(parse_user_json_object("nope", "--data"), UsageError);
    CHECK(parse_user_json_object("{}", "--data").empty());
}

TEST_CASE("session values become JSON: big ints, non-finite floats, order", "[cli][json]") {
    PyDict d{{"b", 1},
             {"a", PyList{nullptr, true, 2.5}},
             {"u64", PyBigInt{"18446744073709551615"}},
             {"huge", PyBigInt{"18446744073709551616"}},
             {"neg", PyBigInt{"-9223372036854775809"}},
             {"nan", std::nan("")},
             {"inf", -HUGE_VAL}};
    ordered_json j = to_json(PyValue(d));
    CHECK(dump_json(j) == R"({"b":1,"a":[null,true,2.5],"u64":18446744073709551615,"huge":"18446744073709551616",)"
                          R"("neg":"-9223372036854775809","nan":null,"inf":null})");
}

TEST_CASE("rendered session JSON keeps integers of any size exact", "[cli][json]") {
    PyDict d{{"b", 1},
             {"big", PyBigInt{"12345678901234567890123"}},
             {"neg", PyBigInt{"-9223372036854775809"}},
             {"f", 1e16},
             {"nan", std::nan("")},
             {"l", PyList{}},
             {"s", "\x7f"}};
    CHECK(
        render_json(PyValue(d)) ==
        R"({"b":1,"big":12345678901234567890123,"neg":-9223372036854775809,"f":1e+16,"nan":null,"l":[],"s":"\u007f"})");
    CHECK(render_json(PyValue(PyDict{{"a", PyList{1, PyDict{{"b", true}}}}}), 2) ==
          "{\n  \"a\": [\n    1,\n    {\n      \"b\": true\n    }\n  ]\n}");
    ordered_json envelope{{"key", "k"}, {"data", nullptr}, {"note", "\"data\":null"}};
    PyValue data(PyDict{{"big", PyBigInt{"100000000000000000000"}}});
    CHECK(dump_json_with_data(envelope, &data) ==
          R"({"key":"k","data":{"big":100000000000000000000},"note":"\"data\":null"})");
    CHECK(dump_json_with_data(envelope, nullptr) == R"({"key":"k","data":null,"note":"\"data\":null"})");
}

TEST_CASE("output JSON replaces invalid UTF-8 and escapes DEL and C1 controls", "[cli][json]") {
    // A lone surrogate as a session may hold it (WTF-8), DEL, and U+009B (CSI).
    ordered_json j = to_json(PyValue(PyDict{{"s", std::string("a\xed\xa0\x80"
                                                              "b\x7f"
                                                              "c\xc2\x9b"
                                                              "d\xc3\xa9")}}));
    std::string text = dump_json(j);
    CHECK(text ==
          "{\"s\":\"a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
          "b\\u007fc\\u009bd\xc3\xa9\"}");
    CHECK(ordered_json::parse(text)["s"].get<std::string>().find('\x7f') != std::string::npos);
}

// ---- human text

TEST_CASE("durations for humans round down to the largest unit", "[cli][output]") {
    CHECK(human_duration(0) == "0 seconds");
    CHECK(human_duration(1) == "1 second");
    CHECK(human_duration(59) == "59 seconds");
    CHECK(human_duration(60) == "1 minute");
    CHECK(human_duration(7199) == "1 hour");
    CHECK(human_duration(7200) == "2 hours");
    CHECK(human_duration(86400 * 13 + 86399) == "13 days");
    CHECK(human_duration(86400 * 365 * 3) == "3 years");
    CHECK(relative_time(1209600) == "in 14 days");
    CHECK(relative_time(-7200) == "2 hours ago");
    CHECK(relative_time(0) == "now");
    CHECK(count_of(1, "session") == "1 session");
    CHECK(count_of(0, "session") == "0 sessions");
}

TEST_CASE("times print in UTC, isoformat keeps microseconds", "[cli][output]") {
    CHECK(utc_text(1700000000'000000) == "2023-11-14 22:13:20 UTC");
    CHECK(utc_text(1701209600'750000) == "2023-11-28 22:13:20 UTC");
    CHECK(utc_iso(1701209600'750000) == "2023-11-28T22:13:20.750000+00:00");
    CHECK(utc_iso(1701209600'000000) == "2023-11-28T22:13:20+00:00");
    CHECK(utc_text(-1) == "1969-12-31 23:59:59 UTC");
}

TEST_CASE("printable escapes what could drive a terminal", "[cli][output]") {
    CHECK(printable("plain é") == "plain é");
    CHECK(printable("a\nb\tc\x1b[2J") == "a\\nb\\tc\\x1b[2J");
    CHECK(printable("\xff\xc2\x9b") == "\\xff\\u009b");
    CHECK(printable(std::string(300, 'k'), 10) == "kkkkkkkkkk...");
}

TEST_CASE("expiry arguments: seconds, browser-close, ISO 8601 with the USE_TZ rule", "[cli][expiry]") {
    CHECK(std::get<std::int64_t>(parse_expiry_arg("3600", true)) == 3600);
    CHECK(std::get<std::int64_t>(parse_expiry_arg("-5", true)) == -5);
    CHECK(std::get<std::int64_t>(parse_expiry_arg("browser-close", true)) == 0);
    DateTime at = std::get<DateTime>(parse_expiry_arg("2030-01-01T00:00:00Z", true));
    CHECK(at.isoformat() == "2030-01-01T00:00:00+00:00");
    CHECK_THROWS_AS(parse_expiry_arg("2030-01-01T00:00:00", true), UsageError);  // naive with USE_TZ
    CHECK_THROWS_AS(parse_expiry_arg("1.5", true), UsageError);
    CHECK_THROWS_AS(parse_expiry_arg("tomorrow", true), UsageError);
    CHECK_THROWS_AS(parse_expiry_arg("99999999999999999999", true), UsageError);
    DateTime naive = std::get<DateTime>(parse_expiry_arg("2030-01-01T00:00:00", false));
    CHECK_FALSE(naive.aware());
    FakeClock clock(1700000000'000000);
    CHECK_NOTHROW(check_expiry_seconds(3600, clock, "--in"));
    CHECK_THROWS_AS(check_expiry_seconds(400'000'000'000, clock, "--in"), UsageError);
}

TEST_CASE("SIGINT under an InterruptGuard only sets the flag", "[cli][interrupt]") {
    {
        InterruptGuard guard;
        CHECK_FALSE(interrupted());
        std::raise(SIGINT);
        CHECK(interrupted());
    }
    InterruptGuard fresh;  // a new run starts uninterrupted
    CHECK_FALSE(interrupted());
}

TEST_CASE("rendered strings and keys are byte for byte what the JSON library writes", "[cli][json]") {
    // render_json quotes plain ASCII itself; everything else must come out as
    // dump_json(ordered_json(s)) does (escapes, invalid UTF-8, DEL, C1).
    const std::string pool =
        std::string("abcXYZ09 _-:/.{}[]\"\\\x01\x1f\x7f\t\n") + "\xc2\x85\xc3\xa9\xe6\x97\xa5\xff\x80";
    std::mt19937 rng(5);
    for (int round = 0; round < 3000; ++round) {
        std::string s(rng() % 12, ' ');
        for (char& c : s) c = pool[rng() % pool.size()];
        INFO("string bytes " << s.size());
        CHECK(sessionctl::cli::render_json(sessionctl::PyValue(s)) ==
              sessionctl::cli::dump_json(sessionctl::cli::ordered_json(s)));
        sessionctl::PyDict d;
        d.append_absent(s, sessionctl::PyValue(std::int64_t{1}));
        CHECK(sessionctl::cli::render_json(sessionctl::PyValue(d)) ==
              "{" + sessionctl::cli::dump_json(sessionctl::cli::ordered_json(s)) + ":1}");
    }
}
