// SqliteTable specifics: Django's schema, what happens on files that are not
// a Django database, lock handling, reading rows as Django (or a human) wrote
// them, batched deletes, and db.json's boundary cases on raw rows. The
// behaviours shared with every table are in test_store_contract.cpp.

#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/bulk_pacer.hpp"
#include "backends/sql/db_engine.hpp"
#include "backends/sql/sql_naming.hpp"
#include "backends/sqlite/sqlite_table.hpp"
#include "core/clock.hpp"
#include "core/datetime.hpp"
#include "core/errors.hpp"
#include "core/session_base.hpp"

namespace fs = std::filesystem;
using namespace sessionctl;

namespace {

using sessionctl::testing::TempDir;

// A second, plain sqlite3 connection: what Django (or another process) does.
class RawDb {
public:
    explicit RawDb(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK)
            FAIL("cannot open " << path << ": " << sqlite3_errmsg(db_));
    }
    ~RawDb() { sqlite3_close_v2(db_); }
    RawDb(const RawDb&) = delete;
    RawDb& operator=(const RawDb&) = delete;

    void exec(const std::string& sql) {
        char* error = nullptr;
        int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
        std::string message = error ? error : "";
        sqlite3_free(error);
        if (rc != SQLITE_OK) FAIL(sql << ": " << message);
    }
    // Every row of a query, each column as text ("<null>" for NULL).
    std::vector<std::vector<std::string>> rows(const std::string& sql) {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
            FAIL(sql << ": " << sqlite3_errmsg(db_));
        std::vector<std::vector<std::string>> out;
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            std::vector<std::string> row;
            for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
                const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
                row.emplace_back(text ? text : "<null>");
            }
            out.push_back(std::move(row));
        }
        sqlite3_finalize(stmt);
        if (rc != SQLITE_DONE) FAIL(sql << ": " << sqlite3_errmsg(db_));
        return out;
    }
    void insert_row(const std::string& key, const std::string& data, const std::string& expire_date,
                    const std::string& table = "django_session") {
        exec(fmt::format("INSERT INTO \"{}\" VALUES ('{}', '{}', '{}')", table, key, data, expire_date));
    }

private:
    sqlite3* db_ = nullptr;
};

SqliteOptions creating() {
    SqliteOptions options;
    options.create_if_missing = true;
    return options;
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

nlohmann::json load_db_vectors(const std::string& version) {
    std::ifstream in(std::string(SESSIONCTL_TEST_DATA) + "/" + version + "/db.json");
    REQUIRE(in);
    return nlohmann::json::parse(in);
}

DateTime naive(std::int64_t unix_micros) { return DateTime{unix_micros, std::nullopt}; }

StoredSession row(std::string key, std::string data, std::int64_t expire_unix_micros) {
    return {std::move(key), std::move(data), naive(expire_unix_micros)};
}

constexpr std::int64_t kNow = 1700000000'000000;  // 2023-11-14 22:13:20 UTC

std::vector<std::string> scanned_keys(SqliteTable& table) {
    std::vector<std::string> keys;
    table.scan([&](const StoredSession& r) {
        keys.push_back(r.key);
        return true;
    });
    std::sort(keys.begin(), keys.end());  // scans go in rowid order
    return keys;
}

}  // namespace

TEST_CASE("create_if_missing creates exactly the schema Django's migration creates", "[sqlite]") {
    for (const char* version : {"django-6.1.dev-afa026cd", "django-3.2.25"}) {
        SECTION(version) {
            const nlohmann::json ddl = load_db_vectors(version).at("ddl");
            TempDir dir;
            const std::string path = dir.file("db.sqlite3");
            auto table = open_sqlite_table(path, creating());
            table.reset();

            RawDb raw(path);
            auto schema = raw.rows("SELECT type, name, sql FROM sqlite_master ORDER BY type DESC, name");
            REQUIRE(schema.size() == ddl.size());
            for (std::size_t i = 0; i < ddl.size(); ++i) {
                CHECK(schema[i][0] == ddl[i][0].get<std::string>());
                CHECK(schema[i][1] == ddl[i][1].get<std::string>());
                CHECK(schema[i][2] == (ddl[i][2].is_null() ? "<null>" : ddl[i][2].get<std::string>()));
            }
            CHECK(django_session_ddl() ==
                  std::vector<std::string>{ddl[0][2].get<std::string>(), ddl[1][2].get<std::string>()});
        }
    }
}

TEST_CASE("a custom session table gets Django's quoted name and index name", "[sqlite]") {
    CHECK(django_session_ddl("sessions_tests_customsession")[1] ==
          R"(CREATE INDEX "sessions_tests_customsession_expire_date_810915cc" )"
          R"(ON "sessions_tests_customsession" ("expire_date"))");
    CHECK(quote_sql_identifier(R"(my "odd" table)") == R"("my ""odd"" table")");

    TempDir dir;
    SqliteOptions options = creating();
    options.table = R"(my "odd" table)";
    auto table = open_sqlite_table(dir.file("db.sqlite3"), options);
    CHECK(table->table_name() == R"(my "odd" table)");
    REQUIRE(table->insert(row("customkey1", "data", kNow)));
    CHECK(table->select("customkey1"));

    RawDb raw(dir.file("db.sqlite3"));
    CHECK(raw.rows(R"(SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL)") ==
          std::vector<std::vector<std::string>>{{R"(my "odd" table_expire_date_a1d273f9)"}});
}

TEST_CASE("opening a file that is not a SQLite database throws StoreError and writes nothing", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.file("notadb.sqlite3");
    std::string garbage;
    for (int i = 0; i < 200; ++i) garbage += "this is not a database, just some text\n";
    std::ofstream(path, std::ios::binary) << garbage;

    SqliteOptions options;
    SECTION("plain open") {}
    SECTION("create_if_missing") { options.create_if_missing = true; }
    SECTION("read_only") { options.read_only = true; }

    try {
        (void)open_sqlite_table(path, options);
        FAIL("open succeeded");
    } catch (const StoreError& e) {
        CHECK(std::string(e.what()) == path + " is not a SQLite database");
    }
    CHECK(file_bytes(path) == garbage);
    CHECK(dir.entries() == std::vector<std::string>{"notadb.sqlite3"});
}

TEST_CASE("opening a database without the session table throws StoreError telling to migrate", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.file("other.sqlite3");
    {
        RawDb raw(path);
        raw.exec("CREATE TABLE auth_user (id integer PRIMARY KEY)");
    }
    const std::string before = file_bytes(path);

    try {
        (void)open_sqlite_table(path, {});
        FAIL("open succeeded");
    } catch (const StoreError& e) {
        CHECK(std::string(e.what()) == "no django_session table in " + path + ": run manage.py migrate");
    }
    CHECK(file_bytes(path) == before);

    SqliteOptions custom;
    custom.table = "myapp_session";
    CHECK_THROWS_WITH(open_sqlite_table(path, custom), "no myapp_session table in " + path + ": run manage.py migrate");

    // create_if_missing does not add the table to a site's existing database.
    CHECK_THROWS_WITH(open_sqlite_table(path, creating()),
                      "no django_session table in " + path + ": run manage.py migrate");
    CHECK(file_bytes(path) == before);
}

TEST_CASE("a table without Django's columns is rejected at open", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.file("db.sqlite3");
    {
        RawDb raw(path);
        raw.exec(R"(CREATE TABLE "django_session" ("session_key" varchar(40) PRIMARY KEY, "data" text))");
    }
    CHECK_THROWS_AS(open_sqlite_table(path, {}), StoreError);
    CHECK_THROWS_WITH(open_sqlite_table(path, {}), Catch::Contains("not a Django session table"));
}

TEST_CASE("a missing database file is an error and is never created", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.file("missing.sqlite3");
    SqliteOptions options;
    SECTION("default options") {}
    SECTION("read_only wins over create_if_missing") {
        options.read_only = true;
        options.create_if_missing = true;
    }
    try {
        (void)open_sqlite_table(path, options);
        FAIL("open succeeded");
    } catch (const StoreError& e) {
        CHECK(std::string(e.what()) == "database file not found: " + path);
    }
    CHECK_FALSE(fs::exists(path));
    CHECK(dir.entries().empty());
}

TEST_CASE("a directory that cannot hold the file gives StoreError naming the path", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.file("no/such/dir/db.sqlite3");
    CHECK_THROWS_AS(open_sqlite_table(path, creating()), StoreError);
    CHECK_THROWS_WITH(open_sqlite_table(path, creating()), Catch::Contains(path));
}

TEST_CASE("a write blocked by another process's lock fails with StoreUnavailable after the busy timeout", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.file("db.sqlite3");
    (void)open_sqlite_table(path, creating());

    SqliteOptions options;
    options.busy_timeout_ms = 100;
    auto table = open_sqlite_table(path, options);
    REQUIRE(table->insert(row("existingkey1", "old", kNow)));

    RawDb other(path);
    const std::string locked = "database is locked by another process (" + path + "); try again";

    SECTION("exclusive lock: reads and writes wait, then fail") {
        other.exec("BEGIN EXCLUSIVE");
        CHECK_THROWS_AS(table->insert(row("newsession1", "data", kNow)), StoreUnavailable);
        CHECK_THROWS_WITH(table->insert(row("newsession1", "data", kNow)), locked);
        CHECK_THROWS_AS(table->select("existingkey1"), StoreUnavailable);
        CHECK_THROWS_AS(table->delete_expired(naive(kNow + 1), DryRun::no, false), StoreUnavailable);
        other.exec("ROLLBACK");
    }
    SECTION("pending write: reads go on, writes wait, then fail") {
        other.exec("BEGIN IMMEDIATE");
        other.exec("UPDATE django_session SET session_data = 'other' WHERE session_key = 'existingkey1'");
        CHECK_THROWS_WITH(table->insert(row("newsession1", "data", kNow)), locked);
        CHECK_THROWS_WITH(table->update(row("existingkey1", "mine", kNow)), locked);
        CHECK_THROWS_WITH(table->erase("existingkey1"), locked);
        auto seen = table->select("existingkey1");
        REQUIRE(seen);
        CHECK(seen->data == "old");  // the other transaction is not committed
        other.exec("COMMIT");
    }

    // Released: the same calls go through, and nothing half-done was left.
    REQUIRE(table->insert(row("newsession1", "data", kNow)));
    CHECK(table->select("newsession1"));
    CHECK(table->exists("existingkey1"));
}

TEST_CASE("rows written by Django or by hand are read back as Django's converter reads them", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.file("db.sqlite3");
    auto table = open_sqlite_table(path, creating());
    RawDb raw(path);
    raw.insert_row("key00001", "a", "2023-11-28 22:13:20");         // no fraction
    raw.insert_row("key00002", "b", "2023-11-28 22:13:20.750000");  // Django's usual text
    raw.insert_row("key00003", "c", "2023-11-28T22:13:20.5");       // T separator, short fraction
    raw.insert_row("key00004", "d", "2023-11-28 23:13:20+01:00");   // an offset: converted to UTC
    raw.insert_row("key00005", "e", "garbage");
    raw.insert_row("key00006", "f", "2023-13-45 99:99:99");  // well formed, not a date
    raw.insert_row("key00007", "g", "20231128");             // NUMERIC affinity stores an INTEGER

    const DateTime expected = parse_isoformat("2023-11-28 22:13:20");
    std::vector<StoredSession> rows;
    table->scan([&](const StoredSession& r) {
        rows.push_back(r);
        return true;
    });
    REQUIRE(rows.size() == 7);
    CHECK(rows[0].expire_date == expected);
    CHECK(rows[1].expire_date == expected.plus_micros(750000));
    CHECK(rows[2].expire_date == expected.plus_micros(500000));
    CHECK(rows[3].expire_date == expected);
    CHECK_FALSE(rows[3].expire_date->aware());
    CHECK_FALSE(rows[4].expire_date);
    CHECK_FALSE(rows[5].expire_date);
    CHECK_FALSE(rows[6].expire_date);
    CHECK(rows[4].data == "e");

    auto garbage = table->select("key00005");
    REQUIRE(garbage);
    CHECK_FALSE(garbage->expire_date);
    CHECK(table->select("key00004")->expire_date == expected);
    // "garbage" sorts after any date, but a row without a readable expiry is
    // never live (as on every other table).
    CHECK_FALSE(table->select_live("key00005", naive(kNow)));
    CHECK(table->select_live("key00004", naive(kNow)));
}

TEST_CASE("expire_date is stored as the text Django binds", "[sqlite]") {
    const nlohmann::json vectors = load_db_vectors("django-6.1.dev-afa026cd");
    for (const auto& config : vectors.at("configs")) {
        if (!config.at("USE_TZ").get<bool>()) continue;  // USE_TZ=False needs the site's TZ: core's business
        for (const auto& expected : config.at("rows")) {
            const std::string name = expected.at("case").get<std::string>();
            if (name != "default_expiry" && name != "set_expiry_300") continue;
            TempDir dir;
            const std::string path = dir.file("db.sqlite3");
            auto clock = std::make_shared<FakeClock>(seconds_to_micros(config.at("now_time_time").get<double>()));
            auto env = SessionEnvironment::make(SessionSettings{}, SecretKeys{"secret-for-tests-sqlite", {}}, clock);
            DbStore store(env, open_sqlite_table(path, creating()));
            auto session = store.open(std::nullopt);
            session->set("foo", "bar");
            if (name == "set_expiry_300") session->set_expiry(std::int64_t{300});
            session->save();

            RawDb raw(path);
            auto stored = raw.rows("SELECT expire_date, typeof(expire_date) FROM django_session");
            REQUIRE(stored.size() == 1);
            CHECK(stored[0][0] == expected.at("row").at(2).get<std::string>());
            CHECK(stored[0][1] == expected.at("row").at(3).get<std::string>());
        }
    }
}

TEST_CASE("select_live reproduces db.json's load boundary on a raw row", "[sqlite]") {
    const nlohmann::json vectors = load_db_vectors("django-6.1.dev-afa026cd");
    TempDir dir;
    const std::string path = dir.file("db.sqlite3");
    auto table = open_sqlite_table(path, creating());
    for (const auto& boundary : vectors.at("load_boundary")) {
        RawDb raw(path);
        raw.exec("DELETE FROM django_session");
        raw.insert_row("boundarykey1", "x", boundary.at("expire_date").get<std::string>());
        const double offset = boundary.at("now_offset_s").get<double>();
        const DateTime now = naive(kNow + seconds_to_micros(offset));
        INFO("now + " << offset << " s = " << now.str_naive());
        CHECK(table->select_live("boundarykey1", now).has_value() == !boundary.at("load").empty());
        CHECK(table->exists("boundarykey1"));
    }
}

TEST_CASE("delete_expired reproduces db.json's clear_expired rows", "[sqlite]") {
    for (const char* version : {"django-6.1.dev-afa026cd", "django-3.2.25"}) {
        SECTION(version) {
            const nlohmann::json vectors = load_db_vectors(version).at("clear_expired");
            TempDir dir;
            const std::string path = dir.file("db.sqlite3");
            auto table = open_sqlite_table(path, creating());
            RawDb raw(path);
            for (const auto& r : vectors.at("rows_before"))
                raw.insert_row(r[0].get<std::string>(), "data", r[1].get<std::string>());
            raw.insert_row("equalnowkey1", "data", "2023-11-14 22:13:20");  // row_with_expire_date_equal_now

            const DateTime now = naive(seconds_to_micros(vectors.at("now").get<double>()));
            BulkResult result = table->delete_expired(now, DryRun::no, true);
            CHECK(result.removed == 2);

            std::vector<std::vector<std::string>> expected;
            for (const auto& r : vectors.at("rows_after"))
                expected.push_back({r[0].get<std::string>(), r[1].get<std::string>()});
            expected.push_back({"equalnowkey1", "2023-11-14 22:13:20"});
            std::sort(expected.begin(), expected.end());
            CHECK(raw.rows("SELECT session_key, expire_date FROM django_session ORDER BY session_key") == expected);
            CHECK(vectors.at("row_with_expire_date_equal_now").at("kept_by_clear_expired") == true);
            CHECK_FALSE(table->select_live("equalnowkey1", now));
        }
    }
}

TEST_CASE("delete_expired removes exactly the expired rows across several batches", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.file("db.sqlite3");
    auto table = open_sqlite_table(path, creating());
    const std::size_t expired_count = 2 * BulkPacer::kFirstBatch + 345;  // several batches
    std::vector<std::string> expired;
    std::vector<std::string> kept;
    {
        RawDb raw(path);
        raw.exec("BEGIN");
        for (std::size_t i = 0; i < expired_count; ++i) {
            // Expiry times interleave with key order, so batches (taken in
            // expire_date order) are not runs of keys.
            std::string key = fmt::format("exp{:08}", (i * 7919) % expired_count);
            raw.insert_row(key, "d", naive(kNow - 1 - std::int64_t(i) * 1000).str_naive());
            expired.push_back(key);
        }
        for (std::size_t i = 0; i < 500; ++i) {
            std::string key = fmt::format("live{:07}", i);
            raw.insert_row(key, "d", naive(kNow + 1 + std::int64_t(i) * 1000).str_naive());
            kept.push_back(key);
        }
        raw.insert_row("equalnow0001", "d", naive(kNow).str_naive());
        kept.push_back("equalnow0001");
        raw.insert_row("garbage00001", "d", "garbage");  // text sorts after digits: never "expired"
        kept.push_back("garbage00001");
        raw.exec("COMMIT");
    }
    std::sort(expired.begin(), expired.end());
    std::sort(kept.begin(), kept.end());

    BulkResult dry = table->delete_expired(naive(kNow), DryRun::yes, false);
    CHECK(dry.matched == expired_count);
    CHECK(dry.removed == 0);
    CHECK(scanned_keys(*table).size() == expired_count + kept.size());

    BulkResult done = table->delete_expired(naive(kNow), DryRun::no, true);
    CHECK(done.matched == expired_count);
    CHECK(done.removed == expired_count);
    CHECK(done.keys == expired);
    CHECK(scanned_keys(*table) == kept);

    BulkResult again = table->delete_expired(naive(kNow), DryRun::no, false);
    CHECK(again.matched == 0);
    CHECK(again.removed == 0);
}

TEST_CASE("delete_if_unchanged deletes only rows still holding the data that was read", "[sqlite]") {
    TempDir dir;
    auto table = open_sqlite_table(dir.file("db.sqlite3"), creating());
    std::vector<StoredSession> read;
    {
        RawDb raw(dir.file("db.sqlite3"));
        raw.exec("BEGIN");
        for (std::size_t i = 0; i < SqliteTable::kUnchangedBatchRows + 10; ++i) {
            read.push_back(row(fmt::format("key{:08}", i), "data", kNow));
            raw.insert_row(read.back().key, read.back().data, read.back().expire_date->str_naive());
        }
        raw.exec("COMMIT");
    }
    REQUIRE(table->update(row("key00000003", "rewritten", kNow + 5)));
    table->erase("key00000004");

    BulkResult result = table->delete_if_unchanged(read, true);
    CHECK(result.matched == read.size());
    CHECK(result.removed == read.size() - 2);
    CHECK(result.keys.size() == read.size() - 2);
    CHECK(scanned_keys(*table) == std::vector<std::string>{"key00000003"});
    CHECK(table->delete_if_unchanged({}, true).matched == 0);
}

TEST_CASE("insert, update and erase report what Django's statements would", "[sqlite]") {
    TempDir dir;
    auto table = open_sqlite_table(dir.file("db.sqlite3"), creating());
    CHECK(table->insert(row("samekey00001", "one", kNow)));
    CHECK_FALSE(table->insert(row("samekey00001", "two", kNow)));  // IntegrityError -> CreateError
    CHECK(table->select("samekey00001")->data == "one");
    CHECK(table->update(row("samekey00001", "three", kNow + 1)));
    CHECK(table->select("samekey00001")->data == "three");
    CHECK(table->select("samekey00001")->expire_date == naive(kNow + 1));
    CHECK_FALSE(table->update(row("missingkey01", "x", kNow)));  // forced update: UpdateError
    CHECK_FALSE(table->exists("missingkey01"));
    table->erase("missingkey01");  // missing is fine
    table->erase("samekey00001");
    CHECK_FALSE(table->exists("samekey00001"));
    CHECK_THROWS_AS(table->insert(StoredSession{"noexpiry0001", "x", std::nullopt}), StoreError);
    CHECK(table->insert(row("emptydata001", "", kNow)));  // an empty string is not NULL
    CHECK(table->select("emptydata001")->data.empty());
}

TEST_CASE("a constraint other than a taken key is an error, not a CreateError", "[sqlite]") {
    // A custom AbstractBaseSession with an extra NOT NULL column: reporting it
    // as a taken key would make create() retry forever.
    TempDir dir;
    const std::string path = dir.file("db.sqlite3");
    {
        RawDb raw(path);
        raw.exec(R"(CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, )"
                 R"("session_data" text NOT NULL, "expire_date" datetime NOT NULL, "account_id" integer NOT NULL))");
    }
    auto table = open_sqlite_table(path, {});
    CHECK_THROWS_AS(table->insert(row("customkey001", "x", kNow)), StoreError);
    CHECK_FALSE(table->exists("customkey001"));
}

TEST_CASE("a read-only table reads and dry-runs but refuses every write", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.file("db.sqlite3");
    {
        auto writer = open_sqlite_table(path, creating());
        REQUIRE(writer->insert(row("expiredkey01", "x", kNow - 10)));
    }
    const std::string before = file_bytes(path);
    SqliteOptions options;
    options.read_only = true;
    auto table = open_sqlite_table(path, options);

    CHECK(table->select("expiredkey01"));
    CHECK(table->delete_expired(naive(kNow), DryRun::yes, true).keys == std::vector<std::string>{"expiredkey01"});
    CHECK_THROWS_AS(table->insert(row("newkey000001", "x", kNow)), StoreError);
    CHECK_THROWS_AS(table->update(row("expiredkey01", "y", kNow)), StoreError);
    CHECK_THROWS_AS(table->erase("expiredkey01"), StoreError);
    CHECK_THROWS_WITH(table->delete_expired(naive(kNow), DryRun::no, false), Catch::Contains("read-only"));
    CHECK_THROWS_AS(table->delete_if_unchanged({row("expiredkey01", "x", kNow)}, false), StoreError);
    CHECK(file_bytes(path) == before);
}

TEST_CASE("scan pages through many rows once each, and visit may delete what it saw", "[sqlite]") {
    TempDir dir;
    const std::string path = dir.file("db.sqlite3");
    auto table = open_sqlite_table(path, creating());
    const std::size_t count = SqliteTable::kScanPageRows * 2 + 17;
    {
        RawDb raw(path);
        raw.exec("BEGIN");
        for (std::size_t i = 0; i < count; ++i) raw.insert_row(fmt::format("page{:08}", i), "d", "2030-01-01 00:00:00");
        raw.exec("COMMIT");
    }

    std::vector<std::string> seen;
    std::vector<std::string> erased;
    table->scan([&](const StoredSession& r) {
        seen.push_back(r.key);
        if (seen.size() % 97 == 1 || seen.size() % SqliteTable::kScanPageRows == 0) {
            table->erase(r.key);  // including the last row of a page: the next page starts after it
            erased.push_back(r.key);
        }
        return true;
    });
    CHECK(seen.size() == count);
    CHECK(std::is_sorted(seen.begin(), seen.end()));
    CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
    std::vector<std::string> remaining;
    std::set_difference(seen.begin(), seen.end(), erased.begin(), erased.end(), std::back_inserter(remaining));
    CHECK(scanned_keys(*table) == remaining);
    CHECK(remaining.size() == count - erased.size());

    RawDb(path).exec("DELETE FROM django_session");
    bool called = false;
    table->scan([&](const StoredSession&) { return called = true; });
    CHECK_FALSE(called);
}

TEST_CASE("sessions written by another connection are visible at once", "[sqlite]") {
    // Two SqliteTables on one file behave as two Django processes.
    TempDir dir;
    const std::string path = dir.file("db.sqlite3");
    auto a = open_sqlite_table(path, creating());
    auto b = open_sqlite_table(path, {});
    REQUIRE(a->insert(row("shared000001", "x", kNow + 1)));
    CHECK(b->select_live("shared000001", naive(kNow)));
    b->erase("shared000001");
    CHECK_FALSE(a->update(row("shared000001", "y", kNow + 1)));
    CHECK_FALSE(a->exists("shared000001"));
}

TEST_CASE("foreign keys: a referenced session is kept and named, the others are removed", "[sqlite][fk]") {
    TempDir dir;
    const std::string path = (dir.path() / "db.sqlite3").string();
    auto table = open_sqlite_table(path, creating());
    table.reset();
    RawDb raw(path);
    // As Django creates a ForeignKey(Session) on SQLite, and one declared
    // ON DELETE CASCADE in the database.
    raw.exec(R"(CREATE TABLE "shop_cart" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "session_id" )"
             R"(varchar(40) NOT NULL REFERENCES "django_session" ("session_key") DEFERRABLE INITIALLY DEFERRED))");
    raw.exec(R"(CREATE TABLE "shop_log" ("id" integer PRIMARY KEY, "session_id" varchar(40) REFERENCES )"
             R"("django_session" ("session_key") ON DELETE CASCADE))");
    raw.insert_row("held", "d", "2020-01-01 00:00:00");
    raw.insert_row("free", "d", "2020-01-01 00:00:00");
    raw.insert_row("logged", "d", "2020-01-01 00:00:00");
    raw.insert_row("live", "d", "2030-01-01 00:00:00");
    raw.exec(R"(INSERT INTO "shop_cart" ("session_id") VALUES ('held'), ('live'))");
    raw.exec(R"(INSERT INTO "shop_log" VALUES (1, 'logged'))");
    table = open_sqlite_table(path);

    SECTION("delete refuses before deleting anything") {
        CHECK_THROWS_WITH(table->erase("held"),
                          Catch::Contains("shop_cart") && Catch::Contains("session_id") && Catch::Contains("refusing"));
        CHECK_THROWS_WITH(table->delete_if_unchanged({{"free", "d", std::nullopt}, {"live", "d", std::nullopt}}, false),
                          Catch::Contains("shop_cart"));
        CHECK(table->exists("free"));
        CHECK(table->exists("held"));
        table->erase("logged");  // the database cascades, as Django's connection would let it
        CHECK(raw.rows("SELECT count(*) FROM shop_log")[0][0] == "0");
    }
    SECTION("clearsessions removes the others, then names what it kept") {
        BulkOptions options;
        options.batch_size = GENERATE(std::size_t{1}, BulkOptions::kOneTransaction);
        CHECK_THROWS_WITH(table->delete_expired(naive(kNow), DryRun::no, false, options),
                          Catch::Contains("removed 2 expired sessions") && Catch::Contains("shop_cart") &&
                              Catch::Contains("shop_cart.session_id -> django_session.session_key"));
        CHECK(table->exists("held"));
        CHECK(table->exists("live"));
        CHECK_FALSE(table->exists("free"));
        CHECK_FALSE(table->exists("logged"));
        CHECK(raw.rows("SELECT count(*) FROM shop_log")[0][0] == "0");
    }
    SECTION("a reference made after the check fails the transaction, not the database") {
        auto stale = open_sqlite_table(path);
        raw.exec(R"(CREATE TABLE "late" ("session_id" varchar(40) REFERENCES "django_session" ("session_key") )"
                 R"(DEFERRABLE INITIALLY DEFERRED))");
        raw.exec(R"(INSERT INTO "late" VALUES ('free'))");
        CHECK_THROWS_AS(stale->erase("free"), StoreError);
        CHECK(stale->exists("free"));
    }
}
