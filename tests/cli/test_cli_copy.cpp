// sessionctl copy end to end: cli::run() between two SQLite session databases
// (and a session directory), with "another request" acting at the race points:
// --dry-run writes nothing, a key the target holds is kept and reported (exit
// 5), --overwrite replaces only what it read, --move removes exactly what was
// copied and keeps what a request rewrote, an interrupted copy run again
// leaves the same target as an uninterrupted one, and a target with another
// SECRET_KEY gets logins re-hashed from the user table.

#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/sqlite/sqlite_table.hpp"
#include "cli/app.hpp"
#include "core/auth_hash.hpp"
#include "core/clock.hpp"
#include "core/session_codec.hpp"
#include "core/session_key.hpp"
#include "tests/cli/cli_site.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace sessionctl;

namespace {

constexpr std::int64_t kCopyNow = 1700000000'000000;  // 2023-11-14 22:13:20 UTC
constexpr const char* kCopySecret = "copy-test-secret-5e1f0a9b3c7d2e46-never-print-me";
constexpr const char* kOtherSecret = "copy-test-other-site-secret-9d8c7b6a5f4e-never-print";
constexpr const char* kModelBackend = "django.contrib.auth.backends.ModelBackend";
constexpr std::int64_t kDay = 86'400'000'000;

using CopyRun = cli_test::Result;

// Two stores in one temp dir: the source (src.json: db on src.sqlite3) and
// targets (db on <name>.sqlite3, or the file engine), all with one secret.
class CopySite {
public:
    CopySite() {
        std::string pattern = (fs::temp_directory_path() / "sessionctl-copy-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        dir_ = pattern;
        write("secret_key", std::string(kCopySecret) + "\n");
        src_ = db_config("src");
        clock_ = std::make_shared<FakeClock>(kCopyNow);
    }
    ~CopySite() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    CopySite(const CopySite&) = delete;
    CopySite& operator=(const CopySite&) = delete;

    std::function<void(std::string_view point, std::string_view key)> race_hook;

    [[nodiscard]] std::string path(const std::string& name) const { return (dir_ / name).string(); }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream(path(name), std::ios::binary) << text;
        ::chmod(path(name).c_str(), 0600);
    }

    // A db store on <name>.sqlite3 (created with Django's table); its config's
    // path. `secret_file`: another site's key.
    std::string db_config(const std::string& name, const std::string& secret_file = "secret_key") {
        SqliteOptions options;
        options.create_if_missing = true;
        (void)open_sqlite_table(path(name + ".sqlite3"), options);
        json cfg = {{"SECRET_KEY_FILE", path(secret_file)},
                    {"DATABASES",
                     {{"default", {{"ENGINE", "django.db.backends.sqlite3"}, {"NAME", path(name + ".sqlite3")}}}}}};
        write(name + ".json", cfg.dump());
        return path(name + ".json");
    }
    std::unique_ptr<SqliteTable> table(const std::string& name) { return open_sqlite_table(path(name + ".sqlite3")); }

    std::string file_config(const std::string& name) {
        fs::create_directory(path(name));
        json cfg = {{"SECRET_KEY_FILE", path("secret_key")},
                    {"SESSION_ENGINE", "django.contrib.sessions.backends.file"},
                    {"SESSION_FILE_PATH", path(name)}};
        write(name + ".json", cfg.dump());
        return path(name + ".json");
    }

    SessionCodec codec(const char* secret = kCopySecret) const {
        return SessionCodec(SecretKeys{secret, {}}, session_key_salt("SessionStore"));
    }
    std::string encode(const PyDict& data) const { return codec().encode(PyValue(data), kCopyNow / 1'000'000); }

    // Runs SQL on <db>.sqlite3.
    void sql(const std::string& db, const std::string& statement) const {
        sqlite3* handle = nullptr;
        REQUIRE(sqlite3_open_v2(path(db + ".sqlite3").c_str(), &handle, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
        char* error = nullptr;
        const int rc = sqlite3_exec(handle, statement.c_str(), nullptr, nullptr, &error);
        const std::string message = error ? error : "";
        sqlite3_free(error);
        sqlite3_close_v2(handle);
        INFO(message);
        REQUIRE(rc == SQLITE_OK);
    }
    // Django's auth_user table in <db>.sqlite3 with users id -> password hash.
    void users(const std::string& db, const std::map<int, std::string>& passwords) const {
        sql(db, R"(CREATE TABLE "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
                   "password" varchar(128) NOT NULL, "username" varchar(150) NOT NULL, "is_active" bool NOT NULL))");
        for (const auto& [id, password] : passwords)
            sql(db, fmt::format("INSERT INTO auth_user VALUES ({}, '{}', 'u{}', 1)", id, password, id));
    }
    // A session of user `id` in the source, logged in with this hash.
    std::string login(int id, const std::string& hash) {
        std::string key = random_string(32);
        PyDict data{{"_auth_user_id", std::to_string(id)},
                    {"_auth_user_backend", kModelBackend},
                    {"_auth_user_hash", hash},
                    {"cart", 3}};
        REQUIRE(table("src")->insert({key, encode(data), DateTime{kCopyNow + kDay, std::nullopt}}));
        return key;
    }

    // `n` sessions in the source, expiring a day from now (plus i seconds); their keys.
    std::vector<std::string> add_sessions(std::size_t n, const std::string& db = "src") {
        std::vector<SessionTable::RowWrite> rows;
        std::vector<std::string> keys;
        for (std::size_t i = 0; i < n; ++i) {
            std::string key = random_string(32);
            keys.push_back(key);
            rows.push_back({{key, encode(PyDict{{"n", static_cast<std::int64_t>(i)}, {"_auth_user_id", "7"}}),
                             DateTime{kCopyNow + kDay + static_cast<std::int64_t>(i) * 1'000'000, std::nullopt}},
                            std::nullopt});
        }
        (void)table(db)->write_rows(rows);
        return keys;
    }

    // Every row of a database, by key.
    std::map<std::string, StoredSession> rows(const std::string& db) {
        std::map<std::string, StoredSession> out;
        table(db)->scan([&](const StoredSession& r) {
            out.emplace(r.key, r);
            return true;
        });
        return out;
    }

    CopyRun run(std::vector<std::string> args, const std::string& config = {}) {
        std::vector<std::string> full = {"sessionctl", "--config", config.empty() ? src_ : config};
        full.insert(full.end(), args.begin(), args.end());
        cli::RunHooks hooks;
        hooks.clock = clock_;
        hooks.race_hook = race_hook;
        return cli_test::run_cli(std::move(full), hooks, {kCopySecret});
    }

private:
    fs::path dir_;
    std::string src_;
    std::shared_ptr<FakeClock> clock_;
};

bool same_rows(const std::map<std::string, StoredSession>& a, const std::map<std::string, StoredSession>& b) {
    if (a.size() != b.size()) return false;
    for (const auto& [key, row] : a) {
        auto it = b.find(key);
        if (it == b.end() || it->second.data != row.data || it->second.expire_date != row.expire_date) return false;
    }
    return true;
}

}  // namespace

TEST_CASE("copy keeps key, data and expiry and skips expired sessions", "[cli][copy]") {
    CopySite site;
    const auto keys = site.add_sessions(3);
    // One expired an hour ago: not copied.
    const std::string old_key = random_string(32);
    REQUIRE(site.table("src")->insert(
        {old_key, site.encode(PyDict{{"x", 1}}), DateTime{kCopyNow - 3'600'000'000, std::nullopt}}));
    const std::string to = site.db_config("dst");
    CopyRun r = site.run({"--json", "-v", "copy", "--to", to});
    INFO(r.err);
    REQUIRE(r.code == 0);
    json j = json::parse(r.out);
    CHECK(j["matched"] == 4);
    CHECK(j["copied"] == 3);
    CHECK(j["skipped"] == 1);
    CHECK(j["skipped_because"]["expired"] == 1);
    CHECK(j["failed"] == 0);
    CHECK(j["keys"].size() == 3);
    auto src = site.rows("src");
    auto dst = site.rows("dst");
    CHECK(dst.size() == 3);
    CHECK_FALSE(dst.count(old_key));
    for (const auto& key : keys) {
        REQUIRE(dst.count(key));
        CHECK(dst[key].data == src[key].data);  // same secret and salt: the very bytes
        CHECK(dst[key].expire_date == src[key].expire_date);
    }
    CHECK(src.size() == 4);  // the source is untouched
}

TEST_CASE("copy --dry-run writes nothing and says what would be copied and skipped", "[cli][copy]") {
    CopySite site;
    const auto keys = site.add_sessions(3);
    const std::string to = site.db_config("dst");
    REQUIRE(site.table("dst")->insert(
        {keys[0], site.encode(PyDict{{"other", true}}), DateTime{kCopyNow + kDay, std::nullopt}}));
    const auto before = site.rows("dst");
    CopyRun r = site.run({"--json", "copy", "--to", to, "--dry-run", "--move"});
    INFO(r.err);
    CHECK(r.code == 5);  // what the real run would report
    json j = json::parse(r.out);
    CHECK(j["dry_run"] == true);
    CHECK(j["copied"] == 2);
    CHECK(j["skipped_because"]["exists_in_target"] == 1);
    CHECK(j["existing_keys"] == json::array({keys[0]}));
    CHECK(j["moved"] == 2);
    CHECK(same_rows(site.rows("dst"), before));
    CHECK(site.rows("src").size() == 3);
}

TEST_CASE("copy keeps a key the target holds (exit 5); --overwrite replaces it only if unchanged", "[cli][copy]") {
    CopySite site;
    const auto keys = site.add_sessions(2);
    const std::string to = site.db_config("dst");
    const std::string theirs = site.encode(PyDict{{"theirs", 1}});
    REQUIRE(site.table("dst")->insert({keys[0], theirs, DateTime{kCopyNow + kDay, std::nullopt}}));
    CopyRun r = site.run({"--json", "copy", "--to", to});
    CHECK(r.code == 5);
    CHECK(r.err.find("1 already in the target with other data") != std::string::npos);
    CHECK(json::parse(r.out)["existing_keys"] == json::array({keys[0]}));
    CHECK(site.rows("dst")[keys[0]].data == theirs);
    CHECK(site.rows("dst").count(keys[1]));

    SECTION("--overwrite-older leaves a target copy that expires later") {
        REQUIRE(site.table("dst")->update({keys[0], theirs, DateTime{kCopyNow + 30 * kDay, std::nullopt}}));
        r = site.run({"--json", "copy", "--to", to, "--overwrite-older"});
        CHECK(r.code == 5);
        CHECK(site.rows("dst")[keys[0]].data == theirs);
    }
    SECTION("--overwrite replaces it") {
        r = site.run({"--json", "copy", "--to", to, "--overwrite"});
        INFO(r.err);
        CHECK(r.code == 0);
        CHECK(json::parse(r.out)["overwritten"] == 1);
        CHECK(site.rows("dst")[keys[0]].data == site.rows("src")[keys[0]].data);
    }
    SECTION("--overwrite keeps a target session rewritten between the read and the replace") {
        const std::string newer = site.encode(PyDict{{"theirs", 2}});
        site.race_hook = [&](std::string_view point, std::string_view) {
            if (point == "copy: before replace")
                REQUIRE(site.table("dst")->update({keys[0], newer, DateTime{kCopyNow + kDay, std::nullopt}}));
        };
        r = site.run({"--json", "copy", "--to", to, "--overwrite"});
        CHECK(r.code == 5);
        CHECK(json::parse(r.out)["skipped_because"]["changed_in_target"] == 1);
        CHECK(site.rows("dst")[keys[0]].data == newer);
    }
}

TEST_CASE("copy --move removes exactly the copied sessions and keeps one rewritten meanwhile", "[cli][copy]") {
    CopySite site;
    const auto keys = site.add_sessions(3);
    const std::string expired = random_string(32);
    REQUIRE(site.table("src")->insert(
        {expired, site.encode(PyDict{{"x", 1}}), DateTime{kCopyNow - 1'000'000, std::nullopt}}));
    const std::string to = site.file_config("files");
    const std::string rewritten = site.encode(PyDict{{"rewritten", true}});
    site.race_hook = [&](std::string_view point, std::string_view) {
        if (point != "copy: before move") return;
        auto row = site.table("src")->select(keys[1]);
        row->data = rewritten;
        REQUIRE(site.table("src")->update(*row));
    };
    CopyRun r = site.run({"--json", "copy", "--to", to, "--move"});
    INFO(r.err);
    CHECK(r.code == 5);
    json j = json::parse(r.out);
    CHECK(j["copied"] == 3);
    CHECK(j["moved"] == 2);
    CHECK(j["kept_in_source"] == 1);
    auto src = site.rows("src");
    CHECK(src.size() == 2);
    CHECK(src.count(keys[1]));
    CHECK(src[keys[1]].data == rewritten);
    CHECK(src.count(expired));  // expired: neither copied nor moved
    for (const auto& key : keys) CHECK(fs::exists(site.path("files") + "/sessionid" + key));
    // The file's mtime is its expiry minus SESSION_COOKIE_AGE.
    struct stat st {};
    REQUIRE(::stat((site.path("files") + "/sessionid" + keys[2]).c_str(), &st) == 0);
    CHECK(st.st_mtime == (kCopyNow + kDay + 2'000'000) / 1'000'000 - 1209600);
}

TEST_CASE("an interrupted copy run again leaves the same target as an uninterrupted one", "[cli][copy][interrupt]") {
    CopySite site;
    // Eight batches: more than the scan's read-ahead (records already read when
    // Ctrl-C comes are still copied), so the interruption leaves work undone.
    constexpr int kSessions = 4000;
    (void)site.add_sessions(kSessions);
    const std::string once = site.db_config("once");
    const std::string twice = site.db_config("twice");
    CopyRun r = site.run({"--json", "copy", "--to", once});
    REQUIRE(r.code == 0);
    CHECK(json::parse(r.out)["copied"] == kSessions);

    int writes = 0;
    site.race_hook = [&](std::string_view point, std::string_view) {
        if (point == "copy: before write" && ++writes == 1) std::raise(SIGINT);
    };
    r = site.run({"--json", "copy", "--to", twice});
    CHECK(r.code == 130);
    const auto partial = json::parse(r.out)["copied"].get<int>();
    CHECK(partial >= 500);
    CHECK(partial < kSessions);
    CHECK(r.err.find("run the same command again") != std::string::npos);
    site.race_hook = {};
    r = site.run({"--json", "copy", "--to", twice});
    INFO(r.err);
    CHECK(r.code == 0);
    json j = json::parse(r.out);
    CHECK(j["copied"] == kSessions - partial);
    CHECK(j["skipped_because"]["already_in_target"] == partial);
    CHECK(same_rows(site.rows("once"), site.rows("twice")));
}

TEST_CASE("copy refuses signed_cookies, the same store, and a target without a secret", "[cli][copy]") {
    CopySite site;
    (void)site.add_sessions(1);
    CopyRun r = site.run({"copy", "--to", site.path("src.json")});
    CHECK(r.code == 2);
    CHECK(r.err.find("names the store being copied from") != std::string::npos);
    site.write("cookies.json", json{{"SECRET_KEY_FILE", site.path("secret_key")},
                                    {"SESSION_ENGINE", "django.contrib.sessions.backends.signed_cookies"}}
                                   .dump());
    r = site.run({"copy", "--to", site.path("cookies.json")});
    CHECK(r.code == 2);
    CHECK(r.err.find("signed_cookies") != std::string::npos);
    site.write(
        "nosecret.json",
        json{{"SESSION_ENGINE", "django.contrib.sessions.backends.file"}, {"SESSION_FILE_PATH", site.path("")}}.dump());
    r = site.run({"copy", "--to", site.path("nosecret.json")});
    CHECK(r.code == 2);
}

TEST_CASE("copy to another SECRET_KEY re-hashes logins when the user table is reachable", "[cli][copy][users]") {
    CopySite site;
    site.write("other_secret", std::string(kOtherSecret) + "\n");
    const std::map<int, std::string> passwords{{7, "pbkdf2_sha256$1$salt$seven"}, {8, "pbkdf2_sha256$1$salt$eight"}};
    const std::string kept = site.login(7, session_auth_hash(passwords.at(7), kCopySecret));
    const std::string stale = site.login(8, session_auth_hash("an old password", kCopySecret));
    const std::string gone = site.login(9, session_auth_hash("pw9", kCopySecret));
    const auto anonymous = site.add_sessions(1);
    const std::string to = site.db_config("dst", "other_secret");

    auto copied_hash = [&](const std::string& key) {
        const DecodeResult decoded = site.codec(kOtherSecret).decode(site.rows("dst").at(key).data);
        REQUIRE(decoded.ok());
        REQUIRE(decoded.verified);
        return decoded.data.as_dict().find("_auth_user_hash")->as_str();
    };

    SECTION("the target's DATABASES hold the user table") {
        site.users("dst", passwords);
        CopyRun r = site.run({"--json", "copy", "--to", to});
        INFO(r.err);
        CHECK(r.code == 0);
        json j = json::parse(r.out);
        CHECK(j["copied"] == 4);
        CHECK(j["auth_hashes_recomputed"] == 1);
        CHECK(j["logins_lost"] == 2);  // password changed, user gone: refused on the source too
        CHECK(copied_hash(kept) == session_auth_hash(passwords.at(7), kOtherSecret));
        CHECK(copied_hash(stale) == session_auth_hash("an old password", kCopySecret));
        CHECK(r.err.find("matches no current password") != std::string::npos);
        // The rest of the data is the source's.
        const DecodeResult decoded = site.codec(kOtherSecret).decode(site.rows("dst").at(kept).data);
        CHECK(*decoded.data.as_dict().find("cart") == PyValue(3));
        // A rerun finds the re-hashed session there already.
        r = site.run({"--json", "copy", "--to", to});
        CHECK(r.code == 0);
        CHECK(json::parse(r.out)["skipped_because"]["already_in_target"] == 4);

        const std::string text_to = site.db_config("text", "other_secret");
        site.users("text", passwords);
        r = site.run({"copy", "--to", text_to});
        CHECK(r.out.find("1 login kept: _auth_user_hash made anew") != std::string::npos);
    }
    SECTION("else the source's") {
        site.users("src", passwords);
        CopyRun r = site.run({"--json", "copy", "--to", to});
        INFO(r.err);
        CHECK(r.code == 0);
        CHECK(json::parse(r.out)["auth_hashes_recomputed"] == 1);
        CHECK(copied_hash(kept) == session_auth_hash(passwords.at(7), kOtherSecret));
    }
    SECTION("without a user table every login with a hash is counted as lost") {
        CopyRun r = site.run({"--json", "copy", "--to", to});
        INFO(r.err);
        CHECK(r.code == 0);
        json j = json::parse(r.out);
        CHECK(j["auth_hashes_recomputed"] == 0);
        CHECK(j["logins_lost"] == 3);
        CHECK(copied_hash(kept) == session_auth_hash(passwords.at(7), kCopySecret));
        CHECK(r.err.find("will not survive") != std::string::npos);
        CHECK(r.err.find("could not be read") != std::string::npos);
    }
    (void)anonymous;
}
