// sessionctl end to end: cli::run() on a temporary SQLite database and config,
// output captured, every exit code class checked, and the secret never shown.

#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/sqlite/sqlite_table.hpp"
#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "cli/file_lock.hpp"
#include "core/auth_hash.hpp"
#include "core/clock.hpp"
#include "core/session_codec.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace sessionctl;

namespace {

constexpr std::int64_t kNow = 1700000000'000000;  // 2023-11-14 22:13:20 UTC
constexpr const char* kSecret = "cli-test-secret-3f9a1c7e5b2d8f04-never-print-me";
constexpr const char* kFallback = "cli-test-old-secret-77aa19c04e-never-print-me";

struct Result {
    int code;
    std::string out;
    std::string err;
};

std::vector<json> json_lines(const std::string& text) {
    std::vector<json> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(json::parse(line));
    return out;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// A site: a temp dir with a Django session database, a secret file and a
// config file naming both; run() calls cli::run() against it.
class Site {
public:
    explicit Site(json extra_settings = json::object(), bool create_db = true) {
        std::string pattern = (fs::temp_directory_path() / "sessionctl-cli-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        dir_ = pattern;
        db_ = (dir_ / "db.sqlite3").string();
        write_file("secret_key", std::string(kSecret) + "\n", 0600);
        write_file("old_keys", std::string(kFallback) + "\n", 0600);
        if (create_db) {
            SqliteOptions options;
            options.create_if_missing = true;
            (void)open_sqlite_table(db_, options);
        }
        json settings = {
            {"SECRET_KEY_FILE", file("secret_key")},
            {"SECRET_KEY_FALLBACKS_FILE", file("old_keys")},
            {"DATABASES", {{"default", {{"ENGINE", "django.db.backends.sqlite3"}, {"NAME", db_}}}}},
        };
        settings.update(extra_settings);
        write_config(settings);
        clock_ = std::make_shared<FakeClock>(kNow);
    }
    ~Site() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    Site(const Site&) = delete;
    Site& operator=(const Site&) = delete;

    [[nodiscard]] std::string file(const std::string& name) const { return (dir_ / name).string(); }
    [[nodiscard]] const std::string& db() const { return db_; }
    FakeClock& clock() { return *clock_; }

    // What "another request" does at a race point of the next runs.
    std::function<void(std::string_view point, std::string_view key)> race_hook;

    void write_file(const std::string& name, const std::string& text, mode_t mode = 0600) const {
        std::ofstream(file(name), std::ios::binary) << text;
        ::chmod(file(name).c_str(), mode);
    }
    void write_config(const json& settings) const { write_file("config.json", settings.dump(2), 0600); }

    Result run(const std::vector<std::string>& args, const std::string& input = "") {
        std::vector<std::string> full = {"sessionctl", "--config", file("config.json")};
        full.insert(full.end(), args.begin(), args.end());
        return run_raw(full, input);
    }

    Result run_raw(std::vector<std::string> full, const std::string& input = "") {
        std::vector<char*> argv;
        for (auto& a : full) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::istringstream in(input);
        std::ostringstream out, err;
        cli::RunHooks hooks;
        hooks.clock = clock_;
        hooks.race_hook = race_hook;
        int code = cli::run(static_cast<int>(full.size()), argv.data(), in, out, err, hooks);
        Result r{code, out.str(), err.str()};
        // Whatever happened, no secret is ever printed.
        CHECK_FALSE(contains(r.out, kSecret));
        CHECK_FALSE(contains(r.err, kSecret));
        CHECK_FALSE(contains(r.out, kFallback));
        CHECK_FALSE(contains(r.err, kFallback));
        return r;
    }

    // create, returning the new key.
    std::string create(const std::vector<std::string>& args = {}) {
        std::vector<std::string> full = {"create"};
        full.insert(full.end(), args.begin(), args.end());
        Result r = run(full);
        REQUIRE(r.code == 0);
        auto lines = lines_of(r.out);
        REQUIRE(lines.size() == 2);
        return lines[0];
    }

    json inspect_json(const std::string& key) {
        Result r = run({"--json", "inspect", key});
        INFO(r.err);
        auto rows = json_lines(r.out);
        REQUIRE(rows.size() == 1);
        return rows[0];
    }

    std::unique_ptr<SqliteTable> table() { return open_sqlite_table(db_); }

    std::optional<StoredSession> row(const std::string& key) { return table()->select(key); }

    std::size_t row_count() {
        std::size_t n = 0;
        table()->scan([&](const StoredSession&) {
            ++n;
            return true;
        });
        return n;
    }

    SessionCodec codec(std::string salt = session_key_salt("SessionStore")) const {
        return SessionCodec(SecretKeys{kSecret, {kFallback}}, std::move(salt));
    }

private:
    fs::path dir_;
    std::string db_;
    std::shared_ptr<FakeClock> clock_;
};

// Holds SQLite's write lock like a Django request in the middle of a transaction.
class DbLocker {
public:
    explicit DbLocker(const std::string& path) {
        REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
    }
    ~DbLocker() {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close_v2(db_);
    }
    DbLocker(const DbLocker&) = delete;
    DbLocker& operator=(const DbLocker&) = delete;

private:
    sqlite3* db_ = nullptr;
};

DateTime naive_utc(std::int64_t micros) { return DateTime{micros, std::nullopt}; }

}  // namespace

// ---- create / inspect

TEST_CASE("create writes a session Django accepts and prints key and cookie", "[cli][run]") {
    Site site;
    Result r = site.run({"create", "--data", R"({"cart":[1,2],"name":"Zoë","big":123456789012345678901234567890})"});
    REQUIRE(r.code == 0);
    auto lines = lines_of(r.out);
    REQUIRE(lines.size() == 2);
    const std::string key = lines[0];
    CHECK(key.size() == 32);
    CHECK(lines[1] == "Cookie: sessionid=" + key);

    auto stored = site.row(key);
    REQUIRE(stored);
    DecodeResult d = site.codec().decode(stored->data);
    REQUIRE(d.ok());
    CHECK(d.verified_with() == "SECRET_KEY");
    REQUIRE(d.data.is_dict());
    // UTF-8 input stays UTF-8 (not latin-1 mojibake) and big ints are exact.
    CHECK(*d.data.as_dict().find("name") == PyValue("Zo\xc3\xab"));
    CHECK(*d.data.as_dict().find("big") == PyValue(PyBigInt{"123456789012345678901234567890"}));
    CHECK(stored->expire_date->str_naive() == "2023-11-28 22:13:20");

    json j = site.inspect_json(key);
    CHECK(j["key"] == key);
    CHECK(j["data"]["cart"] == json::array({1, 2}));
    CHECK(j["data"]["name"] == "Zoë");
    CHECK(j["data"]["big"].is_number());  // exact in the text, as Django holds it:
    CHECK(contains(site.run({"--json", "inspect", key}).out, "\"big\":123456789012345678901234567890"));
    CHECK(j["expire_date"] == "2023-11-28T22:13:20+00:00");
    CHECK(j["expired"] == false);
    CHECK(j["user_id"].is_null());
    CHECK(j["verified_with"] == "SECRET_KEY");
    CHECK(j["error"].is_null());
    CHECK(j["size"] == stored->data.size());
    CHECK(j["format"] == "signed");
}

TEST_CASE("create --user logs a user in with Django's three keys", "[cli][run]") {
    Site site;
    const std::string password = "pbkdf2_sha256$600000$salt$hash=";
    Result r =
        site.run({"--json", "create", "--user", "42", "--password-hash", "-", "--expiry", "3600"}, password + "\n");
    REQUIRE(r.code == 0);
    json out = json::parse(r.out);
    const std::string key = out["key"];
    CHECK(out["cookie"] == "sessionid=" + key);
    CHECK(r.err.empty());

    DecodeResult d = site.codec().decode(site.row(key)->data);
    const PyDict& data = d.data.as_dict();
    REQUIRE(data.entries().size() == 4);
    CHECK(data.entries()[0].key == "_auth_user_id");
    CHECK(*data.find("_auth_user_id") == PyValue("42"));
    CHECK(*data.find("_auth_user_backend") == PyValue("django.contrib.auth.backends.ModelBackend"));
    CHECK(*data.find("_auth_user_hash") == PyValue(session_auth_hash(password, kSecret)));
    CHECK(*data.find("_session_expiry") == PyValue(3600));
    CHECK(site.row(key)->expire_date->str_naive() == "2023-11-14 23:13:20");

    Result human = site.run({"inspect", key});
    REQUIRE(human.code == 0);
    CHECK(contains(human.out, "session  " + key + "\n"));
    CHECK(contains(human.out, "  expires  2023-11-14 23:13:20 UTC (in 1 hour)\n"));
    CHECK(contains(human.out, "  user     42\n"));
    CHECK(contains(human.out, "  verified SECRET_KEY\n"));
    CHECK(contains(human.out, "  data     {\n"));
    CHECK(contains(human.out, "\"_auth_user_id\": \"42\""));
}

TEST_CASE("create --user without a password hash needs the user table", "[cli][run]") {
    Site site;  // a session table, no auth_user
    Result r = site.run({"create", "--user", "7", "--expiry", "browser-close"});
    CHECK(r.code == 2);
    CHECK(contains(r.err, "no user table auth_user in " + site.db()));
    CHECK(site.row_count() == 0);
    CHECK(site.run({"create", "--user", "7", "--password-hash", "h", "--auth-backend", "myapp.Backend"}).code == 2);
}

TEST_CASE("create rejects bad input before touching the store", "[cli][run]") {
    Site site;
    CHECK(site.run({"create", "--data", "[1,2]"}).code == 2);
    CHECK(site.run({"create", "--data", "{nope"}).code == 2);
    CHECK(site.run({"create", "--expiry", "soon"}).code == 2);
    CHECK(site.run({"create", "--expiry", "2030-01-01T00:00:00"}).code == 2);  // naive with USE_TZ
    CHECK(site.run({"create", "--password-hash", "x"}).code == 2);             // needs --user
    CHECK(site.run({"create", "--data", "{}", "--data-file", "f"}).code == 2);
    CHECK(site.row_count() == 0);

    site.write_file("data.json", R"({"from_file": "ja"})");
    Result ok = site.run({"create", "--data-file", site.file("data.json")});
    REQUIRE(ok.code == 0);
    CHECK(site.row_count() == 1);
}

TEST_CASE("inspect by key, --all, --user, --where, --keys-only, --limit", "[cli][run]") {
    Site site;
    const std::string alice = site.create({"--user", "42", "--password-hash", "h1", "--data", R"({"lang":"fr"})"});
    const std::string bob = site.create({"--user", "43", "--password-hash", "h2", "--data", R"({"lang":"de"})"});
    const std::string anon = site.create({"--data", R"({"cart":{"coupon":"SPRING"}})"});

    Result all = site.run({"inspect", "--all", "--keys-only"});
    REQUIRE(all.code == 0);
    auto keys = lines_of(all.out);
    CHECK(keys.size() == 3);

    Result user = site.run({"inspect", "--user", "42", "--keys-only"});
    REQUIRE(user.code == 0);
    CHECK(lines_of(user.out) == std::vector<std::string>{alice});

    Result where = site.run({"--json", "inspect", "--where", "cart.coupon=SPRING"});
    REQUIRE(where.code == 0);
    auto rows = json_lines(where.out);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0]["key"] == anon);

    Result both = site.run({"inspect", "--user", "43", "--where", "lang=de", "--keys-only"});
    CHECK(lines_of(both.out) == std::vector<std::string>{bob});

    Result nothing = site.run({"inspect", "--user", "99"});
    CHECK(nothing.code == 1);
    CHECK(nothing.out.empty());

    Result limited = site.run({"inspect", "--all", "--keys-only", "--limit", "2"});
    CHECK(lines_of(limited.out).size() == 2);

    Result live = site.run({"inspect", "--all", "--expired"});
    CHECK(live.code == 1);  // a filter that matched nothing

    // A named key that is missing: exit 1, the others still shown.
    Result mixed = site.run({"inspect", alice, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "--keys-only"});
    CHECK(mixed.code == 1);
    CHECK(lines_of(mixed.out) == std::vector<std::string>{alice});
    CHECK(contains(mixed.err, "sessionctl: error: no session zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"));

    Result piped = site.run({"inspect", "--stdin", "--keys-only"}, bob + "\n" + anon + "\n");
    CHECK(piped.code == 0);
    CHECK(lines_of(piped.out) == std::vector<std::string>{bob, anon});

    Result nul = site.run({"inspect", "--stdin", "-0", "--keys-only"}, alice + std::string(1, '\0'));
    CHECK(nul.code == 0);
    CHECK(lines_of(nul.out) == std::vector<std::string>{alice});
}

TEST_CASE("inspect --all on an empty store succeeds with no output", "[cli][run]") {
    Site site;
    Result r = site.run({"inspect", "--all"});
    CHECK(r.code == 0);
    CHECK(r.out.empty());
    CHECK(site.run({"inspect"}).code == 2);  // nothing asked for
}

TEST_CASE("a tampered or foreign-key record is shown as unverified and exits 4", "[cli][run]") {
    Site site;
    const std::string good = site.create({"--user", "42", "--password-hash", "h"});
    const std::string bad = "tamperedtamperedtamperedtampered";
    std::string forged = SessionCodec(SecretKeys{"some-other-secret", {}}, session_key_salt("SessionStore"))
                             .encode(PyValue(PyDict{{"_auth_user_id", "42"}}), kNow / 1'000'000);
    REQUIRE(site.table()->insert(StoredSession{bad, forged, naive_utc(kNow + 3600'000000)}));

    Result r = site.run({"inspect", bad});
    CHECK(r.code == 4);
    CHECK(contains(r.out, "  verified NO: bad signature"));
    CHECK(contains(r.out, "  user     unknown\n"));
    CHECK_FALSE(contains(r.out, "  data"));

    json j = site.inspect_json(bad);
    CHECK(j["verified_with"].is_null());
    CHECK(j["data"].is_null());
    CHECK(contains(j["error"].get<std::string>(), "bad signature"));

    // Forged data claiming user 42 never matches --user 42.
    Result user = site.run({"-v", "inspect", "--user", "42", "--keys-only"});
    CHECK(user.code == 0);
    CHECK(lines_of(user.out) == std::vector<std::string>{good});
    CHECK(contains(user.err, "1 session could not be decoded"));

    // A session signed with a fallback still verifies, and says so.
    std::string old = SessionCodec(SecretKeys{kFallback, {}}, session_key_salt("SessionStore"))
                          .encode(PyValue(PyDict{{"k", 1}}), kNow / 1'000'000);
    REQUIRE(site.table()->insert(StoredSession{"oldoldoldoldoldoldoldoldoldoldol", old, naive_utc(kNow + 60'000000)}));
    CHECK(site.inspect_json("oldoldoldoldoldoldoldoldoldoldol")["verified_with"] == "SECRET_KEY_FALLBACKS[0]");
}

// ---- expire

TEST_CASE("expire changes expiry as set_expiry() and save() would", "[cli][run]") {
    Site site;
    const std::string key = site.create({"--data", R"({"x":1})"});

    Result in = site.run({"expire", key, "--in", "60"});
    REQUIRE(in.code == 0);
    CHECK(in.out == "updated 1 session\n");
    json j = site.inspect_json(key);
    CHECK(j["expire_date"] == "2023-11-14T22:14:20+00:00");
    CHECK(j["data"]["_session_expiry"] == 60);
    CHECK(j["data"]["x"] == 1);

    Result at = site.run({"--json", "expire", key, "--at", "2030-01-01T00:00:00Z"});
    REQUIRE(at.code == 0);
    CHECK(json::parse(at.out) == json{{"matched", 1}, {"updated", 1}, {"keys", {key}}});
    j = site.inspect_json(key);
    CHECK(j["expire_date"] == "2030-01-01T00:00:00+00:00");
    CHECK(j["data"]["_session_expiry"] == "2030-01-01T00:00:00+00:00");

    REQUIRE(site.run({"expire", key, "--default"}).code == 0);
    j = site.inspect_json(key);
    CHECK_FALSE(j["data"].contains("_session_expiry"));
    CHECK(j["expire_date"] == "2023-11-28T22:13:20+00:00");

    REQUIRE(site.run({"expire", key, "--browser-close"}).code == 0);
    CHECK(site.inspect_json(key)["data"]["_session_expiry"] == 0);

    REQUIRE(site.run({"expire", key, "--now"}).code == 0);
    j = site.inspect_json(key);
    CHECK(j["expired"] == true);
    CHECK(j["expire_date"] == "2023-11-14T22:13:20+00:00");
    Result human = site.run({"inspect", key});
    CHECK(contains(human.out, "(expired now)"));

    // An expired session is gone for Django: exit 1, untouched.
    std::string before = site.row(key)->data;
    CHECK(site.run({"expire", key, "--in", "60"}).code == 1);
    CHECK(site.row(key)->data == before);
}

TEST_CASE("expire --at and --now store whole seconds for DJANGO_VERSION 3.2", "[cli][run]") {
    Site site;
    const std::string key = site.create({"--data", R"({"x":1})"});
    Result at = site.run({"--set", "DJANGO_VERSION=3.2.25", "expire", key, "--at", "2023-11-14T23:13:20.5Z"});
    REQUIRE(at.code == 0);
    json j = site.inspect_json(key);
    CHECK(j["data"]["_session_expiry"] == 3601);  // rounded away from now
    CHECK(j["expire_date"] == "2023-11-14T23:13:21+00:00");

    REQUIRE(site.run({"--set", "DJANGO_VERSION=3.2", "expire", key, "--now"}).code == 0);
    j = site.inspect_json(key);
    CHECK(j["data"]["_session_expiry"] == -1);  // never 0: that would mean browser close
    CHECK(j["expired"] == true);

    // From 4.1 on, a date is kept as an ISO string.
    const std::string other = site.create({"--data", R"({"x":2})"});
    REQUIRE(site.run({"--set", "DJANGO_VERSION=4.1", "expire", other, "--at", "2030-01-01T00:00:00Z"}).code == 0);
    CHECK(site.inspect_json(other)["data"]["_session_expiry"] == "2030-01-01T00:00:00+00:00");

    for (const char* bad : {"DJANGO_VERSION=2.2", "DJANGO_VERSION=five", "DJANGO_VERSION=3"}) {
        Result r = site.run({"--set", bad, "expire", other, "--now"});
        CHECK(r.code == 2);
        CHECK(contains(r.err, "DJANGO_VERSION"));
    }
}

TEST_CASE("expire --dry-run shows the new expiry and changes nothing", "[cli][run]") {
    Site site;
    const std::string key = site.create({"--data", R"({"x":1})"});
    json before = site.inspect_json(key);

    Result r = site.run({"expire", key, "--in", "60", "--dry-run"});
    REQUIRE(r.code == 0);
    CHECK(r.out == "would update 1 session\n" + key + "  expires 2023-11-14 22:14:20 UTC\n");
    CHECK(site.inspect_json(key) == before);

    Result js = site.run({"--json", "expire", key, "--at", "2030-01-01T00:00:00Z", "--dry-run"});
    REQUIRE(js.code == 0);
    json j = json::parse(js.out);
    CHECK(j["dry_run"] == true);
    CHECK(j["updated"] == 1);
    CHECK(j["keys"] == json::array({key}));
    CHECK(site.inspect_json(key) == before);
    CHECK(site.run({"expire", "missingmissingmissing", "--now", "--dry-run"}).code == 1);
}

TEST_CASE("expire replaces an _session_expiry Django cannot read, as set_expiry() does", "[cli][run]") {
    Site site;
    const std::string odd = "oddexpiryoddexpiryoddexpiryodd12";
    std::string data =
        site.codec().encode(PyValue(PyDict{{"_session_expiry", "not a date"}, {"k", "v"}}), kNow / 1'000'000);
    REQUIRE(site.table()->insert(StoredSession{odd, data, naive_utc(kNow + 3600'000000)}));
    Result r = site.run({"expire", odd, "--in", "60"});
    CHECK(r.code == 0);
    json j = site.inspect_json(odd);
    CHECK(j["data"] == json{{"_session_expiry", 60}, {"k", "v"}});
    CHECK(j["expire_date"] == "2023-11-14T22:14:20+00:00");
}

TEST_CASE("expire needs exactly one mode and known keys", "[cli][run]") {
    Site site;
    const std::string key = site.create();
    CHECK(site.run({"expire", key}).code == 2);
    CHECK(site.run({"expire", key, "--in", "5", "--now"}).code == 2);
    CHECK(site.run({"expire", "--now"}).code == 2);
    Result missing = site.run({"expire", "missingmissingmissingmissing1234", "--in", "5"});
    CHECK(missing.code == 1);
    CHECK(contains(missing.err, "no session missingmissing"));
    CHECK(missing.out == "updated 0 sessions\n");
}

TEST_CASE("expire refuses a record it cannot decode and leaves it untouched", "[cli][run]") {
    Site site;
    const std::string key = "undecodableundecodableundecodabl";
    std::string forged = SessionCodec(SecretKeys{"another-site", {}}, session_key_salt("SessionStore"))
                             .encode(PyValue(PyDict{{"secret_stuff", "keep me"}}), kNow / 1'000'000);
    REQUIRE(site.table()->insert(StoredSession{key, forged, naive_utc(kNow + 3600'000000)}));
    const std::string good = site.create();

    Result r = site.run({"expire", key, good, "--in", "10"});
    CHECK(r.code == 4);
    CHECK(contains(r.err, "left untouched"));
    CHECK(r.out == "updated 1 session\n");
    auto row = site.row(key);
    CHECK(row->data == forged);
    CHECK(row->expire_date->str_naive() == "2023-11-14 23:13:20");
}

// ---- delete

TEST_CASE("delete by key; an already-gone key is fine", "[cli][run]") {
    Site site;
    const std::string a = site.create();
    const std::string b = site.create();

    Result r = site.run({"delete", a});
    CHECK(r.code == 0);
    CHECK(r.out == "deleted 1 session\n");
    CHECK_FALSE(site.row(a));
    CHECK(site.row(b));

    Result again = site.run({"delete", a});
    CHECK(again.code == 0);
    CHECK(again.out == "deleted 0 sessions\n");

    Result dry = site.run({"delete", "--dry-run", b});
    CHECK(dry.code == 0);
    CHECK(dry.out == "would delete 1 session\n" + b + "\n");
    CHECK(site.row(b));

    Result quiet = site.run({"-q", "delete", "--stdin"}, b + "\n");
    CHECK(quiet.code == 0);
    CHECK(quiet.out.empty());
    CHECK_FALSE(site.row(b));
}

TEST_CASE("delete --user / --where removes only matching verified sessions", "[cli][run]") {
    Site site;
    const std::string a1 = site.create({"--user", "42", "--password-hash", "h"});
    const std::string a2 = site.create({"--user", "42", "--password-hash", "h"});
    const std::string b = site.create({"--user", "43", "--password-hash", "h"});
    const std::string c = site.create({"--data", R"({"cart":{"coupon":"SPRING"}})"});
    std::string forged = SessionCodec(SecretKeys{"another-site", {}}, session_key_salt("SessionStore"))
                             .encode(PyValue(PyDict{{"_auth_user_id", "42"}}), kNow / 1'000'000);
    const std::string f = "forgedforgedforgedforgedforged12";
    REQUIRE(site.table()->insert(StoredSession{f, forged, naive_utc(kNow + 3600'000000)}));

    Result dry = site.run({"--json", "delete", "--user", "42", "--dry-run"});
    REQUIRE(dry.code == 0);
    json dj = json::parse(dry.out);
    CHECK(dj["matched"] == 2);
    CHECK(dj["deleted"] == 0);
    CHECK(dj["keys"].size() == 2);
    CHECK(site.row_count() == 5);

    Result r = site.run({"-v", "delete", "--user", "42"});
    CHECK(r.code == 0);
    auto lines = lines_of(r.out);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0] == "deleted 2 sessions");
    CHECK(contains(r.err, "1 session could not be decoded"));
    CHECK_FALSE(site.row(a1));
    CHECK_FALSE(site.row(a2));
    CHECK(site.row(b));
    CHECK(site.row(f));  // the forged one never matches

    CHECK(site.run({"delete", "--user", "42"}).code == 1);  // nothing left to match

    Result where = site.run({"--json", "delete", "--where", "cart.coupon=\"SPRING\""});
    CHECK(where.code == 0);
    CHECK(json::parse(where.out) == json{{"matched", 1}, {"deleted", 1}});
    CHECK_FALSE(site.row(c));

    CHECK(site.run({"delete", "--where", "nodot"}).code == 2);
    CHECK(site.run({"delete", b, "--user", "43"}).code == 2);
    CHECK(site.run({"delete"}).code == 2);
}

// ---- clearsessions

TEST_CASE("clearsessions removes expired sessions, silently unless asked", "[cli][run]") {
    Site site;
    const std::string old1 = site.create({"--expiry", "-10"});
    const std::string old2 = site.create({"--expiry", "-20"});
    const std::string live = site.create();

    Result dry = site.run({"clearsessions", "--dry-run"});
    CHECK(dry.code == 0);
    CHECK(dry.out == "would remove 2 expired sessions\n");
    CHECK(site.row_count() == 3);

    Result quiet = site.run({"clearsessions"});
    CHECK(quiet.code == 0);
    CHECK(quiet.out.empty());
    CHECK(quiet.err.empty());
    CHECK(site.row_count() == 1);
    CHECK(site.row(live));

    site.clock().advance_seconds(1209600 + 1);
    Result verbose = site.run({"-v", "clearsessions"});
    CHECK(verbose.code == 0);
    CHECK(verbose.out == "removed 1 expired session\n" + live + "\n");

    Result js = site.run({"--json", "clearsessions"});
    CHECK(json::parse(js.out) == json{{"matched", 0}, {"deleted", 0}, {"complete", true}});
}

TEST_CASE("clearsessions --lock: a held lock is exit 3 and nothing is removed", "[cli][run]") {
    Site site;
    site.create({"--expiry", "-10"});
    const std::string lock = site.file("clear.lock");
    {
        cli::FileLock held(lock);
        Result r = site.run({"clearsessions", "--lock", lock});
        CHECK(r.code == 3);
        CHECK(r.err == "sessionctl: error: another sessionctl holds " + lock + "\n");
        CHECK(site.row_count() == 1);
    }
    CHECK(site.run({"clearsessions", "--lock", lock}).code == 0);
    CHECK(site.row_count() == 0);
    struct stat st {};
    REQUIRE(::stat(lock.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

// ---- decode

TEST_CASE("decode shows a session_data value and how it was verified", "[cli][run]") {
    Site site;
    const std::string key = site.create({"--user", "42", "--password-hash", "h"});
    const std::string blob = site.row(key)->data;

    Result r = site.run({"decode", blob});
    REQUIRE(r.code == 0);
    json data = json::parse(r.out);
    CHECK(data["_auth_user_id"] == "42");
    CHECK(r.err == "verified with SECRET_KEY; signed 2023-11-14 22:13:20 UTC; compressed\n");

    Result piped = site.run({"--json", "decode", "--stdin"}, blob + "\n");
    REQUIRE(piped.code == 0);
    json j = json::parse(piped.out);
    CHECK(j["data"]["_auth_user_id"] == "42");
    CHECK(j["verified_with"] == "SECRET_KEY");
    CHECK(j["timestamp"] == "2023-11-14T22:13:20+00:00");
    CHECK(j["compressed"] == true);
    CHECK(j["format"] == "signed");
    CHECK(j["status"] == "ok");
    CHECK(j["error"].is_null());
}

TEST_CASE("decode: bad signature exits 4; --no-verify shows the payload marked UNVERIFIED", "[cli][run]") {
    Site site;
    std::string forged = SessionCodec(SecretKeys{"another-site", {}}, session_key_salt("SessionStore"))
                             .encode(PyValue(PyDict{{"who", "mallory"}}), kNow / 1'000'000);
    Result bad = site.run({"decode", forged});
    CHECK(bad.code == 4);
    CHECK(bad.out.empty());
    CHECK(lines_of(bad.err).size() == 1);
    CHECK(contains(bad.err, "sessionctl: error: bad signature"));

    Result look = site.run({"decode", "--no-verify", forged});
    CHECK(look.code == 4);
    CHECK(json::parse(look.out)["who"] == "mallory");
    CHECK(contains(look.err, "UNVERIFIED"));

    Result js = site.run({"--json", "decode", "--no-verify", forged});
    CHECK(js.code == 4);
    json j = json::parse(js.out);
    CHECK(j["status"] == "bad_signature");
    CHECK(j["data"]["who"] == "mallory");
    CHECK(j["verified_with"].is_null());

    // A good value with --no-verify verifies and exits 0.
    std::string good = site.codec().encode(PyValue(PyDict{{"a", 1}}), kNow / 1'000'000);
    CHECK(site.run({"decode", "--no-verify", good}).code == 0);

    Result malformed = site.run({"decode", "not-a-session"});
    CHECK(malformed.code == 4);
    CHECK(contains(malformed.err, "sessionctl: error: "));

    CHECK(site.run({"decode", ""}).code == 2);
}

TEST_CASE("decode --no-verify needs no secret", "[cli][run]") {
    Site site;
    site.write_config(json{{"DATABASES", {{"default", {{"NAME", site.db()}}}}}});
    std::string blob = site.codec().encode(PyValue(PyDict{{"a", 1}}), kNow / 1'000'000);
    if (std::getenv("SESSIONCTL_SECRET_KEY") == nullptr) {
        CHECK(site.run({"decode", blob}).code == 2);
        Result r = site.run({"--json", "decode", "--no-verify", blob});
        CHECK(r.code == 4);
        json j = json::parse(r.out);
        CHECK(j["status"] == "unverified");
        CHECK(j["data"]["a"] == 1);
    }
}

TEST_CASE("decode --signed-cookie checks the cookie salt and max age; --salt any salt", "[cli][run]") {
    Site site;
    auto cookie_codec = site.codec(std::string(kSignedCookiesSalt));
    std::string cookie = cookie_codec.encode(PyValue(PyDict{{"cart", 3}}), kNow / 1'000'000 - 100);

    Result ok = site.run({"decode", "--signed-cookie", cookie});
    CHECK(ok.code == 0);
    CHECK(json::parse(ok.out)["cart"] == 3);

    Result too_old = site.run({"--json", "decode", "--signed-cookie", "--max-age", "50", cookie});
    CHECK(too_old.code == 4);
    CHECK(json::parse(too_old.out)["status"] == "expired");

    CHECK(site.run({"decode", cookie}).code == 4);  // not a session_data value (other salt)

    std::string salted = site.codec("my.salt").encode(PyValue(PyList{1, 2}), kNow / 1'000'000);
    Result s = site.run({"decode", "--salt", "my.salt", salted});
    CHECK(s.code == 0);  // any value is fine with --salt
    CHECK(json::parse(s.out) == json::array({1, 2}));

    // A verified session value that is not a dict: shown, warned, exit 4.
    std::string list_session = site.codec().encode(PyValue(PyList{1}), kNow / 1'000'000);
    Result not_dict = site.run({"decode", list_session});
    CHECK(not_dict.code == 4);
    CHECK(json::parse(not_dict.out) == json::array({1}));
    CHECK(contains(not_dict.err, "sessionctl: warning: the value is a list, not a JSON object"));

    CHECK(site.run({"decode", "--signed-cookie", "--salt", "x", cookie}).code == 2);
}

// ---- config and global flags

TEST_CASE("config prints every setting with its origin and redacts secrets", "[cli][run]") {
    Site site;
    Result r = site.run({"--set", "SESSION_COOKIE_AGE=3600", "config"});
    REQUIRE(r.code == 0);
    CHECK(contains(r.out, "SECRET_KEY = ********  (SECRET_KEY_FILE (" + site.file("secret_key") + "))\n"));
    CHECK(contains(r.out, "SECRET_KEY_FALLBACKS = [\"********\"]  (SECRET_KEY_FALLBACKS_FILE ("));
    CHECK(contains(r.out, "SESSION_COOKIE_AGE = 3600  (--set)\n"));
    CHECK(contains(r.out, "SESSION_ENGINE = \"django.contrib.sessions.backends.db\"  (default)\n"));

    Result js = site.run({"--json", "config"});
    REQUIRE(js.code == 0);
    json j = json::parse(js.out);
    CHECK(j["SECRET_KEY"]["value"] == "********");
    CHECK(j["SESSION_COOKIE_NAME"]["value"] == "sessionid");
    CHECK(j["DATABASES"]["origin"] == site.file("config.json"));

    // Passwords inside other settings are redacted too.
    site.write_config(json{{"SECRET_KEY_FILE", site.file("secret_key")},
                           {"CACHES", {{"default", {{"LOCATION", "redis://user:hunter2@cache:6379/1"}}}}},
                           {"DATABASES", {{"default", {{"NAME", site.db()}, {"PASSWORD", "hunter2"}}}}}});
    Result redacted = site.run({"config"});
    CHECK(redacted.code == 0);
    CHECK_FALSE(contains(redacted.out, "hunter2"));
    CHECK(contains(redacted.out, "redis://user:********@cache:6379/1"));
}

TEST_CASE("configuration errors exit 2 and never echo a secret", "[cli][run]") {
    Site site;
    Result secret_on_argv = site.run({"--set", std::string("SECRET_KEY=") + kSecret, "config"});
    CHECK(secret_on_argv.code == 2);
    CHECK(contains(secret_on_argv.err, "SECRET_KEY cannot be given on the command line"));

    site.write_config(json{{"SECRET_KEY_FILE", site.file("secret_key")}, {"SESSION_COOKIE_AGEE", 5}});
    Result unknown = site.run({"inspect", "--all"});
    CHECK(unknown.code == 2);
    CHECK(contains(unknown.err, "unknown setting 'SESSION_COOKIE_AGEE'"));

    site.write_config(json{{"SECRET_KEY", kSecret}, {"SESSION_COOKIE_AGE", "x"}});
    Result typed = site.run({"config"});
    CHECK(typed.code == 2);

    Result no_file = site.run_raw({"sessionctl", "--config", site.file("nope.json"), "config"});
    CHECK(no_file.code == 2);

    // The cache engine with Django's default CACHES (LocMemCache, inside each
    // Django process): a configuration error that says why.
    site.write_config(json{{"SECRET_KEY_FILE", site.file("secret_key")}, {"SESSION_ENGINE", "cache"}});
    Result locmem = site.run({"inspect", "--all"});
    CHECK(locmem.code == 2);
    CHECK(contains(locmem.err, "LocMemCache lives inside each Django process"));
    // A Redis URL with a password: a refused connection never shows it.
    site.write_config(json{{"SECRET_KEY_FILE", site.file("secret_key")},
                           {"SESSION_ENGINE", "cache"},
                           {"CACHES",
                            {{"default",
                              {{"BACKEND", "django.core.cache.backends.redis.RedisCache"},
                               {"LOCATION", "redis://:hunter2-pw@127.0.0.1:1/0"}}}}}});
    Result refused = site.run({"inspect", "--all"});
    CHECK(refused.code == 3);
    CHECK_FALSE(contains(refused.err, "hunter2-pw"));
    CHECK(contains(refused.err, "redis://:********@127.0.0.1:1/0"));
}

TEST_CASE("a session key that is not a key exits 2 before any I/O", "[cli][run]") {
    // No database at all: touching the store would say "database file not found".
    Site site(json::object(), /*create_db=*/false);
    for (const auto& command : {"inspect", "delete"}) {
        Result r = site.run({command, "../etc/passwd"});
        CHECK(r.code == 2);
        CHECK(contains(r.err, "invalid session key '../etc/passwd'"));
    }
    CHECK(site.run({"expire", "short", "--now"}).code == 2);
    CHECK(site.run({"delete", "--stdin"}, "goodgoodgoodgood\n../../x\n").code == 2);
    CHECK_FALSE(fs::exists(site.db()));

    Result no_db = site.run({"inspect", "goodgoodgoodgood"});
    CHECK(no_db.code == 2);
    CHECK(contains(no_db.err, "database file not found"));
}

TEST_CASE("a locked database is exit 3", "[cli][run]") {
    Site site;
    site.write_config(
        json{{"SECRET_KEY_FILE", site.file("secret_key")},
             {"DATABASES",
              {{"default",
                {{"ENGINE", "django.db.backends.sqlite3"}, {"NAME", site.db()}, {"OPTIONS", {{"timeout", 0.05}}}}}}}});
    const std::string key = site.create();
    DbLocker lock(site.db());
    Result del = site.run({"delete", key});
    CHECK(del.code == 3);
    CHECK(contains(del.err, "sessionctl: error: "));
    CHECK(lines_of(del.err).size() == 1);
    CHECK(site.run({"create"}).code == 3);
    CHECK(site.run({"clearsessions"}).code == 3);
}

TEST_CASE("global flags, help and version; CLI11's codes never leak", "[cli][run]") {
    Site site;
    Result version = site.run_raw({"sessionctl", "--version"});
    CHECK(version.code == 0);
    CHECK(lines_of(version.out).at(0) == fmt::format("sessionctl {}", SESSIONCTL_VERSION));
    CHECK(contains(version.out, "django.contrib.sessions.backends.db"));
    CHECK(contains(version.out, "built in"));

    Result help = site.run_raw({"sessionctl", "--help"});
    CHECK(help.code == 0);
    CHECK(contains(help.out, "EXAMPLES"));
    CHECK(contains(help.out, "clearsessions"));
    for (const auto& command : {"inspect", "decode", "create", "delete", "expire", "clearsessions", "config"}) {
        Result sub = site.run_raw({"sessionctl", command, "--help"});
        CHECK(sub.code == 0);
        CHECK(contains(sub.out, "EXAMPLES"));
        CHECK(contains(sub.out, std::string("sessionctl ") + command));
    }

    Result unknown_flag = site.run({"inspect", "--bogus"});
    CHECK(unknown_flag.code == 2);
    CHECK(contains(unknown_flag.err, "sessionctl: error: "));
    CHECK(lines_of(unknown_flag.err).size() == 1);
    CHECK(site.run({"frobnicate"}).code == 2);
    CHECK(site.run({}).code == 2);
    CHECK(site.run({"-q", "-v", "config"}).code == 2);
    CHECK(site.run({"inspect", "--limit", "many", "--all"}).code == 2);

    // Global flags work after the command too.
    const std::string key = site.create();
    Result late = site.run({"inspect", key, "--json"});
    CHECK(late.code == 0);
    CHECK(json_lines(late.out).size() == 1);
}

TEST_CASE("a secret or an unknown option's value on the command line is never echoed", "[cli][run][secrets]") {
    Site site;
    const std::string value = "S3CRETVALUE";
    struct Case {
        std::vector<std::string> args;
        std::string named;  // what the one error line must name
    };
    // --secret-key / --secret are refused by name before CLI11 parses: before
    // or after the command, the value apart or attached with '='.
    for (const Case& c : std::vector<Case>{{{"--secret-key", value, "inspect", "x"}, "--secret-key is not accepted"},
                                           {{"inspect", "--secret=" + value, "x"}, "--secret is not accepted"},
                                           {{"inspect", "x", "--secret-key=" + value}, "--secret-key is not accepted"},
                                           {{"--secret", value, "config"}, "--secret is not accepted"}}) {
        Result r = site.run(c.args);
        INFO(r.err);
        CHECK(r.code == 2);
        CHECK(lines_of(r.err).size() == 1);
        CHECK(contains(r.err, "sessionctl: error: " + c.named));
        CHECK(contains(r.err, "use SECRET_KEY_FILE in the config or the SESSIONCTL_SECRET_KEY environment variable"));
        CHECK_FALSE(contains(r.err, value));
        CHECK(r.out.empty());
    }
    // Any other parse error names the option, never a value: an unknown option
    // followed by a value, or with one attached, a bad value for a known
    // option, a value given to a flag, an extra positional argument.
    for (const Case& c : std::vector<Case>{{{"--bogus", value}, "unknown option --bogus"},
                                           {{"--secrte-key=" + value, "inspect", "x"}, "unknown option --secrte-key"},
                                           {{"inspect", "x", "--bogus=" + value}, "unknown option --bogus"},
                                           {{"-p" + value, "config"}, "unknown option -p"},
                                           {{"inspect", "--limit", value, "--all"}, "invalid value for --limit"},
                                           {{"--json=" + value, "config"}, "invalid value for --json"},
                                           {{value, "config"}, "1 unexpected argument"}}) {
        Result r = site.run(c.args);
        INFO(r.err);
        CHECK(r.code == 2);
        CHECK(lines_of(r.err).size() == 1);
        CHECK(contains(r.err, "sessionctl: error: " + c.named));
        CHECK_FALSE(contains(r.err, value));
        CHECK(r.out.empty());
    }
}

TEST_CASE("USE_TZ = false: expiry is local wall time in TIME_ZONE, shown in UTC", "[cli][run]") {
    const char* saved = std::getenv("TZ");
    std::optional<std::string> saved_tz = saved ? std::optional<std::string>(saved) : std::nullopt;
    {
        Site site(json{{"USE_TZ", false}, {"TIME_ZONE", "America/Chicago"}});
        const std::string key = site.create({"--expiry", "3600"});
        // Chicago is UTC-6 in November: Django stores the naive local time.
        CHECK(site.row(key)->expire_date->str_naive() == "2023-11-14 17:13:20");
        json j = site.inspect_json(key);
        CHECK(j["expire_date"] == "2023-11-14T23:13:20+00:00");
        CHECK(j["expired"] == false);

        REQUIRE(site.run({"expire", key, "--at", "2030-01-01T00:00:00Z"}).code == 0);
        CHECK(site.inspect_json(key)["expire_date"] == "2030-01-01T00:00:00+00:00");

        site.write_config(
            json{{"SECRET_KEY_FILE", site.file("secret_key")}, {"USE_TZ", false}, {"TIME_ZONE", "Mars/Olympus_Mons"}});
        CHECK(site.run({"config"}).code == 2);
    }
    if (saved_tz) ::setenv("TZ", saved_tz->c_str(), 1);
    else ::unsetenv("TZ");
    ::tzset();
}

// ---- races with live requests

TEST_CASE("delete --user keeps a session rewritten between scan and delete: exit 5", "[cli][run][race]") {
    Site site;
    const std::string a = site.create({"--user", "42", "--password-hash", "h"});
    const std::string b = site.create({"--user", "42", "--password-hash", "h"});
    std::string rewritten = site.codec().encode(PyValue(PyDict{{"_auth_user_id", "42"}, {"new", 1}}), kNow / 1'000'000);
    site.race_hook = [&](std::string_view point, std::string_view) {
        if (point != "delete: before remove") return;
        auto row = site.row(b);
        row->data = rewritten;
        REQUIRE(site.table()->update(*row));
    };
    Result r = site.run({"--json", "delete", "--user", "42"});
    CHECK(r.code == 5);
    CHECK(json::parse(r.out) == json{{"matched", 2}, {"deleted", 1}});
    CHECK(contains(r.err, "1 of 2 matched sessions changed"));
    CHECK_FALSE(site.row(a));
    REQUIRE(site.row(b));
    CHECK(site.row(b)->data == rewritten);
}

TEST_CASE("expire never recreates a session deleted meanwhile", "[cli][run][race]") {
    Site site;
    const std::string key = site.create({"--data", R"({"x":1})"});
    site.race_hook = [&](std::string_view point, std::string_view k) {
        if (point == "expire: before open") site.table()->erase(k);
    };
    Result r = site.run({"expire", key, "--in", "60"});
    CHECK(r.code == 5);
    CHECK(contains(r.err, "changed while it was being updated"));
    CHECK(site.row_count() == 0);
}

TEST_CASE("expire never overwrites data that became undecodable meanwhile", "[cli][run][race]") {
    Site site;
    const std::string key = site.create({"--data", R"({"x":1})"});
    std::string forged = SessionCodec(SecretKeys{"another-site", {}}, session_key_salt("SessionStore"))
                             .encode(PyValue(PyDict{{"y", 2}}), kNow / 1'000'000);
    site.race_hook = [&](std::string_view point, std::string_view k) {
        if (point != "expire: before open") return;
        auto row = site.row(std::string(k));
        row->data = forged;
        REQUIRE(site.table()->update(*row));
    };
    Result r = site.run({"expire", key, "--now"});
    CHECK(r.code == 5);
    CHECK(site.row(key)->data == forged);
    CHECK(site.row(key)->expire_date->str_naive() == "2023-11-28 22:13:20");
}

// ---- run_X directly

TEST_CASE("run_decode and run_config work on a Context without CLI11", "[cli][run]") {
    Site site;
    std::istringstream in;
    std::ostringstream out, err;
    cli::GlobalOptions global;
    global.config_path = site.file("config.json");
    global.json = true;
    cli::Context ctx(global, cli::Io{in, out, err}, std::make_shared<FakeClock>(kNow));

    cli::DecodeArgs args;
    args.blob = site.codec().encode(PyValue(PyDict{{"a", 1}}), kNow / 1'000'000);
    CHECK(cli::run_decode(args, ctx) == cli::ExitCode::ok);
    CHECK(json::parse(out.str())["data"] == json{{"a", 1}});

    out.str("");
    CHECK(cli::run_config(cli::ConfigArgs{}, ctx) == cli::ExitCode::ok);
    CHECK(json::parse(out.str())["SECRET_KEY"]["value"] == "********");
    CHECK_FALSE(contains(out.str() + err.str(), kSecret));

    cli::InspectArgs none;
    CHECK_THROWS_AS(cli::run_inspect(none, ctx), cli::UsageError);
}

TEST_CASE("Ctrl-C stops a bulk command between keys, reports what was done, exits 130", "[cli][run][interrupt]") {
    Site site;
    const std::string a = site.create();
    const std::string b = site.create();
    site.race_hook = [&](std::string_view point, std::string_view key) {
        if (point == "expire: before open" && key == a) std::raise(SIGINT);
    };
    Result r = site.run({"--json", "expire", a, b, "--in", "60"});
    CHECK(r.code == 130);
    CHECK(json::parse(r.out) == json{{"matched", 1}, {"updated", 1}, {"keys", {a}}});
    CHECK(contains(r.err, "interrupted; updated 1 of 2"));
    CHECK(site.inspect_json(a)["data"]["_session_expiry"] == 60);
    CHECK_FALSE(site.inspect_json(b)["data"].contains("_session_expiry"));
}
