// The commands that read the user table: create --user (with the storage
// state and cookie jar files), --dead on inspect/delete/stats, rekey and
// stats' verified_with, end to end through cli::run() on SQLite.

#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/sqlite/sqlite_table.hpp"
#include "cli/app.hpp"
#include "core/auth_hash.hpp"
#include "core/clock.hpp"
#include "core/json_codec.hpp"
#include "core/session_codec.hpp"
#include "tests/cli/cli_site.hpp"
#include "tests/support/test_support.hpp"

using namespace sessionctl;
using json = nlohmann::json;

namespace {

constexpr std::int64_t kNow = 1700000000'000000;
constexpr const char* kNewKey = "users-test-new-secret-5e1d0c9b8a7f-never-print";
constexpr const char* kOldKey = "users-test-old-secret-0a9b8c7d6e5f-never-print";
constexpr const char* kBackend = "django.contrib.auth.backends.ModelBackend";

using cli_test::Result;

// A site with Django's session table, an auth_user table and both keys.
class UserSite {
public:
    UserSite() {
        db_ = dir_.file("db.sqlite3");
        SqliteOptions options;
        options.create_if_missing = true;
        (void)open_sqlite_table(db_, options);
        sql(R"(CREATE TABLE "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
               "password" varchar(128) NOT NULL, "username" varchar(150) NOT NULL, "is_active" bool NOT NULL))");
        write("secret_key", std::string(kNewKey) + "\n");
        write("old_keys", std::string(kOldKey) + "\n");
        configure(json::object());
        clock_ = std::make_shared<FakeClock>(kNow);
    }

    void configure(const json& extra) {
        json settings = {
            {"SECRET_KEY_FILE", dir_.file("secret_key")},
            {"SECRET_KEY_FALLBACKS_FILE", dir_.file("old_keys")},
            {"DATABASES", {{"default", {{"ENGINE", "django.db.backends.sqlite3"}, {"NAME", db_}}}}},
        };
        settings.update(extra);
        write("config.json", settings.dump());
    }
    void write(const std::string& name, const std::string& text) {
        std::ofstream(dir_.file(name), std::ios::binary) << text;
        ::chmod(dir_.file(name).c_str(), 0600);
    }
    [[nodiscard]] std::string read(const std::string& name) const {
        std::ifstream in(dir_.file(name), std::ios::binary);
        std::ostringstream s;
        s << in.rdbuf();
        return s.str();
    }
    [[nodiscard]] std::string file(const std::string& name) const { return dir_.file(name); }

    void sql(const std::string& statement) {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
        char* error = nullptr;
        const int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &error);
        std::string message = error ? error : "";
        sqlite3_free(error);
        sqlite3_close_v2(db);
        INFO(message);
        REQUIRE(rc == SQLITE_OK);
    }
    void user(int id, const std::string& password, bool active = true) {
        sql(fmt::format("INSERT INTO auth_user VALUES ({}, '{}', 'u{}', {})", id, password, id, active ? 1 : 0));
    }

    // A stored session signed with `signing_key`, its login hash made with `hash_key`.
    std::string session(const std::string& key, const std::string& json_data, const std::string& signing_key) {
        SessionCodec codec(SecretKeys{signing_key, {}}, session_key_salt("SessionStore"));
        StoredSession row{key, codec.encode(json_loads_latin1(json_data), kNow / 1'000'000),
                          DateTime::from_unix_utc(kNow + 3600'000000LL)};
        REQUIRE(open_sqlite_table(db_)->insert(row));
        return key;
    }
    std::string login(const std::string& key, int id, const std::string& password, const std::string& hash_key,
                      const std::string& signing_key = kNewKey, const std::string& backend = kBackend) {
        return session(key,
                       fmt::format(R"({{"_auth_user_id": "{}", "_auth_user_backend": "{}", "_auth_user_hash": "{}"}})",
                                   id, backend, session_auth_hash(password, hash_key)),
                       signing_key);
    }
    std::optional<StoredSession> row(const std::string& key) { return open_sqlite_table(db_)->select(key); }

    Result run(const std::vector<std::string>& args) {
        std::vector<std::string> full = {"sessionctl", "--config", dir_.file("config.json")};
        full.insert(full.end(), args.begin(), args.end());
        cli::RunHooks hooks;
        hooks.clock = clock_;
        hooks.race_hook = race_hook;
        return cli_test::run_cli(std::move(full), hooks, {kNewKey, kOldKey});
    }

    std::function<void(std::string_view, std::string_view)> race_hook;

private:
    sessionctl::testing::TempDir dir_{"sessionctl-users"};
    std::string db_;
    std::shared_ptr<FakeClock> clock_;
};

std::vector<json> json_lines(const std::string& text) {
    std::vector<json> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(json::parse(line));
    return out;
}

PyDict stored_dict(const StoredSession& row, const std::string& secret) {
    SessionCodec codec(SecretKeys{secret, {}}, session_key_salt("SessionStore"));
    DecodeResult d = codec.decode(row.data);
    REQUIRE(d.verified);
    return d.data.as_dict();
}

}  // namespace

TEST_CASE("create --user takes the password hash from the user table", "[cli][users]") {
    UserSite site;
    site.user(42, "md5$salt$abc");
    site.user(7, "md5$salt$def", /*active=*/false);

    Result r = site.run({"--json", "create", "--user", "042"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    const std::string key = json::parse(r.out)["key"];
    const PyDict data = stored_dict(*site.row(key), kNewKey);
    CHECK(*data.find("_auth_user_id") == PyValue("42"));  // str(pk), as login() writes it
    CHECK(*data.find("_auth_user_hash") == PyValue(session_auth_hash("md5$salt$abc", kNewKey)));

    Result missing = site.run({"create", "--user", "43"});
    CHECK(missing.code == 1);
    CHECK(missing.err.find("no user 43 in auth_user") != std::string::npos);
    Result inactive = site.run({"create", "--user", "7"});
    CHECK(inactive.code == 2);
    CHECK(inactive.err.find("inactive") != std::string::npos);
    // AllowAllUsersModelBackend logs inactive users in, when the site lists it.
    site.configure({{"AUTHENTICATION_BACKENDS", {"django.contrib.auth.backends.AllowAllUsersModelBackend"}}});
    CHECK(
        site.run({"create", "--user", "7", "--auth-backend", "django.contrib.auth.backends.AllowAllUsersModelBackend"})
            .code == 0);
    CHECK(site.run({"create", "--user", "42"}).code == 2);  // ModelBackend is no longer listed
}

TEST_CASE("create --storage-state and --cookie-jar write the login cookie", "[cli][users]") {
    UserSite site;
    site.user(42, "md5$salt$abc");
    Result none = site.run({"create", "--user", "42", "--storage-state", site.file("state.json")});
    CHECK(none.code == 2);
    CHECK(none.err.find("SESSION_COOKIE_DOMAIN") != std::string::npos);
    CHECK(none.err.find("--url") != std::string::npos);

    Result r =
        site.run({"--json", "create", "--user", "42", "--expiry", "3600", "--storage-state", site.file("state.json"),
                  "--cookie-jar", site.file("jar.txt"), "--url", "http://App.Example:8000/login"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    const std::string key = json::parse(r.out)["key"];
    const json state = json::parse(site.read("state.json"));
    const json cookie = state["cookies"][0];
    CHECK(cookie["name"] == "sessionid");
    CHECK(cookie["value"] == key);
    CHECK(cookie["domain"] == "app.example");
    CHECK(cookie["path"] == "/");
    CHECK(cookie["expires"] == kNow / 1'000'000 + 3600);
    CHECK(cookie["httpOnly"] == true);
    CHECK(cookie["secure"] == false);
    CHECK(cookie["sameSite"] == "Lax");
    CHECK(state["origins"] == json::array());
    CHECK(site.read("jar.txt").find(fmt::format("#HttpOnly_app.example\tFALSE\t/\tFALSE\t{}\tsessionid\t{}\n",
                                                kNow / 1'000'000 + 3600, key)) != std::string::npos);
    struct stat st {};
    REQUIRE(::stat(site.file("state.json").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat(site.file("jar.txt").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    site.configure({{"SESSION_COOKIE_DOMAIN", ".example.org"},
                    {"SESSION_COOKIE_SECURE", true},
                    {"SESSION_COOKIE_HTTPONLY", false},
                    {"SESSION_COOKIE_SAMESITE", "Strict"},
                    {"SESSION_COOKIE_PATH", "/app"}});
    REQUIRE(site.run({"create", "--user", "42", "--expiry", "browser-close", "--storage-state", site.file("state.json"),
                      "--cookie-jar", site.file("jar.txt")})
                .code == 0);
    const json c2 = json::parse(site.read("state.json"))["cookies"][0];
    CHECK(c2["domain"] == ".example.org");
    CHECK(c2["expires"] == -1);
    CHECK(c2["secure"] == true);
    CHECK(c2["httpOnly"] == false);
    CHECK(c2["sameSite"] == "Strict");
    CHECK(c2["path"] == "/app");
    CHECK(site.read("jar.txt").find("\n.example.org\tTRUE\t/app\tTRUE\t0\tsessionid\t") != std::string::npos);
}

TEST_CASE("--dead finds exactly the logins Django would refuse, and why", "[cli][users]") {
    UserSite site;
    site.user(1, "pw-live");
    site.user(2, "pw-inactive", false);
    site.user(3, "pw-new");
    site.login("livesession000001", 1, "pw-live", kNewKey);
    site.login("oldhashsession001", 1, "pw-live", kOldKey);  // a fallback's hash: still accepted
    site.login("gonesession000001", 9, "pw-gone", kNewKey);
    site.login("inactivesession01", 2, "pw-inactive", kNewKey);
    site.login("passwordsession01", 3, "pw-old", kNewKey);
    site.login("backendsession001", 1, "pw-live", kNewKey, kNewKey, "myapp.backends.Removed");
    site.session("anonymoussession1", R"({"cart": [1]})", kNewKey);
    // Read from the JSON text by the scan prefilter: nested keys are no login,
    // an int id is its decimal form, a key twice leaves it to the full parse.
    site.session("nestedsession0001", R"({"x": {"_auth_user_id": "9", "_auth_user_backend": "b"}})", kNewKey);
    site.session("intidsession00001",
                 fmt::format(R"({{"_auth_user_id": 1, "_auth_user_backend": "{}", "_auth_user_hash": "{}"}})", kBackend,
                             session_auth_hash("pw-live", kNewKey)),
                 kNewKey);
    site.session("twiceidsession001",
                 fmt::format(R"({{"_auth_user_id": "1", "_auth_user_backend": "{}", "_auth_user_hash": "{}", )"
                             R"("_auth_user_id": "9"}})",
                             kBackend, session_auth_hash("pw-live", kNewKey)),
                 kNewKey);

    Result r = site.run({"--json", "inspect", "--dead"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    std::map<std::string, std::string> dead;
    for (const auto& line : json_lines(r.out)) dead[line["key"]] = line["dead"];
    CHECK(dead == std::map<std::string, std::string>{{"gonesession000001", "user gone"},
                                                     {"twiceidsession001", "user gone"},
                                                     {"inactivesession01", "user inactive"},
                                                     {"passwordsession01", "password changed"},
                                                     {"backendsession001", "backend removed"}});
    Result text = site.run({"inspect", "--dead"});
    CHECK(text.out.find("  dead     user gone\n") != std::string::npos);

    Result stats = site.run({"--json", "stats", "--dead"});
    REQUIRE(stats.code == 0);
    const json s = json::parse(stats.out);
    CHECK(s["dead"] ==
          json{{"total", 5}, {"backend_removed", 1}, {"user_gone", 2}, {"user_inactive", 1}, {"password_changed", 1}});
    CHECK(s["verified_with"]["SECRET_KEY"] == 10);
    CHECK(s["verified_with"]["SECRET_KEY_FALLBACKS[0]"] == 0);

    Result dry = site.run({"--json", "delete", "--dead", "--dry-run"});
    CHECK(json::parse(dry.out)["matched"] == 5);
    Result del = site.run({"--json", "delete", "--dead"});
    REQUIRE(del.code == 0);
    CHECK(json::parse(del.out)["deleted"] == 5);
    for (const char* kept :
         {"livesession000001", "oldhashsession001", "anonymoussession1", "nestedsession0001", "intidsession00001"})
        CHECK(site.row(kept));
    for (const auto& [key, why] : dead) CHECK_FALSE(site.row(key));
    CHECK(site.run({"delete", "--dead"}).code == 1);  // nothing left to match
}

TEST_CASE("rekey re-signs what depends on a fallback key, conditionally", "[cli][users]") {
    UserSite site;
    site.user(1, "pw-one");
    site.user(2, "pw-two");
    site.login("signedwitholdkey1", 1, "pw-one", kNewKey, kOldKey);  // signature only
    site.login("hashwitholdkey001", 2, "pw-two", kOldKey, kNewKey);  // hash only
    site.login("bothwitholdkey001", 2, "pw-two", kOldKey, kOldKey);  // both
    site.login("currentsession001", 1, "pw-one", kNewKey, kNewKey);
    site.session("anonymousoldkey01", R"({"cart": [2]})", kOldKey);
    const auto before = site.row("hashwitholdkey001");

    Result stats = site.run({"--json", "stats"});
    CHECK(json::parse(stats.out)["verified_with"]["SECRET_KEY_FALLBACKS[0]"] == 3);

    Result dry = site.run({"--json", "rekey", "--dry-run"});
    INFO(dry.err);
    REQUIRE(dry.code == 0);
    const json d = json::parse(dry.out);
    CHECK(d["matched"] == 4);
    CHECK(d["rekeyed"] == 0);
    CHECK(d["by_key"] == json{{"SECRET_KEY_FALLBACKS[0]", 4}});
    CHECK(site.row("hashwitholdkey001")->data == before->data);

    // A live request rewrites one session between the scan and the write.
    SessionCodec codec(SecretKeys{kNewKey, {}}, session_key_salt("SessionStore"));
    const std::string rewritten = codec.encode(json_loads_latin1(R"({"cart": [3]})"), kNow / 1'000'000);
    site.race_hook = [&](std::string_view point, std::string_view) {
        if (point == "rekey: before write")
            site.sql(
                fmt::format("UPDATE django_session SET session_data = '{}' WHERE session_key = "
                            "'anonymousoldkey01'",
                            rewritten));
    };
    Result r = site.run({"--json", "rekey"});
    INFO(r.err);
    CHECK(r.code == 5);
    const json j = json::parse(r.out);
    CHECK(j["matched"] == 4);
    CHECK(j["rekeyed"] == 3);
    CHECK(j["skipped"] == 1);
    site.race_hook = nullptr;
    CHECK(site.row("anonymousoldkey01")->data == rewritten);  // not clobbered

    for (const char* key : {"signedwitholdkey1", "hashwitholdkey001", "bothwitholdkey001"}) {
        const auto row = site.row(key);
        REQUIRE(row);
        CHECK(row->expire_date == before->expire_date);
        const PyDict data = stored_dict(*row, kNewKey);  // verifies with SECRET_KEY alone
        const std::string password = std::string(key) == "signedwitholdkey1" ? "pw-one" : "pw-two";
        CHECK(*data.find("_auth_user_hash") == PyValue(session_auth_hash(password, kNewKey)));
    }
    Result again = site.run({"--json", "rekey", "--dry-run"});
    CHECK(json::parse(again.out)["by_key"]["SECRET_KEY_FALLBACKS[0]"] == 0);
    CHECK(site.run({"--engine", "signed_cookies", "rekey"}).code == 2);
}
