// sessionctl stats end to end: cli::run() on a SQLite store built here, whose
// expected counts are known row by row (and, for a larger random store,
// computed independently from what was generated), in human, --json and
// --prometheus form.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdio>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "backends/sqlite/sqlite_table.hpp"
#include "cli/app.hpp"
#include "cli/matchers.hpp"
#include "cli/prefilter.hpp"
#include "core/clock.hpp"
#include "core/json_codec.hpp"
#include "core/session_codec.hpp"
#include "core/signer.hpp"
#include "tests/cli/cli_site.hpp"
#include "tests/support/test_support.hpp"

using json = nlohmann::json;
using namespace sessionctl;

namespace {

constexpr std::int64_t kNow = 1700000000'000000;  // 2023-11-14 22:13:20 UTC
constexpr std::int64_t kSecond = 1'000'000;
constexpr std::int64_t kHour = 3600 * kSecond;
constexpr std::int64_t kDay = 24 * kHour;
constexpr const char* kSecret = "stats-test-secret-5e0c2b7a91d4f368-never-print-me";
constexpr const char* kOtherSecret = "some-other-site-secret-0000000000000000000000";

using cli_test::contains;
using cli_test::Result;

// A temp dir with a Django session database, a secret file and a config.
class StatsSite {
public:
    StatsSite() : dir_("sessionctl-stats") {
        SqliteOptions options;
        options.create_if_missing = true;
        table_ = open_sqlite_table(dir_.file("db.sqlite3"), options);
        write("secret_key", std::string(kSecret) + "\n");
        json settings = {
            {"SECRET_KEY_FILE", dir_.file("secret_key")},
            {"USE_TZ", true},
            {"DATABASES", {{"default", {{"ENGINE", "django.db.backends.sqlite3"}, {"NAME", dir_.file("db.sqlite3")}}}}},
        };
        write("config.json", settings.dump());
        clock_ = std::make_shared<FakeClock>(kNow);
    }

    void write(const std::string& name, const std::string& text) const {
        std::FILE* f = std::fopen(dir_.file(name).c_str(), "wb");
        REQUIRE(f != nullptr);
        std::fwrite(text.data(), 1, text.size(), f);
        std::fclose(f);
        ::chmod(dir_.file(name).c_str(), 0600);
    }

    // Stores `data` under a fresh key, expiring `expires_in` from kNow.
    std::string put_raw(const std::string& data, std::int64_t expires_in) {
        std::string key = fmt::format("stats{:027d}", next_++);
        REQUIRE(table_->insert(StoredSession{key, data, DateTime{kNow + expires_in, std::nullopt}}));
        return key;
    }
    // Signs a JSON payload as Django's db engine would.
    std::string put(const std::string& json_payload, std::int64_t expires_in) {
        return put_raw(codec_.encode_json(json_payload, kNow / kSecond - 60), expires_in);
    }
    std::string encode(const std::string& json_payload, const char* secret = kSecret) const {
        SessionCodec codec(SecretKeys{secret, {}}, session_key_salt("SessionStore"));
        return codec.encode_json(json_payload, kNow / kSecond - 60);
    }

    Result run(std::vector<std::string> args) {
        std::vector<std::string> full = {"sessionctl", "--config", dir_.file("config.json")};
        full.insert(full.end(), args.begin(), args.end());
        cli::RunHooks hooks;
        hooks.clock = clock_;
        return cli_test::run_cli(std::move(full), hooks, {kSecret});
    }

    json stats_json(std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"--json", "stats"};
        args.insert(args.end(), extra.begin(), extra.end());
        Result r = run(args);
        INFO(r.err);
        REQUIRE(r.code == 0);
        return json::parse(r.out);
    }

private:
    testing::TempDir dir_;
    std::unique_ptr<SqliteTable> table_;
    std::shared_ptr<FakeClock> clock_;
    SessionCodec codec_{SecretKeys{kSecret, {}}, session_key_salt("SessionStore")};
    int next_ = 0;
};

std::string user_payload(const std::string& id_json, const std::string& extra = "") {
    return fmt::format(R"({{"_auth_user_id":{},"_auth_user_backend":"django.contrib.auth.backends.ModelBackend",)"
                       R"("_auth_user_hash":"{}"{}}})",
                       id_json, std::string(64, 'a'), extra);
}

// Nearest-rank percentile of sorted values (1-based rank ceil(p*n)).
std::size_t nearest_rank(const std::vector<std::size_t>& sorted, std::uint64_t percent) {
    std::size_t rank = static_cast<std::size_t>((percent * sorted.size() + 99) / 100);
    return sorted[std::max<std::size_t>(rank, 1) - 1];
}

}  // namespace

TEST_CASE("stats counts every state, kind, user and expiry bucket of a known store", "[cli][stats]") {
    StatsSite site;
    std::vector<std::size_t> sizes;
    auto put = [&](const std::string& payload, std::int64_t expires_in) {
        std::string key = site.put(payload, expires_in);
        sizes.push_back(site.encode(payload).size());
        return key;
    };
    auto put_raw = [&](const std::string& data, std::int64_t expires_in) {
        site.put_raw(data, expires_in);
        sizes.push_back(data.size());
    };

    // Authenticated: "7" x3 (1 expired), "42" x3 as str and int (1 expired),
    // "4" x1 expired, "007" (not the same user as 7), "alice", a quote-and-backslash id.
    put(user_payload(R"("7")"), 2 * kHour);
    put(user_payload(R"("7")", R"(,"_language":"fr")"), 3 * kDay);
    put(user_payload(R"("7")"), -kHour);
    put(user_payload(R"("42")"), 30 * 60 * kSecond);
    put(user_payload(R"("42")"), 10 * kDay);
    put(user_payload("42"), -5 * kDay);  // an integer id is the same user (as --user 42 matches it)
    put(user_payload(R"("4")"), -kSecond);
    put(user_payload(R"("007")"), 60 * kDay);
    put(user_payload(R"("alice")"), 20 * kDay);
    put(user_payload(R"("q\"b\\s")"), 2 * kDay);
    // Anonymous (verified dicts without _auth_user_id).
    put("{}", kHour / 2);
    put(R"({"cart":{"items":[1,2,3]}})", -2 * kDay);
    put(R"({"_auth_user_id_x":"1"})", 40 * kDay);
    put(R"({"testcookie":"worked"})", 0);  // expires exactly now: expired, as Django's load() judges
    // Undecodable: another site's secret, tampered, verified but not a dict, garbage.
    put_raw(site.encode(user_payload(R"("7")"), kOtherSecret), kDay / 2);
    std::string tampered = site.encode(user_payload(R"("42")"));
    tampered[tampered.size() - 1] = tampered.back() == 'A' ? 'B' : 'A';
    put_raw(tampered, -kDay);
    put("[1,2,3]", 8 * kDay);
    put_raw("not a session at all", 100 * kDay);

    json j = site.stats_json({"--top", "3"});
    CHECK(j["total"] == 18);
    CHECK(j["live"] == 12);
    CHECK(j["expired"] == 6);
    CHECK(j["authenticated"] == 10);
    CHECK(j["anonymous"] == 4);
    CHECK(j["undecodable"] == 4);
    CHECK(j["users"] == 6);  // 7, 42, 4, 007, alice, q"b\s

    REQUIRE(j["top_users"].size() == 3);
    CHECK(j["top_users"][0] == json({{"user_id", "7"}, {"sessions", 3}, {"live", 2}}));
    CHECK(j["top_users"][1] == json({{"user_id", "42"}, {"sessions", 3}, {"live", 2}}));
    CHECK(j["top_users"][2] == json({{"user_id", "4"}, {"sessions", 1}, {"live", 0}}));

    json expiry = j["expiry"];
    CHECK(expiry["expired"] == 6);
    CHECK(expiry["lt_1h"] == 2);   // 42 +30min, anonymous +30min
    CHECK(expiry["lt_1d"] == 2);   // 7 +2h, other-secret +12h
    CHECK(expiry["lt_7d"] == 2);   // 7 +3d, q"b\s +2d
    CHECK(expiry["lt_30d"] == 3);  // 42 +10d, alice +20d, [1,2,3] +8d
    CHECK(expiry["later"] == 3);   // 007 +60d, anonymous +40d, garbage +100d
    CHECK(expiry["unknown"] == 0);

    std::sort(sizes.begin(), sizes.end());
    json size = j["size"];
    CHECK(size["min"] == sizes.front());
    CHECK(size["max"] == sizes.back());
    CHECK(size["median"] == nearest_rank(sizes, 50));
    CHECK(size["p90"] == nearest_rank(sizes, 90));
    CHECK(size["p99"] == nearest_rank(sizes, 99));
    std::size_t total = 0;
    for (auto s : sizes) total += s;
    CHECK(size["total"] == total);
}

TEST_CASE("stats keeps big and non-canonical user ids apart and orders ties by id", "[cli][stats]") {
    StatsSite site;
    for (const char* id :
         {"99999999999999999999", "18446744073709551615", "4294967296", "4294967295", "4294967294", "1", "01", "x"})
        site.put(user_payload(json(id).dump()), kDay);
    site.put(user_payload("4294967296"), -kDay);  // an integer: the same user as "4294967296"
    json j = site.stats_json({"--top", "20"});
    CHECK(j["users"] == 8);
    std::vector<std::string> order;
    for (const auto& u : j["top_users"]) order.push_back(u["user_id"]);
    // Most sessions first; ties: ids of up to 19 digits in numeric order, then the others as text.
    CHECK(order == std::vector<std::string>{"4294967296", "1", "4294967294", "4294967295", "01", "18446744073709551615",
                                            "99999999999999999999", "x"});
    CHECK(j["top_users"][0]["sessions"] == 2);
    CHECK(j["top_users"][0]["live"] == 1);
}

TEST_CASE("stats on a larger random store equals counts computed from what was written", "[cli][stats]") {
    // Enough rows for many scan pages and decoding batches on every worker.
    StatsSite site;
    std::mt19937 rng(6);
    std::uint64_t live = 0, expired = 0, authenticated = 0, anonymous = 0, undecodable = 0;
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> users;  // id -> sessions, live
    std::map<std::string, std::uint64_t> buckets;
    std::vector<std::size_t> sizes;
    const std::vector<std::pair<std::int64_t, const char*>> offsets = {
        {-3 * kDay, "expired"}, {-kSecond, "expired"}, {20 * 60 * kSecond, "lt_1h"}, {5 * kHour, "lt_1d"},
        {2 * kDay, "lt_7d"},    {14 * kDay, "lt_30d"}, {90 * kDay, "later"}};
    for (int i = 0; i < 3000; ++i) {
        const auto& [offset, bucket] = offsets[rng() % offsets.size()];
        const bool is_live = offset > 0;
        const unsigned kind = rng() % 10;
        std::string data;
        if (kind < 7) {  // a user among 1..60, sometimes as an int, sometimes a text id
            std::string id = kind == 6 ? fmt::format("u{}", rng() % 5) : std::to_string(1 + rng() % 60);
            const bool as_int = kind == 5;
            std::string extra = std::string(rng() % 200, 'x');
            data = site.encode(user_payload(as_int ? id : json(id).dump(), fmt::format(R"(,"pad":"{}")", extra)));
            ++authenticated;
            auto& u = users[id];
            ++u.first;
            if (is_live) ++u.second;
        } else if (kind < 9) {
            data = site.encode(fmt::format(R"({{"n":{}}})", rng()));
            ++anonymous;
        } else {
            data = site.encode(user_payload(R"("1")"), kOtherSecret);
            ++undecodable;
        }
        site.put_raw(data, offset);
        sizes.push_back(data.size());
        ++(is_live ? live : expired);
        ++buckets[bucket];
    }

    json j = site.stats_json({"--top", "5"});
    CHECK(j["total"] == 3000);
    CHECK(j["live"] == live);
    CHECK(j["expired"] == expired);
    CHECK(j["authenticated"] == authenticated);
    CHECK(j["anonymous"] == anonymous);
    CHECK(j["undecodable"] == undecodable);
    CHECK(j["users"] == users.size());
    for (const auto& [name, n] : buckets) CHECK(j["expiry"][name] == n);
    CHECK(j["expiry"]["unknown"] == 0);

    std::sort(sizes.begin(), sizes.end());
    CHECK(j["size"]["min"] == sizes.front());
    CHECK(j["size"]["median"] == nearest_rank(sizes, 50));
    CHECK(j["size"]["p90"] == nearest_rank(sizes, 90));
    CHECK(j["size"]["p99"] == nearest_rank(sizes, 99));
    CHECK(j["size"]["max"] == sizes.back());

    // The top 5: most sessions first, ties by id (numeric ids in numeric order, before text ids).
    struct Ranked {
        std::string id;
        std::uint64_t sessions, live;
    };
    std::vector<Ranked> ranked;
    for (const auto& [id, c] : users) ranked.push_back({id, c.first, c.second});
    auto numeric = [](const std::string& id) { return !id.empty() && id[0] != 'u'; };
    std::sort(ranked.begin(), ranked.end(), [&](const Ranked& a, const Ranked& b) {
        if (a.sessions != b.sessions) return a.sessions > b.sessions;
        if (numeric(a.id) != numeric(b.id)) return numeric(a.id);
        if (numeric(a.id)) return std::stoull(a.id) < std::stoull(b.id);
        return a.id < b.id;
    });
    REQUIRE(j["top_users"].size() == 5);
    for (std::size_t i = 0; i < 5; ++i) {
        INFO(i);
        CHECK(j["top_users"][i]["user_id"] == ranked[i].id);
        CHECK(j["top_users"][i]["sessions"] == ranked[i].sessions);
        CHECK(j["top_users"][i]["live"] == ranked[i].live);
    }
}

TEST_CASE("stats human output, --top 0, and an empty store", "[cli][stats]") {
    StatsSite site;
    Result empty = site.run({"stats"});
    REQUIRE(empty.code == 0);
    CHECK(contains(empty.out, "sessions"));
    CHECK(contains(empty.out, "no sessions"));
    json j = site.stats_json();
    CHECK(j["total"] == 0);
    CHECK(j["users"] == 0);
    CHECK(j["top_users"].empty());
    CHECK(j["size"]["median"].is_null());
    CHECK(j["size"]["total"] == 0);

    site.put(user_payload(R"("42")"), kDay * 2);
    site.put(user_payload(R"("42")"), -kDay);
    site.put("{}", kHour * 2);
    Result human = site.run({"stats"});
    REQUIRE(human.code == 0);
    CHECK(contains(human.out, "live"));
    CHECK(contains(human.out, "authenticated"));
    CHECK(contains(human.out, "undecodable"));
    CHECK(contains(human.out, "  42 "));
    CHECK(contains(human.out, "median"));
    CHECK(contains(human.out, "within 7d"));
    CHECK_FALSE(contains(human.out, "unknown"));

    CHECK(site.stats_json({"--top", "0"})["top_users"].empty());
    CHECK(site.run({"-q", "stats"}).out.empty());
}

TEST_CASE("stats --prometheus writes the textfile-collector format", "[cli][stats]") {
    StatsSite site;
    site.put(user_payload(R"("42")"), kDay * 2);
    site.put(user_payload(R"("a\"b\\c")"), kDay * 3);
    site.put(user_payload(R"("42")"), -kDay);
    site.put("{}", kHour * 2);
    site.put_raw("garbage", kHour);
    Result r = site.run({"stats", "--prometheus"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    const std::string& out = r.out;
    CHECK(contains(out, "# HELP sessionctl_sessions "));
    CHECK(contains(out, "# TYPE sessionctl_sessions gauge\n"));
    CHECK(contains(out, "\nsessionctl_sessions{state=\"live\"} 4\n"));
    CHECK(contains(out, "\nsessionctl_sessions{state=\"expired\"} 1\n"));
    CHECK(contains(out, "\nsessionctl_sessions_by_kind{kind=\"authenticated\"} 3\n"));
    CHECK(contains(out, "\nsessionctl_sessions_by_kind{kind=\"anonymous\"} 1\n"));
    CHECK(contains(out, "\nsessionctl_sessions_by_kind{kind=\"undecodable\"} 1\n"));
    CHECK(contains(out, "\nsessionctl_sessions_by_expiry{expires_in=\"lt_1d\"} 2\n"));
    CHECK(contains(out, "\nsessionctl_users 2\n"));
    CHECK(contains(out, "\nsessionctl_user_sessions{user_id=\"42\"} 2\n"));
    CHECK(contains(out, "\nsessionctl_user_sessions{user_id=\"a\\\"b\\\\c\"} 1\n"));
    CHECK(contains(out, "# TYPE sessionctl_session_data_bytes summary\n"));
    CHECK(contains(out, "\nsessionctl_session_data_bytes{quantile=\"0\"} 7\n"));  // "garbage"
    CHECK(contains(out, "\nsessionctl_session_data_bytes_count 5\n"));
    CHECK(contains(out, "\nsessionctl_stats_last_run_timestamp_seconds 1700000000.000\n"));
    CHECK(contains(out, "\nsessionctl_sessions_by_key{verified_with=\"SECRET_KEY\"} 4\n"));
    CHECK(contains(out, "\nsessionctl_sessions_by_key{verified_with=\"unverified\"} 1\n"));
    // Every sample line belongs to a family announced by HELP and TYPE, and the file ends in a newline.
    REQUIRE_FALSE(out.empty());
    CHECK(out.back() == '\n');
    std::istringstream lines(out);
    std::string family;
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("# TYPE ", 0) == 0) family = line.substr(7, line.find(' ', 7) - 7);
        if (line.empty() || line[0] == '#') continue;
        INFO(line);
        CHECK_FALSE(family.empty());
        CHECK(line.rfind(family, 0) == 0);
    }

    Result both = site.run({"--json", "stats", "--prometheus"});
    CHECK(both.code == 2);
    CHECK(contains(both.err, "exclude each other"));

    StatsSite empty;
    Result none = empty.run({"stats", "--prometheus"});
    CHECK(contains(none.out, "sessionctl_session_data_bytes{quantile=\"0.5\"} NaN\n"));
    CHECK_FALSE(contains(none.out, "sessionctl_user_sessions"));
}

// ---- --user prefilter

namespace {

// json.dumps(s) with ensure_ascii, as Django writes a str: quotes and
// backslashes escaped, anything beyond ASCII as \uXXXX (surrogate pairs).
std::string py_json_string(const std::string& utf8) {
    std::string out = "\"";
    for (std::size_t i = 0; i < utf8.size();) {
        unsigned char c = static_cast<unsigned char>(utf8[i]);
        std::uint32_t cp = c;
        std::size_t len = 1;
        if (c >= 0xF0) cp = c & 0x07, len = 4;
        else if (c >= 0xE0) cp = c & 0x0F, len = 3;
        else if (c >= 0xC0) cp = c & 0x1F, len = 2;
        for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
        i += len;
        if (cp == '"') out += "\\\"";
        else if (cp == '\\') out += "\\\\";
        else if (cp < 0x20) out += fmt::format("\\u{:04x}", cp);
        else if (cp < 0x80) out += static_cast<char>(cp);
        else if (cp < 0x10000) out += fmt::format("\\u{:04x}", cp);
        else {
            cp -= 0x10000;
            out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
        }
    }
    return out + "\"";
}

// The JSON spellings of _auth_user_id a store may hold: Django's own (str(pk)
// through json.dumps) and every other way valid JSON can say it.
std::vector<std::string> id_spellings() {
    std::vector<std::string> ids = {"4",
                                    "42",
                                    "420",
                                    "0",
                                    "43",
                                    "7",
                                    "q\"uote",
                                    "back\\slash",
                                    "\xc3\xa9",
                                    "\xe6\x97\xa5\xe6\x9c\xac",
                                    "\xf0\x9f\x98\x80",
                                    "a b",
                                    "-5",
                                    "123456789012345678901234567890",
                                    "4 2",
                                    "042"};
    std::vector<std::string> out;
    for (const auto& id : ids) out.push_back(py_json_string(id));
    const std::vector<std::string> more = {"42",
                                           "4",
                                           "420",
                                           "-5",
                                           "-0",
                                           "0",
                                           "042.0",
                                           "42.0",
                                           "4.2e1",
                                           "4e1",
                                           "123456789012345678901234567890",
                                           "-123456789012345678901234567890",
                                           "true",
                                           "false",
                                           "null",
                                           "[42]",
                                           "{\"id\":\"42\"}",
                                           R"("\u0034\u0032")",  // "42" with escapes Django never writes
                                           R"("4\u0032")",
                                           R"("\u00e9")",
                                           "\"\xc3\xa9\"",  // raw UTF-8 (latin-1 read: another string)
                                           "\"\xe9\"",      // a raw latin-1 byte: "é" as Django reads it
                                           R"("42 ")",
                                           R"(" 42")",
                                           "\"\""};
    out.insert(out.end(), more.begin(), more.end());
    return out;
}

// A JSON object text holding `spelled` as _auth_user_id in one of many layouts.
std::string layout(std::mt19937& rng, const std::string& spelled) {
    const std::string pad = std::string(rng() % 3 == 0 ? 300 : rng() % 20, 'p');  // long ones get compressed
    switch (rng() % 10) {
        case 0: return fmt::format(R"({{"_auth_user_id":{},"pad":"{}"}})", spelled, pad);
        case 1: return fmt::format(R"({{ "_auth_user_id" : {} , "pad":"{}"}})", spelled, pad);
        case 2: return fmt::format("{{\n\t\"pad\":\"{}\",\r\n\"_auth_user_id\"\n:\t{}\n}}", pad, spelled);
        case 3: return fmt::format(R"({{"_auth_user_id":{},"_auth_user_id":"43","pad":"{}"}})", spelled, pad);
        case 4: return fmt::format(R"({{"_auth_user_id":"43","_auth_user_id":{},"pad":"{}"}})", spelled, pad);
        case 5: return fmt::format(R"({{"nested":{{"_auth_user_id":{}}},"pad":"{}"}})", spelled, pad);
        case 6: return fmt::format(R"({{"k":"_auth_user_id","v":{},"pad":"{}"}})", spelled, pad);
        case 7: return fmt::format(R"([{{"_auth_user_id":{}}},"{}"])", spelled, pad);
        case 8: return fmt::format(R"({{"\u005fauth_user_id":{},"pad":"{}"}})", spelled, pad);
        default: return fmt::format(R"({{"_auth_user_id":{},"_auth_user_backend":"b","pad":"{}"}} )", spelled, pad);
    }
}

struct Corpus {
    std::vector<std::string> blobs;
};

// Blobs of every kind: the layouts above signed with the site's key, some
// with another key, some tampered, legacy-format ones, and broken ones.
Corpus make_corpus(std::mt19937& rng, std::size_t n) {
    SessionCodec codec(SecretKeys{kSecret, {}}, session_key_salt("SessionStore"));
    SessionCodec other(SecretKeys{kOtherSecret, {}}, session_key_salt("SessionStore"));
    const auto spellings = id_spellings();
    Corpus c;
    for (std::size_t i = 0; i < n; ++i) {
        const std::string text = layout(rng, spellings[rng() % spellings.size()]);
        const unsigned kind = rng() % 20;
        std::string blob;
        if (kind == 0) {
            blob = other.encode_json(text, kNow / kSecond);
        } else if (kind == 1) {
            blob = codec.encode_json(text, kNow / kSecond);
            blob[blob.size() / 2] = blob[blob.size() / 2] == 'x' ? 'y' : 'x';
        } else if (kind == 2) {
            try {
                blob = codec.encode_legacy(json_loads_latin1(text));
            } catch (const std::exception&) {
                blob = codec.encode_json(text, kNow / kSecond);
            }
        } else if (kind == 3) {
            blob = codec.encode_json(text.substr(0, text.size() / 2), kNow / kSecond);  // signed, broken JSON
        } else {
            blob = codec.encode_json(text, kNow / kSecond);
        }
        c.blobs.push_back(std::move(blob));
    }
    return c;
}

// The full-parse verdict: a verified dict whose _auth_user_id reads as `user`.
bool full_parse_matches(const SessionCodec& codec, const std::string& blob, const std::string& user) {
    DecodeResult d = codec.decode(blob);
    if (!d.ok() || !d.verified || !d.data.is_dict()) return false;
    return cli::user_id_of(d.data.as_dict()) == user;
}

const std::vector<std::string> kQueryIds = {"4",
                                            "42",
                                            "420",
                                            "0",
                                            "43",
                                            "q\"uote",
                                            "back\\slash",
                                            "\xc3\xa9",
                                            "\xc3\x83\xc2\xa9",
                                            "\xe6\x97\xa5\xe6\x9c\xac",
                                            "\xf0\x9f\x98\x80",
                                            "-5",
                                            "123456789012345678901234567890",
                                            "-123456789012345678901234567890",
                                            "042",
                                            "42.0",
                                            "a b",
                                            "7"};

}  // namespace

TEST_CASE("--user prefilter never rejects a session the full parse matches", "[cli][prefilter]") {
    std::mt19937 rng(4242);
    const Corpus corpus = make_corpus(rng, 4000);
    SessionCodec codec(SecretKeys{kSecret, {}}, session_key_salt("SessionStore"));
    Signer signer(SecretKeys{kSecret, {}}, codec.salt());
    std::size_t matches = 0, rejected = 0, plain_non_matches = 0;
    for (const auto& user : kQueryIds) {
        for (const auto& blob : corpus.blobs) {
            const bool expected = full_parse_matches(codec, blob, user);
            const bool rejects = cli::user_prefilter_rejects(signer, blob, user);
            INFO("user " << user << " blob " << blob);
            // Rejected means "cannot match": a miss would be a rejected match.
            if (expected) CHECK_FALSE(rejects);
            matches += expected;
            rejected += rejects;
            plain_non_matches += !expected;
        }
    }
    // Every id form was matched somewhere, and the prefilter does its job.
    CHECK(matches > 100);
    CHECK(rejected > plain_non_matches / 3);

    // Django's own sessions: a prefix of another id is no match, and only
    // the exact id is a candidate.
    auto django = [&](const std::string& id_json) { return codec.encode_json(user_payload(id_json), kNow / kSecond); };
    CHECK(cli::user_prefilter_rejects(signer, django(R"("42")"), "4"));
    CHECK(cli::user_prefilter_rejects(signer, django(R"("4")"), "42"));
    CHECK(cli::user_prefilter_rejects(signer, django(R"("420")"), "42"));
    CHECK_FALSE(cli::user_prefilter_rejects(signer, django(R"("42")"), "42"));
    CHECK_FALSE(cli::user_prefilter_rejects(signer, django("42"), "42"));  // an integer id
    CHECK(cli::user_prefilter_rejects(signer, django("42"), "4"));
    CHECK(cli::user_prefilter_rejects(signer, django("420"), "42"));
    // Escaped ids go to the full parse; a bad signature is never rejected here (the full decode reports it).
    CHECK_FALSE(cli::user_prefilter_rejects(signer, django(R"("q\"uote")"), "42"));
    CHECK_FALSE(cli::user_prefilter_rejects(
        signer,
        SessionCodec(SecretKeys{kOtherSecret, {}}, session_key_salt("SessionStore")).encode_json(user_payload("42"), 1),
        "42"));
}

TEST_CASE("--where prefilter never rejects a session the full parse matches", "[cli][prefilter]") {
    std::mt19937 rng(777);
    const Corpus corpus = make_corpus(rng, 3000);
    SessionCodec codec(SecretKeys{kSecret, {}}, session_key_salt("SessionStore"));
    // Plain strings, JSON strings, strings needing escapes, numbers in every
    // spelling, JSON literals, nested paths, and two clauses at once.
    std::vector<std::vector<std::string>> queries;
    for (const auto& id : kQueryIds) {
        queries.push_back({"_auth_user_id=" + id});
        queries.push_back({"_auth_user_id=" + py_json_string(id)});
        queries.push_back({"nested._auth_user_id=" + id});
    }
    for (const std::string v : {"42.0", "4.2e1", "1e16", "10000000000000000", "true", "null", "[42]", "43"})
        queries.push_back({"_auth_user_id=" + v});
    queries.push_back({"_auth_user_id=42", "pad=" + std::string(19, 'p')});
    queries.push_back({"_auth_user_backend=b", "_auth_user_id=43"});
    std::size_t matches = 0, rejected = 0;
    for (const auto& specs : queries) {
        const cli::SessionFilter filter = cli::make_filter(std::nullopt, specs);
        const cli::Prefilter prefilter(Signer(SecretKeys{kSecret, {}}, codec.salt()), filter);
        for (const auto& blob : corpus.blobs) {
            DecodeResult d = codec.decode(blob);
            const bool expected = d.ok() && d.verified && d.data.is_dict() && filter.matches(d.data.as_dict());
            const bool rejects = prefilter.rejects(blob);
            INFO("where " << fmt::format("{}", fmt::join(specs, " ")) << " blob " << blob);
            if (expected) CHECK_FALSE(rejects);
            matches += expected;
            rejected += rejects;
        }
    }
    CHECK(matches > 100);
    // It does its job where it applies (numeric and literal VALUEs rule nothing out).
    CHECK(rejected > corpus.blobs.size() * queries.size() / 4);
    // A numeric VALUE rules nothing out (1e16 == 10000000000000000 in Python).
    const cli::Prefilter numeric(Signer(SecretKeys{kSecret, {}}, codec.salt()),
                                 cli::make_filter(std::nullopt, {"_auth_user_id=42"}));
    CHECK_FALSE(numeric.active());
}

TEST_CASE("inspect --user and delete --user with the prefilter equal a full-parse scan", "[cli][prefilter]") {
    StatsSite site;
    std::mt19937 rng(99);
    const Corpus corpus = make_corpus(rng, 1500);
    SessionCodec codec(SecretKeys{kSecret, {}}, session_key_salt("SessionStore"));
    std::vector<std::pair<std::string, std::string>> rows;  // key, blob
    for (const auto& blob : corpus.blobs) rows.emplace_back(site.put_raw(blob, (rng() % 2 ? 1 : -1) * kDay), blob);

    for (const auto& user : kQueryIds) {
        INFO("user " << user);
        std::set<std::string> expected;
        for (const auto& [key, blob] : rows)
            if (full_parse_matches(codec, blob, user)) expected.insert(key);

        Result shown = site.run({"inspect", "--user=" + user, "--keys-only"});
        std::set<std::string> got;
        std::istringstream lines(shown.out);
        for (std::string line; std::getline(lines, line);) got.insert(line);
        CHECK(got == expected);
        CHECK(shown.code == (expected.empty() ? 1 : 0));

        Result dry = site.run({"--json", "delete", "--user=" + user, "--dry-run"});
        json j = json::parse(dry.out);
        CHECK(j["matched"] == expected.size());
        std::set<std::string> keys;
        for (const auto& k : j["keys"]) keys.insert(k.get<std::string>());
        CHECK(keys == expected);
    }

    // --where goes through the same prefilter: string-valued clauses rule out.
    for (const std::string spec : {"_auth_user_id=42", "_auth_user_id=\"42\"", "nested._auth_user_id=4"}) {
        INFO("where " << spec);
        const cli::SessionFilter filter = cli::make_filter(std::nullopt, {spec});
        std::set<std::string> expected;
        for (const auto& [key, blob] : rows) {
            DecodeResult d = codec.decode(blob);
            if (d.ok() && d.verified && d.data.is_dict() && filter.matches(d.data.as_dict())) expected.insert(key);
        }
        Result shown = site.run({"inspect", "--where", spec, "--keys-only"});
        std::set<std::string> got;
        std::istringstream lines(shown.out);
        for (std::string line; std::getline(lines, line);) got.insert(line);
        CHECK(got == expected);
        Result dry = site.run({"--json", "delete", "--where", spec, "--dry-run"});
        CHECK(json::parse(dry.out)["matched"] == expected.size());
    }

    // Deleting for real removes exactly the matches; the rest stays.
    std::set<std::string> expected;
    for (const auto& [key, blob] : rows)
        if (full_parse_matches(codec, blob, "42")) expected.insert(key);
    REQUIRE_FALSE(expected.empty());
    Result del = site.run({"--json", "delete", "--user", "42"});
    INFO(del.err);
    CHECK(json::parse(del.out)["deleted"] == expected.size());
    CHECK(site.run({"inspect", "--user", "42"}).code == 1);
    Result rest = site.run({"inspect", "--all", "--keys-only"});
    std::size_t left = 0;
    std::istringstream lines(rest.out);
    for (std::string line; std::getline(lines, line);) {
        CHECK(expected.count(line) == 0);
        ++left;
    }
    CHECK(left == rows.size() - expected.size());
}
