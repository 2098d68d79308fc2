// Focused unit tests of core's primitives. Expected values come from CPython
// 3.11 (base64, datetime, timedelta, hashlib/hmac) or from signing.json.

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>

#include "core/base62.hpp"
#include "core/base64.hpp"
#include "core/datetime.hpp"
#include "core/errors.hpp"
#include "core/expiry.hpp"
#include "core/salted_hmac.hpp"
#include "core/session_key.hpp"

using namespace sessionctl;

namespace {

std::string hex(std::string_view bytes) { return to_hex(bytes); }

// Runs `fn` and returns "ERR" when it throws Base64Error, else the hex output.
template <typename Fn>
std::string hex_or_err(Fn fn) {
    try {
        return hex(fn());
    } catch (const Base64Error&) {
        return "ERR";
    }
}

DateTime wall(std::int64_t y, unsigned mo, unsigned d, int h, int mi, int s, int us,
              std::optional<std::int32_t> offset = std::nullopt) {
    return DateTime{days_from_civil(y, mo, d) * 86'400'000'000LL + (h * 3600LL + mi * 60LL + s) * 1'000'000LL + us,
                    offset};
}

}  // namespace

// ---- base64

TEST_CASE("b64url_decode_django mirrors urlsafe_b64decode(s + padding), non-strict", "[core_units][base64]") {
    // Values from CPython 3.11: base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4)).
    const std::map<std::string, std::string> cases{
        {"", ""},
        {"e30", "7b7d"},
        {"eyJmb28iOiJiYXIifQ", "7b22666f6f223a22626172227d"},
        {"eyJm!!b28iOiJiYXIifQ", "ERR"},  // junk is dropped, then the padding is wrong
        {"abcde", "ERR"},                 // 5 data characters: 1 more than a multiple of 4
        {"ab=c", "ERR"},
        {"a===", "ERR"},
        {"ab", "69"},
        {"abc", "69b7"},
        {"ab==cd", "69"},  // a complete pad sequence ends the data
        {"-_-_", "fbffbf"},
        {"+/+/", "fbffbf"},  // the standard alphabet is accepted too
        {"ab c\nd", "69b71d"},
        {"YQ", "61"},
        {"YQ=", "61"},
        {"YQ==", "61"},
        {"YWI=YWI=", "6162"},
        {"====", ""},
        {"Y", "ERR"},
        {"YW=", "61"},
        {"\xc3\xa9\xc3\xa9YWJj", "616263"},  // non-ASCII bytes are junk
    };
    for (const auto& [in, out] : cases) {
        INFO("input " << in);
        CHECK(hex_or_err([&] { return b64url_decode_django(in); }) == out);
    }
}

TEST_CASE("b64url_decode_django's fast path for clean text equals the character-by-character decoder",
          "[core_units][base64]") {
    // The character-by-character decoder, reached through b64_decode_lenient
    // on the standard alphabet with the padding urlsafe_b64decode would add.
    auto reference = [](std::string text) {
        for (char& c : text) c = c == '-' ? '+' : c == '_' ? '/' : c;
        text.append((4 - text.size() % 4) % 4, '=');
        return hex_or_err([&] { return b64_decode_lenient(text); });
    };
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/";
    std::mt19937 rng(64);
    for (int round = 0; round < 4000; ++round) {
        std::string text(rng() % 48, ' ');
        for (char& c : text) c = alphabet[rng() % alphabet.size()];
        INFO("input " << text);
        CHECK(hex_or_err([&] { return b64url_decode_django(text); }) == reference(text));
    }
}

TEST_CASE("b64_decode_lenient mirrors base64.b64decode (non-strict)", "[core_units][base64]") {
    const std::map<std::string, std::string> cases{
        {"YWJj", "616263"},
        {"YWI=", "6162"},
        {"YW==", "61"},
        {"YW=", "ERR"},
        {"YW", "ERR"},
        {"Y", "ERR"},
        {"YWJjZA", "ERR"},
        {"YWJj ZA==", "61626364"},
        {"YW JjZA==", "61626364"},
        {"=YWJj", "616263"},
        {"Y=WJj", "616263"},
        {"YW=Jj", "616263"},
        {"YWJ=j", "6162"},
        {"YWI==YWI=", "6162"},
        {"YWI=x", "6162"},
        {"-_", ""},
        {"////", "ffffff"},
        {"Zm9v\n", "666f6f"},
        {"Zm9vYg", "ERR"},
        {"Zm9vYg===", "666f6f62"},
        {"Zm9v====", "666f6f"},
        {"*Zm9v*", "666f6f"},
    };
    for (const auto& [in, out] : cases) {
        INFO("input " << in);
        CHECK(hex_or_err([&] { return b64_decode_lenient(in); }) == out);
    }
}

TEST_CASE("base64 encoders: url-safe without padding, standard with padding", "[core_units][base64]") {
    CHECK(b64url_encode_nopad("") == "");
    CHECK(b64url_encode_nopad("{}") == "e30");
    CHECK(b64url_encode_nopad("\xfb\xff\xbf") == "-_-_");
    CHECK(b64url_encode_nopad("a") == "YQ");
    CHECK(b64url_encode_nopad("ab") == "YWI");
    CHECK(b64_encode("a") == "YQ==");
    CHECK(b64_encode("ab") == "YWI=");
    CHECK(b64_encode("abc") == "YWJj");
    CHECK(b64_encode("\xfb\xff\xbf") == "+/+/");
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (std::size_t n = 0; n <= all.size(); n += 17) {
        const std::string data = all.substr(0, n);
        CHECK(b64url_decode_django(b64url_encode_nopad(data)) == data);
        CHECK(b64_decode_lenient(b64_encode(data)) == data);
    }
}

// ---- base62

TEST_CASE("base62 like django.core.signing.b62_encode/b62_decode", "[core_units][base62]") {
    const std::map<std::int64_t, std::string> cases{
        {0, "0"},
        {1, "1"},
        {61, "z"},
        {62, "10"},
        {3843, "zz"},
        {3844, "100"},
        {-5, "-5"},
        {1700000000, "1r31eq"},
        {-1700000000, "-1r31eq"},
        {2147483648LL, "2LKcb2"},
        {INT64_MAX, "AzL8n0Y58m7"},
    };
    for (const auto& [n, text] : cases) {
        INFO(n);
        CHECK(b62_encode(n) == text);
        CHECK(b62_decode(text) == n);
    }
    CHECK(b62_encode(INT64_MIN) == "-AzL8n0Y58m8");
    CHECK(b62_decode("-") == 0);  // Django: sign stripped, no digits
    CHECK(b62_decode("-0") == 0);
    CHECK(b62_decode("00012") == 64);                   // leading zeros are fine
    CHECK_THROWS_AS(b62_decode(""), Base62Error);       // Django: IndexError
    CHECK_THROWS_AS(b62_decode("!!bad"), Base62Error);  // Django: ValueError
    CHECK_THROWS_AS(b62_decode("1r31e="), Base62Error);
    CHECK_THROWS_AS(b62_decode("zzzzzzzzzzzzzzz"), Base62Error);  // beyond int64
}

// ---- salted_hmac

TEST_CASE("salted_hmac: HMAC keyed with H(key_salt + secret)", "[core_units][hmac]") {
    const std::string secret = "vector-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG";
    const std::string key_salt = "django.contrib.sessions.SessionStoresigner";
    // signing.json session/empty: derived_key_hex c63952..., signature of "e30:1r31eq".
    CHECK(hex(salted_hmac(key_salt, "e30:1r31eq", secret, HashAlgorithm::sha256)) ==
          "860163c976ac2aa5fe9b6396015361d4fb962c77f95b6193f39536c000e1dca5");
    CHECK(b64url_encode_nopad(salted_hmac(key_salt, "e30:1r31eq", secret, HashAlgorithm::sha256)) ==
          "hgFjyXasKqX-m2OWAVNh1PuWLHf5W2GT85U2wADh3KU");
    // signing.json (3.2) signing.dumps/sha1/session_salt/simple: derived key f42e0b63...
    CHECK(hex(salted_hmac(key_salt, "eyJmb28iOiJiYXIifQ:1r31eq", secret, HashAlgorithm::sha1)) ==
          "c303bac683fee08d0476ef596f39d20842d0cd44");
    CHECK(b64url_encode_nopad(salted_hmac(key_salt, "eyJmb28iOiJiYXIifQ:1r31eq", secret, HashAlgorithm::sha1)) ==
          "wwO6xoP-4I0Edu9ZbznSCELQzUQ");
    // Longer than a block: still hashed first (hashlib/hmac in CPython).
    CHECK(hex(salted_hmac(std::string(200, 'a'), "value", std::string(300, 's'), HashAlgorithm::sha256)) ==
          "d7914a25058f6241e23118cde16d11143441f4f5fcdcc66a2e98b2d62583bb00");
    CHECK(hex(salted_hmac("", "", "", HashAlgorithm::sha256)) ==
          "bfe4527091e7291c5b9a9359c579a97302ba3a7d969994f80a562db7bad4315c");
    CHECK(hex(salted_hmac("", "", "", HashAlgorithm::sha1)) == "43baf8f1307761ba1a5d0a2bd90cd7916573ed2a");

    SaltedHmac reused(key_salt, secret, HashAlgorithm::sha256);
    CHECK(reused.algorithm() == HashAlgorithm::sha256);
    CHECK(reused.hexdigest("e30:1r31eq") == "860163c976ac2aa5fe9b6396015361d4fb962c77f95b6193f39536c000e1dca5");
    CHECK(reused.hexdigest("e30:1r31eq") == reused.hexdigest("e30:1r31eq"));  // the context is not consumed
    SaltedHmac moved = std::move(reused);
    CHECK(moved.digest("e30:1r31eq").size() == 32u);
    CHECK(std::string(to_string(HashAlgorithm::sha1)) == "sha1");
    CHECK(std::string(to_string(HashAlgorithm::sha256)) == "sha256");
}

TEST_CASE("constant_time_equals and to_hex", "[core_units][hmac]") {
    CHECK(constant_time_equals("", ""));
    CHECK(constant_time_equals("abc", "abc"));
    CHECK_FALSE(constant_time_equals("abc", "abd"));
    CHECK_FALSE(constant_time_equals("abc", "abcd"));
    CHECK_FALSE(constant_time_equals("abc", ""));
    CHECK(to_hex(std::string("\x00\x0f\xf0\xff", 4)) == "000ff0ff");
}

// ---- datetime

TEST_CASE("parse_isoformat follows Python 3.11 datetime.fromisoformat", "[core_units][datetime]") {
    // input -> isoformat() of the parsed value (Python 3.11), or "ERR" (ValueError).
    const std::map<std::string, std::string> cases{
        {"2023-11-14T22:13:30.750000+00:00", "2023-11-14T22:13:30.750000+00:00"},
        {"2023-11-14T22:13:30Z", "2023-11-14T22:13:30+00:00"},
        {"2023-11-14 22:13:30+00:00", "2023-11-14T22:13:30+00:00"},
        {"2023-11-15", "2023-11-15T00:00:00"},
        {"20231115", "2023-11-15T00:00:00"},
        {"2023-11-14T22:13", "2023-11-14T22:13:00"},
        {"2023-11-14T22", "2023-11-14T22:00:00"},
        {"2023-11-14T22:13:30.5", "2023-11-14T22:13:30.500000"},
        {"2023-11-14T22:13:30,5", "2023-11-14T22:13:30.500000"},
        {"2023-11-14T22:13:30.1234567", "2023-11-14T22:13:30.123456"},
        {"2023-11-14T22:13:30.1234", "2023-11-14T22:13:30.123400"},
        {"2023-11-14T22:13:30.123+00:00", "2023-11-14T22:13:30.123000+00:00"},
        {"2023-11-14T22:13:30+05:30", "2023-11-14T22:13:30+05:30"},
        {"2023-11-14T22:13:30-08:00", "2023-11-14T22:13:30-08:00"},
        {"2023-11-14T22:13:30+01:00:30", "2023-11-14T22:13:30+01:00:30"},
        {"2023-11-14T22:13:30+0100", "2023-11-14T22:13:30+01:00"},
        {"2023-11-14X22:13:30", "2023-11-14T22:13:30"},  // any separator character
        {"20231114T221330", "2023-11-14T22:13:30"},
        {"2023-11-14T221330", "2023-11-14T22:13:30"},
        {"2024-02-29", "2024-02-29T00:00:00"},
        {"0001-01-01", "0001-01-01T00:00:00"},
        {"9999-12-31T23:59:59.999999", "9999-12-31T23:59:59.999999"},
        {"tomorrow", "ERR"},
        {"", "ERR"},
        {"2023-13-01", "ERR"},
        {"2023-02-29", "ERR"},
        {"2023-11-14T24:00:00", "ERR"},
        {"2023-11-14T22:13:30.", "ERR"},
        {"2023-318", "ERR"},
        {"2023-11-14T22:13:30+24:00", "ERR"},
        {"2023-11-14 ", "ERR"},
        {"2023-11-14T22:13:30 ", "ERR"},
        {"2023-11-14T22:13:30+00:00Z", "ERR"},
    };
    for (const auto& [in, out] : cases) {
        INFO("fromisoformat('" << in << "')");
        std::string got;
        try {
            got = parse_isoformat(in).isoformat();
        } catch (const DateTimeError& e) {
            CHECK(e.python_class() == "ValueError");
            got = "ERR";
        }
        CHECK(got == out);
    }
    CHECK(parse_isoformat("2023-11-14T22:13:30Z").aware());
    CHECK_FALSE(parse_isoformat("2023-11-14T22:13:30").aware());
    CHECK(parse_isoformat("2023-11-14T22:13:30-08:00").utc_offset == std::optional<std::int32_t>(-8 * 3600));
    CHECK(parse_isoformat("2023-11-14T22:13:30.750000+00:00") == wall(2023, 11, 14, 22, 13, 30, 750000, 0));
}

TEST_CASE("isoformat and str_naive like Python's datetime", "[core_units][datetime]") {
    CHECK(wall(2023, 11, 14, 22, 13, 30, 750000, 0).isoformat() == "2023-11-14T22:13:30.750000+00:00");
    CHECK(wall(2023, 11, 14, 22, 13, 30, 0, 0).isoformat() == "2023-11-14T22:13:30+00:00");
    CHECK(wall(2023, 11, 14, 22, 13, 30, 0).isoformat() == "2023-11-14T22:13:30");
    CHECK(wall(2023, 11, 14, 22, 13, 30, 5).isoformat() == "2023-11-14T22:13:30.000005");
    CHECK(wall(2023, 11, 14, 22, 13, 30, 0, -(5 * 3600 + 30 * 60)).isoformat() == "2023-11-14T22:13:30-05:30");
    CHECK(wall(2023, 11, 14, 22, 13, 30, 0, 3630).isoformat() == "2023-11-14T22:13:30+01:00:30");
    CHECK(wall(1, 1, 1, 0, 0, 0, 0).isoformat() == "0001-01-01T00:00:00");
    CHECK(wall(1969, 12, 31, 23, 59, 59, 999999).isoformat() == "1969-12-31T23:59:59.999999");
    // str(naive dt): the SQLite text; the offset is ignored.
    CHECK(wall(2023, 11, 28, 22, 13, 20, 750000).str_naive() == "2023-11-28 22:13:20.750000");
    CHECK(wall(2023, 11, 28, 22, 13, 20, 0).str_naive() == "2023-11-28 22:13:20");
    CHECK(wall(2023, 11, 28, 22, 13, 20, 0, 3600).str_naive() == "2023-11-28 22:13:20");
    // From Unix time (time.time() = 1700000000.75).
    CHECK(DateTime::from_unix_utc(1700000000'750000).isoformat() == "2023-11-14T22:13:20.750000+00:00");
    CHECK(DateTime::now(1700000000'750000, true).aware());
    CHECK(DateTime::from_unix_utc(1700000000'750000).to_unix_micros() == 1700000000'750000);
    CHECK(DateTime::from_unix_utc(-1).isoformat() == "1969-12-31T23:59:59.999999+00:00");
    CHECK(wall(2023, 11, 14, 22, 13, 30, 0).plus_micros(-30'000'001).isoformat() == "2023-11-14T22:12:59.999999");
}

TEST_CASE("subtract_micros: naive/aware mix is Python's TypeError", "[core_units][datetime]") {
    const DateTime a = wall(2023, 11, 14, 22, 13, 30, 0, 0);
    const DateTime b = wall(2023, 11, 15, 0, 13, 30, 0, 7200);  // the same instant
    CHECK(subtract_micros(a, b) == 0);
    CHECK(subtract_micros(wall(2023, 1, 1, 0, 0, 1, 0), wall(2023, 1, 1, 0, 0, 0, 500000)) == 500000);
    try {
        (void)subtract_micros(a, wall(2023, 11, 14, 22, 13, 30, 0));
        FAIL("no TypeError");
    } catch (const DateTimeError& e) {
        CHECK(e.python_class() == "TypeError");
    }
}

TEST_CASE("parse_django_datetime: fromisoformat, then Django's regex", "[core_units][datetime]") {
    // Django >= 4.0 dateparse.parse_datetime: fromisoformat first, then datetime_re.
    auto iso = [](std::string_view text) -> std::string {
        auto dt = parse_django_datetime(text);
        return dt ? dt->isoformat() : "None";
    };
    CHECK(iso("2023-11-28 22:13:20.750000") == "2023-11-28T22:13:20.750000");
    CHECK(iso("2023-11-28 22:13:20") == "2023-11-28T22:13:20");
    CHECK(iso("2023-11-28T22:13:20+00:00") == "2023-11-28T22:13:20+00:00");
    // Only the regex accepts these: one-digit fields, a space before the zone.
    CHECK(iso("2023-1-2 3:4") == "2023-01-02T03:04:00");
    CHECK(iso("2023-1-2 3:4:5.25") == "2023-01-02T03:04:05.250000");
    CHECK(iso("2023-1-2T3:4:5,123456789") == "2023-01-02T03:04:05.123456");
    CHECK(iso("2023-1-2 3:4:5 Z") == "2023-01-02T03:04:05+00:00");
    CHECK(iso("2023-1-2 3:4:5-0130") == "2023-01-02T03:04:05-01:30");
    CHECK(iso("2023-1-2 3:4:5+01") == "2023-01-02T03:04:05+01:00");
    CHECK(iso("nonsense") == "None");
    CHECK(iso("2023-11-28") == "2023-11-28T00:00:00");  // fromisoformat takes a date alone
    CHECK(iso("2023-1-28") == "None");                  // the regex needs a time
    CHECK(iso("2023-11-28 22:13:20 trailing") == "None");
}

TEST_CASE("days_from_civil / civil_from_days round trip", "[core_units][datetime]") {
    CHECK(days_from_civil(1970, 1, 1) == 0);
    CHECK(days_from_civil(2023, 11, 14) == 19675);
    CHECK(days_from_civil(1, 1, 1) == -719162);
    for (std::int64_t d = -800000; d <= 3000000; d += 997) {
        const CivilDate c = civil_from_days(d);
        CHECK(days_from_civil(c.year, c.month, c.day) == d);
    }
}

TEST_CASE("seconds_to_micros matches timedelta(seconds=x)", "[core_units][datetime]") {
    // CPython 3.11: td = timedelta(seconds=x); (td.days*86400 + td.seconds)*10**6 + td.microseconds
    const std::map<double, std::int64_t> cases{
        {10.5, 10500000},
        {-10.5, -10500000},
        {1e-6, 1},
        {0.1, 100000},
        {1.0000005, 1000001},
        {86400.123456789, 86400123457},
        {2.5e-6, 2},
        {1.5e-6, 2},
        {5e-7, 0},
        {-5e-7, 0},
        {1e-7, 0},
        {0.3, 300000},
        {123456.7890125, 123456789012},
        {1700000000.75, 1700000000750000},
        {0.0, 0},
        {1209600.0, 1209600000000},
        // Round-half-even on the exact total, not on the rounded product x * 1e6
        // (each of these was off by one with nearbyint(x * 1e6)):
        {161732570.8770935, 161732570877093},
        {-440253116.4511485, -440253116451149},
        {-221515775.7969575, -221515775796957},
        {672830881.6570885, 672830881657089},
        {92926.5894615, 92926589461},
        {-9597492919.28243, -9597492919282431},
        {9428573162.546177, 9428573162546177},
    };
    for (const auto& [seconds, micros] : cases) {
        INFO(seconds);
        CHECK(seconds_to_micros(seconds) == micros);
    }
    // timedelta(seconds=nan) -> ValueError; inf (or beyond the datetime range,
    // where the later addition overflows in Python) -> OverflowError.
    auto python_class = [](double x) {
        try {
            (void)seconds_to_micros(x);
        } catch (const DateTimeError& e) {
            return e.python_class();
        }
        return std::string("none");
    };
    CHECK(python_class(std::nan("")) == "ValueError");
    CHECK(python_class(HUGE_VAL) == "OverflowError");
    CHECK(python_class(-HUGE_VAL) == "OverflowError");
    CHECK(python_class(1e13) == "OverflowError");
}

TEST_CASE("expiry_date with a float _session_expiry uses timedelta's exact rounding", "[core_units][expiry]") {
    SessionSettings settings;
    const DateTime modification = DateTime::from_unix_utc(1700000000'750000);
    const PyValue odd(92926.5894615);
    CHECK(expiry_date(&odd, modification, settings) == modification.plus_micros(92926589461));
    const PyValue nan(std::nan(""));
    try {
        (void)expiry_date(&nan, modification, settings);
        FAIL("no ValueError");
    } catch (const ExpiryError& e) {
        CHECK(e.python_class() == "ValueError");
    }
    // get_expiry_age returns a float unchanged (even NaN).
    CHECK(expiry_age(&nan, modification, settings).is_float());
}

// ---- session_key

TEST_CASE("random_string: CSPRNG keys over VALID_KEY_CHARS", "[core_units][session_key]") {
    std::set<std::string> keys;
    std::map<char, int> counts;
    for (int i = 0; i < 1000; ++i) {
        const std::string key = random_string(SESSION_KEY_LENGTH);
        REQUIRE(key.size() == 32u);
        for (char c : key) {
            CHECK(VALID_KEY_CHARS.find(c) != std::string_view::npos);
            ++counts[c];
        }
        keys.insert(key);
    }
    CHECK(keys.size() == 1000u);  // no repeats (2**-160-ish collision odds)
    // 32000 draws over 36 symbols: about 889 each. A modulo-biased or stuck
    // generator falls far outside; a fair one is inside with overwhelming odds.
    CHECK(counts.size() == VALID_KEY_CHARS.size());
    for (const auto& [c, n] : counts) {
        INFO(c);
        CHECK(n > 650);
        CHECK(n < 1150);
    }
    CHECK(random_string(0).empty());
    const std::string ab = random_string(64, "ab");
    CHECK(ab.size() == 64u);
    CHECK(ab.find_first_not_of("ab") == std::string::npos);
    CHECK_THROWS(random_string(4, ""));
}

TEST_CASE("is_valid_session_key counts code points; has_only_valid_key_chars", "[core_units][session_key]") {
    CHECK_FALSE(is_valid_session_key(""));
    CHECK_FALSE(is_valid_session_key("1234567"));
    CHECK(is_valid_session_key("12345678"));
    CHECK(is_valid_session_key("has space in it"));
    CHECK(is_valid_session_key("ABCDEFGH"));
    // 8 Cyrillic letters are 16 bytes; 7 are 14 bytes but still too short.
    CHECK(is_valid_session_key("\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87"));
    CHECK_FALSE(is_valid_session_key("\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87\xd0\xba\xd0\xbb\xd1\x8e"));
    CHECK(has_only_valid_key_chars("abc123xyz"));
    CHECK_FALSE(has_only_valid_key_chars("ABC"));
    CHECK_FALSE(has_only_valid_key_chars("a/b"));
    CHECK_FALSE(has_only_valid_key_chars("a\\b"));
    CHECK_FALSE(has_only_valid_key_chars("a.b"));
    CHECK(has_only_valid_key_chars(""));  // the length check is separate
}
