// The end-to-end fixture of the cli tests: a Site is a temp dir with a Django
// session database (SQLite), a secret file and a config naming both; run()
// calls cli::run() against it and checks that no secret is ever printed.
// Shared by test_cli_run.cpp and test_cli_run_more.cpp; run_cli(), the
// cli::run() call itself, also by the sites of test_cli_users/copy/stats.cpp.
#pragma once

#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>
#include "backends/sqlite/sqlite_table.hpp"
#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "cli/file_lock.hpp"
#include "core/auth_hash.hpp"
#include "core/clock.hpp"
#include "core/session_codec.hpp"

namespace sessionctl::cli_test {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::int64_t kNow = 1700000000'000000;  // 2023-11-14 22:13:20 UTC
inline constexpr const char* kSecret = "cli-test-secret-3f9a1c7e5b2d8f04-never-print-me";
inline constexpr const char* kFallback = "cli-test-old-secret-77aa19c04e-never-print-me";

struct Result {
    int code;
    std::string out;
    std::string err;
};

inline std::vector<json> json_lines(const std::string& text) {
    std::vector<json> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(json::parse(line));
    return out;
}

inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// cli::run() on `full` (argv[0] included) with `input` on stdin and `hooks`;
// whatever happened, none of `secrets` is printed.
inline Result run_cli(std::vector<std::string> full, const cli::RunHooks& hooks,
                      std::initializer_list<const char*> secrets, const std::string& input = "") {
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::istringstream in(input);
    std::ostringstream out, err;
    int code = cli::run(static_cast<int>(full.size()), argv.data(), in, out, err, hooks);
    Result r{code, out.str(), err.str()};
    for (const char* secret : secrets) {
        CHECK_FALSE(contains(r.out, secret));
        CHECK_FALSE(contains(r.err, secret));
    }
    return r;
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
        cli::RunHooks hooks;
        hooks.clock = clock_;
        hooks.race_hook = race_hook;
        return run_cli(std::move(full), hooks, {kSecret, kFallback}, input);
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

inline DateTime naive_utc(std::int64_t micros) { return DateTime{micros, std::nullopt}; }

}  // namespace sessionctl::cli_test
