// PostgreSQL specifics of the db engine (the shared contract runs in
// test_store_contract.cpp): DATABASES -> libpq parameters and DSN redaction
// (no server needed), then, on this process's own database, how expire_date
// is sent and read for timestamptz and timestamp columns, CreateError, custom
// columns, foreign keys, locks, batches, and connection failures.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/postgres/pg_dsn.hpp"
#include "backends/postgres/pg_table.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "tests/support/pg_test_support.hpp"
#include "tests/support/test_support.hpp"

using namespace sessionctl;
using json = nlohmann::json;
using sessionctl::testing::PgTestDatabase;

namespace {

PgParams params_of(const json& db, bool use_tz = true) { return pg_settings_from_django(db, use_tz, "UTC").params; }

std::string param(const PgParams& params, const std::string& key) {
    std::string value = "<unset>";
    for (const auto& [k, v] : params)
        if (k == key) value = v;  // the last one wins, as in libpq
    return value;
}

DateTime naive(const std::string& text) { return *parse_django_datetime(text); }

StoredSession row(std::string key, std::string expire, std::string data = "data") {
    return {std::move(key), std::move(data), naive(expire)};
}

// A fresh django_session with Django's DDL plus `extra` statements.
std::unique_ptr<PgTable> fresh_table(PgTestDatabase& db, const std::vector<std::string>& extra = {},
                                     PgOptions options = {}) {
    db.sql("DROP TABLE IF EXISTS sessionctl_ref_restrict, sessionctl_ref_cascade CASCADE");
    db.sql("DROP TABLE IF EXISTS django_session CASCADE");
    for (const auto& statement : django_session_pg_ddl()) db.sql(statement);
    for (const auto& statement : extra) db.sql(statement);
    return open_pg_table(db.params(), options);
}

}  // namespace

TEST_CASE("DATABASES maps to libpq parameters as Django's get_connection_params does", "[pg][dsn]") {
    json db = {{"ENGINE", "django.db.backends.postgresql"},
               {"NAME", "mysite"},
               {"USER", "web"},
               {"PASSWORD", "pw"},
               {"HOST", "db.local"},
               {"PORT", 6543},
               {"OPTIONS", {{"sslmode", "verify-full"}, {"passfile", "/etc/mysite/pgpass"}, {"isolation_level", 2}}}};
    PgParams p = params_of(db);
    CHECK(param(p, "dbname") == "mysite");
    CHECK(param(p, "user") == "web");
    CHECK(param(p, "password") == "pw");
    CHECK(param(p, "host") == "db.local");
    CHECK(param(p, "port") == "6543");
    CHECK(param(p, "sslmode") == "verify-full");
    CHECK(param(p, "passfile") == "/etc/mysite/pgpass");
    CHECK(param(p, "isolation_level") == "<unset>");  // Django's own, not libpq's
    CHECK(param(p, "connect_timeout") == "10");       // ours, overridable
    CHECK(p.front().first == "connect_timeout");
}

TEST_CASE("a postgres:// URL comes first and NAME, USER, HOST... override it", "[pg][dsn]") {
    json db = {{"URL", "postgres://web:pw@db.local:6543/mysite?sslmode=require"}, {"NAME", nullptr}};
    PgParams p = params_of(db);
    CHECK(param(p, "dbname") == "postgres://web:pw@db.local:6543/mysite?sslmode=require");
    CHECK(is_postgresql_database(db));

    db["NAME"] = "other";
    db["HOST"] = "replica";
    p = params_of(db);
    auto url_at =
        std::find_if(p.begin(), p.end(), [](const auto& kv) { return kv.second.rfind("postgres://", 0) == 0; });
    auto name_at = std::find_if(p.begin(), p.end(), [](const auto& kv) { return kv.second == "other"; });
    REQUIRE(url_at != p.end());
    REQUIRE(name_at != p.end());
    CHECK(url_at < name_at);
    CHECK(param(p, "host") == "replica");
}

TEST_CASE("NAME, TIME_ZONE and OPTIONS follow Django's rules", "[pg][dsn]") {
    CHECK(param(params_of({{"NAME", nullptr}}), "dbname") == "postgres");
    CHECK_THROWS_AS(params_of({{"NAME", ""}}), ConfigError);
    CHECK(param(params_of({{"NAME", ""}, {"OPTIONS", {{"service", "mysite"}}}}), "service") == "mysite");
    CHECK_THROWS_AS(params_of({{"NAME", "x"}, {"OPTIONS", "sslmode=require"}}), ConfigError);

    CHECK(pg_settings_from_django({{"NAME", "x"}}, true, "Europe/Paris").time_zone == "UTC");
    CHECK(pg_settings_from_django({{"NAME", "x"}, {"TIME_ZONE", "Asia/Tokyo"}}, true, "UTC").time_zone == "Asia/Tokyo");
    CHECK(pg_settings_from_django({{"NAME", "x"}}, false, "America/Chicago").time_zone == "America/Chicago");
    CHECK_THROWS_AS(pg_settings_from_django({{"NAME", "x"}, {"TIME_ZONE", "UTC"}}, false, "UTC"), ConfigError);

    PgSettings s =
        pg_settings_from_django({{"NAME", "x"}, {"OPTIONS", {{"options", "-c lock_timeout=100"}}}}, true, "UTC");
    CHECK(s.sets_lock_timeout);
    CHECK_FALSE(s.sets_statement_timeout);
}

TEST_CASE("which DATABASES entries are PostgreSQL", "[pg][dsn]") {
    CHECK(is_postgresql_database({{"ENGINE", "django.db.backends.postgresql"}}));
    CHECK(is_postgresql_database({{"ENGINE", "django.db.backends.postgresql_psycopg2"}}));
    CHECK(is_postgresql_database({{"URL", "postgresql://h/db"}}));
    CHECK_FALSE(is_postgresql_database({{"ENGINE", "django.db.backends.sqlite3"}, {"URL", "postgres://h/db"}}));
    CHECK_FALSE(is_postgresql_database({{"ENGINE", "django.db.backends.sqlite3"}, {"NAME", "db.sqlite3"}}));
}

TEST_CASE("a DSN is shown with its password redacted, in every form libpq accepts", "[pg][dsn]") {
    CHECK(redact_pg_dsn("postgres://web:s3cret@db:5432/mysite") == "postgres://web:********@db:5432/mysite");
    CHECK(redact_pg_dsn("postgresql://web:p@ss@db/mysite") == "postgresql://web:********@db/mysite");
    CHECK(redact_pg_dsn("postgresql://web@db/mysite?sslmode=require&password=s3cret&application_name=x") ==
          "postgresql://web@db/mysite?sslmode=require&password=********&application_name=x");
    CHECK(redact_pg_dsn("host=db password=s3cret dbname=mysite") == "host=db password=******** dbname=mysite");
    CHECK(redact_pg_dsn("host=db password = 'a \\' b' dbname=mysite") == "host=db password = ******** dbname=mysite");
    CHECK(redact_pg_dsn("postgres://web@db/mysite") == "postgres://web@db/mysite");
    CHECK(redact_pg_dsn("host=db user=passwordless") == "host=db user=passwordless");
}

TEST_CASE("USE_TZ: expire_date is sent as a UTC instant into timestamptz and read back as Django's naive UTC", "[pg]") {
    auto* db = PgTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db);
    CHECK(table->schema().expire_type == "timestamp with time zone");
    REQUIRE(table->insert(row("k1", "2023-11-14 22:15:00.75")));
    CHECK(db->value("SELECT expire_date::text FROM django_session WHERE session_key = 'k1'") ==
          "2023-11-14 22:15:00.75+00");
    auto back = table->select("k1");
    REQUIRE(back);
    REQUIRE(back->expire_date);
    CHECK(back->expire_date->str_naive() == "2023-11-14 22:15:00.750000");
    CHECK_FALSE(back->expire_date->aware());
    // expire_date > now, strictly, to the microsecond.
    CHECK(table->select_live("k1", naive("2023-11-14 22:15:00.749999")));
    CHECK_FALSE(table->select_live("k1", naive("2023-11-14 22:15:00.75")));
}

TEST_CASE("USE_TZ false: naive expiry is local time in TIME_ZONE, as Django's connection sets it", "[pg]") {
    auto* db = PgTestDatabase::get();
    if (!db) return;
    PgOptions options;
    options.use_tz = false;
    options.time_zone = "America/Chicago";
    auto table = fresh_table(*db, {}, options);
    REQUIRE(table->insert(row("k1", "2023-11-14 16:15:00")));
    // 16:15 in Chicago (CST, UTC-6) is 22:15 UTC.
    CHECK(db->value("SELECT expire_date::text FROM django_session WHERE session_key = 'k1'") ==
          "2023-11-14 22:15:00+00");
    CHECK(table->select("k1")->expire_date->str_naive() == "2023-11-14 16:15:00");
    CHECK(table->select_live("k1", naive("2023-11-14 16:14:59")));
    CHECK_FALSE(table->select_live("k1", naive("2023-11-14 16:15:00")));
}

TEST_CASE("a timestamp (without time zone) column holds Django's naive UTC with USE_TZ", "[pg]") {
    auto* db = PgTestDatabase::get();
    if (!db) return;
    db->sql("DROP TABLE IF EXISTS django_session CASCADE");
    db->sql(
        "CREATE TABLE django_session (session_key varchar(40) PRIMARY KEY, session_data text NOT NULL, "
        "expire_date timestamp NOT NULL)");
    PgOptions options;
    options.time_zone = "UTC";
    auto table = open_pg_table(db->params(), options);
    CHECK(table->schema().expire_type == "timestamp without time zone");
    REQUIRE(table->insert(row("k1", "2023-11-14 22:15:00")));
    CHECK(db->value("SELECT expire_date::text FROM django_session") == "2023-11-14 22:15:00");
    CHECK(table->select("k1")->expire_date->str_naive() == "2023-11-14 22:15:00");
    CHECK(table->select_live("k1", naive("2023-11-14 22:14:59")));
    BulkResult cleared = table->delete_expired(naive("2023-11-14 22:15:01"), DryRun::no, true);
    CHECK(cleared.keys == std::vector<std::string>{"k1"});
}

TEST_CASE("only a violation of the key's unique index is a taken key (CreateError)", "[pg]") {
    auto* db = PgTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db, {"ALTER TABLE django_session ADD COLUMN device text UNIQUE"});
    CHECK(table->insert(row("k1", "2030-01-01 00:00:00")));
    CHECK_FALSE(table->insert(row("k1", "2030-01-01 00:00:00", "other")));
    CHECK(table->select("k1")->data == "data");
    db->sql("UPDATE django_session SET device = 'd'");
    db->sql("ALTER TABLE django_session ALTER COLUMN device SET DEFAULT 'd'");
    try {
        (void)table->insert(row("k2", "2030-01-01 00:00:00"));
        FAIL("insert should have thrown");
    } catch (const StoreError& e) {
        CHECK_THAT(e.what(), Catch::Contains("unique constraint django_session_device_key"));
    }
}

TEST_CASE("extra columns of a custom session model are detected and explained", "[pg]") {
    auto* db = PgTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db, {"ALTER TABLE django_session ADD COLUMN account_id integer",
                                   "ALTER TABLE django_session ADD COLUMN tenant text NOT NULL DEFAULT 'main'"});
    CHECK(table->schema().extra_columns == std::vector<std::string>{"account_id", "tenant"});
    CHECK(table->schema().required_columns.empty());
    REQUIRE(table->insert(row("k1", "2030-01-01 00:00:00")));  // the defaults fill them
    CHECK(db->value("SELECT tenant FROM django_session") == "main");
    auto notes = table->schema_notes();
    REQUIRE(notes.size() == 1);
    CHECK_THAT(notes[0], Catch::Contains("account_id, tenant") && Catch::Contains("AbstractBaseSession"));

    db->sql("ALTER TABLE django_session ADD COLUMN owner integer NOT NULL DEFAULT 1");
    db->sql("ALTER TABLE django_session ALTER COLUMN owner DROP DEFAULT");
    auto reopened = open_pg_table(db->params());
    CHECK(reopened->schema().required_columns == std::vector<std::string>{"owner"});
    try {
        (void)reopened->insert(row("k2", "2030-01-01 00:00:00"));
        FAIL("insert should have thrown");
    } catch (const StoreError& e) {
        CHECK_THAT(e.what(), Catch::Contains("column owner") && Catch::Contains("NOT NULL"));
    }
}

TEST_CASE("a delete a foreign key would reject is refused, naming the referencing table", "[pg]") {
    auto* db = PgTestDatabase::get();
    if (!db) return;
    // As Django creates a ForeignKey(Session): DEFERRABLE INITIALLY DEFERRED.
    PgOptions options;
    options.walk_pages = GENERATE(true, false);
    auto table = fresh_table(*db, {}, options);
    REQUIRE(table->insert(row("kept-referenced", "2020-01-01 00:00:00")));
    REQUIRE(table->insert(row("free-expired-1", "2020-01-01 00:00:00")));
    REQUIRE(table->insert(row("free-expired-2", "2020-01-02 00:00:00")));
    REQUIRE(table->insert(row("live", "2030-01-01 00:00:00")));
    db->sql(
        "CREATE TABLE sessionctl_ref_restrict (id serial PRIMARY KEY, session_id varchar(40) NOT NULL "
        "CONSTRAINT cart_session_fk REFERENCES django_session (session_key) DEFERRABLE INITIALLY DEFERRED)");
    db->sql("INSERT INTO sessionctl_ref_restrict (session_id) VALUES ('kept-referenced')");
    auto reopened = open_pg_table(db->params(), options);
    REQUIRE(reopened->schema().references.size() == 1);
    CHECK(reopened->schema().references[0].table == "sessionctl_ref_restrict");
    CHECK_THAT(reopened->schema_notes().at(0), Catch::Contains("sessionctl_ref_restrict"));

    SECTION("delete by key") {
        CHECK_THROWS_WITH(reopened->erase("kept-referenced"),
                          Catch::Contains("sessionctl_ref_restrict") && Catch::Contains("refusing"));
        CHECK(reopened->exists("kept-referenced"));
        reopened->erase("live");  // an unreferenced row goes
        CHECK_FALSE(reopened->exists("live"));
    }
    SECTION("conditional bulk delete refuses before deleting anything") {
        std::vector<StoredSession> rows{*reopened->select("free-expired-1"), *reopened->select("kept-referenced")};
        CHECK_THROWS_WITH(reopened->delete_if_unchanged(rows, false),
                          Catch::Contains("sessionctl_ref_restrict") && Catch::Contains("cart_session_fk"));
        CHECK(reopened->exists("free-expired-1"));
        CHECK(reopened->exists("kept-referenced"));
    }
    SECTION("clear_expired removes the rest, keeps the referenced row, and says why") {
        CHECK_THROWS_WITH(reopened->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, false),
                          Catch::Contains("removed 2 expired sessions") && Catch::Contains("sessionctl_ref_restrict"));
        CHECK(reopened->exists("kept-referenced"));
        CHECK_FALSE(reopened->exists("free-expired-1"));
        CHECK_FALSE(reopened->exists("free-expired-2"));
        CHECK(reopened->exists("live"));
    }
    SECTION("ON DELETE CASCADE is the database's own business: the delete goes ahead") {
        db->sql(
            "CREATE TABLE sessionctl_ref_cascade (id serial PRIMARY KEY, session_id varchar(40) REFERENCES "
            "django_session (session_key) ON DELETE CASCADE)");
        db->sql("INSERT INTO sessionctl_ref_cascade (session_id) VALUES ('live')");
        auto with_cascade = open_pg_table(db->params());
        with_cascade->erase("live");
        CHECK_FALSE(with_cascade->exists("live"));
        CHECK(db->value("SELECT count(*) FROM sessionctl_ref_cascade") == "0");
    }
}

TEST_CASE("clear_expired deletes in paced batches and stops between them", "[pg]") {
    auto* db = PgTestDatabase::get();
    if (!db) return;
    PgOptions pg;
    pg.walk_pages = GENERATE(true, false);
    auto table = fresh_table(*db, {}, pg);
    db->sql(
        "INSERT INTO django_session SELECT 'expired' || lpad(i::text, 6, '0'), 'x', "
        "timestamptz '2020-01-01 00:00:00+00' + i * interval '1 second' FROM generate_series(1, 2500) i");
    db->sql(
        "INSERT INTO django_session SELECT 'live' || i, 'x', timestamptz '2030-01-01 00:00:00+00' "
        "FROM generate_series(1, 10) i");

    BulkResult dry = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::yes, false);
    CHECK(dry.matched == 2500);

    SECTION("all of it, 1000 rows a batch, with progress") {
        BulkOptions options;
        options.batch_size = 1000;
        std::vector<std::uint64_t> progress;
        options.progress = [&](std::uint64_t done, std::uint64_t total) {
            progress.push_back(done);
            CHECK(total == 2500);
        };
        BulkResult r = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, true, options);
        CHECK(r.removed == 2500);
        CHECK(r.end == BulkEnd::complete);
        // A batch covers about 1000 rows: exactly, on the expire_date index;
        // on pages (the table never analyzed: its first pages are counted),
        // the whole pages that hold at most 1000, so one page's rows fewer.
        CHECK(r.batches == progress.size());
        CHECK(r.batches >= 3);
        CHECK(r.batches <= 4);
        REQUIRE_FALSE(progress.empty());
        CHECK(progress.back() == 2500);
        for (std::size_t i = 0; i < progress.size(); ++i) {
            const std::uint64_t before = i ? progress[i - 1] : 0;
            CHECK(progress[i] > before);
            CHECK(progress[i] - before <= 1000);
        }
        if (!pg.walk_pages) CHECK(progress == std::vector<std::uint64_t>{1000, 2000, 2500});
        CHECK(r.keys.size() == 2500);
        CHECK(std::is_sorted(r.keys.begin(), r.keys.end()));
        CHECK(db->value("SELECT count(*) FROM django_session") == "10");
    }
    SECTION("all of it in one transaction (--one-transaction)") {
        BulkOptions options;
        options.batch_size = BulkOptions::kOneTransaction;
        options.sleep = std::chrono::milliseconds{0};
        BulkResult r = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, false, options);
        CHECK(r.removed == 2500);
        CHECK(r.batches == 1);
        CHECK(r.end == BulkEnd::complete);
        CHECK(db->value("SELECT count(*) FROM django_session") == "10");
    }
    SECTION("a stop request ends it after whole batches") {
        BulkOptions options;
        options.batch_size = 1000;
        options.sleep = std::chrono::milliseconds{0};  // should_stop is polled during a sleep too
        int asked = 0;
        options.should_stop = [&] { return ++asked > 2; };
        BulkResult r = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, false, options);
        CHECK(r.end == BulkEnd::stopped);
        CHECK(asked == 3);
        CHECK(r.batches == 2);
        CHECK(r.removed <= 2000);
        CHECK(r.removed >= 1500);  // two windows of whole pages, each short of 1000 by less than a page
        if (!pg.walk_pages) CHECK(r.removed == 2000);
        CHECK(db->value("SELECT count(*) FROM django_session") == std::to_string(2510 - r.removed));
    }
}

TEST_CASE("clear_expired walks the pages whatever order expiry dates lie in", "[pg]") {
    auto* db = PgTestDatabase::get();
    if (!db) return;
    // A window is whole pages: a batch of 7 still covers one page, and takes
    // the expired rows it holds; a batch of 100 covers a page or two.
    const int data_bytes = GENERATE(10, 2000);
    const std::size_t batch = data_bytes == 10 ? 7 : 100;
    auto table = fresh_table(*db);
    db->sql(
        fmt::format("INSERT INTO django_session SELECT 'k' || lpad(i::text, 6, '0'), repeat('x', {}), "
                    "CASE WHEN (i * 7919) % 10 < 6 THEN timestamptz '2020-01-01 00:00:00+00' + (i * 7919 % 5000) "
                    "* interval '1 minute' ELSE timestamptz '2030-01-01 00:00:00+00' END "
                    "FROM generate_series(1, 3000) i",
                    data_bytes));
    db->sql("ANALYZE django_session");
    const std::string expired_before =
        db->value("SELECT count(*) FROM django_session WHERE expire_date < '2025-01-01 00:00:00+00'");
    BulkOptions options;
    options.batch_size = batch;
    options.sleep = std::chrono::milliseconds{0};
    // The most expired rows a page holds: a batch takes at most that many, or the batch size.
    const std::uint64_t most_a_page =
        std::stoull(db->value("SELECT max(n) FROM (SELECT count(*) AS n FROM django_session WHERE expire_date < "
                              "'2025-01-01 00:00:00+00' GROUP BY (ctid::text::point)[0]) p"));
    std::vector<std::uint64_t> progress;
    options.progress = [&](std::uint64_t done, std::uint64_t) { progress.push_back(done); };
    BulkResult r = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, true, options);
    CHECK(std::to_string(r.removed) == expired_before);
    CHECK(r.keys.size() == r.removed);
    CHECK(r.end == BulkEnd::complete);
    CHECK(r.batches == progress.size());
    for (std::size_t i = 0; i < progress.size(); ++i)
        CHECK(progress[i] - (i ? progress[i - 1] : 0) <= std::max<std::uint64_t>(batch, most_a_page));
    CHECK(r.batches >= r.removed / std::max<std::uint64_t>(batch, most_a_page));
    CHECK(db->value("SELECT count(*) FROM django_session WHERE expire_date < '2025-01-01 00:00:00+00'") == "0");
    CHECK(db->value("SELECT count(*) FROM django_session") == std::to_string(3000 - r.removed));
}

TEST_CASE("clear_expired passes over rows a live request holds locked instead of waiting", "[pg]") {
    auto* db = PgTestDatabase::get();
    if (!db) return;
    PgOptions options;
    options.lock_timeout = std::chrono::milliseconds{300};
    options.walk_pages = GENERATE(true, false);
    auto table = fresh_table(*db, {}, options);
    REQUIRE(table->insert(row("expired-locked", "2020-01-01 00:00:00")));
    REQUIRE(table->insert(row("expired-free", "2020-01-01 00:00:00")));
    auto site = PgConnection::connect(db->params());
    site->run("BEGIN; SELECT * FROM django_session WHERE session_key = 'expired-locked' FOR UPDATE", "lock a row");

    const auto started = std::chrono::steady_clock::now();
    BulkResult r = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, true);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds{250});
    CHECK(r.keys == std::vector<std::string>{"expired-free"});
    CHECK(table->exists("expired-locked"));
    // A single-row write waits at most lock_timeout, then says so.
    CHECK_THROWS_AS(table->erase("expired-locked"), StoreUnavailable);
    site->run("ROLLBACK", "unlock");
    table->erase("expired-locked");
    CHECK_FALSE(table->exists("expired-locked"));
}

TEST_CASE("scan visits keys in byte order whichever index the table has", "[pg]") {
    auto* db = PgTestDatabase::get();
    if (!db) return;
    const std::vector<std::string> keys{"A-upper", "Z_upper", "a-lower", "a_lower", "aa", "b", "B"};
    std::vector<std::string> expected = keys;
    std::sort(expected.begin(), expected.end());
    for (bool like_index : {true, false}) {
        auto table = fresh_table(
            *db, like_index ? std::vector<std::string>{}
                            : std::vector<std::string>{R"(DROP INDEX "django_session_session_key_c0390e0f_like")"});
        INFO("scan order " << table->schema().scan_order);
        for (const auto& key : keys) REQUIRE(table->insert(row(key, "2030-01-01 00:00:00")));
        std::vector<std::string> seen;
        table->scan([&](const StoredSession& r) {
            seen.push_back(r.key);
            return true;
        });
        CHECK(seen == expected);
    }
}

TEST_CASE("scan pages: every key once, in order, and the connection free after a stop or a throw", "[pg]") {
    auto* db = PgTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db);
    // Two full pages and a part: the next page is asked for while one is visited.
    const std::size_t count = PgTable::kScanPageRows * 2 + 17;
    db->sql(
        fmt::format("INSERT INTO django_session SELECT 'k' || lpad(i::text, 7, '0'), 'x', "
                    "'2030-01-01'::timestamptz FROM generate_series(1, {}) i",
                    count));
    std::vector<std::string> seen;
    table->scan([&](const StoredSession& r) {
        seen.push_back(r.key);
        return true;
    });
    REQUIRE(seen.size() == count);
    CHECK(std::is_sorted(seen.begin(), seen.end()));
    CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());

    // Stopped in the first page (the second already on its way), then thrown
    // from in the second: each time the table's next statement runs.
    std::size_t visited = 0;
    table->scan([&](const StoredSession&) { return ++visited < 10; });
    CHECK(visited == 10);
    std::size_t again = 0;  // a scan sends its first page: nothing may be left on the wire
    table->scan([&](const StoredSession&) { return ++again > 0; });
    CHECK(again == count);
    CHECK(table->exists("k0000001"));
    visited = 0;
    CHECK_THROWS_WITH(table->scan([&](const StoredSession&) {
        if (++visited == PgTable::kScanPageRows + 5) throw StoreError("decode failed");
        return true;
    }),
                      "decode failed");
    again = 0;
    table->scan([&](const StoredSession&) { return ++again > 0; });
    CHECK(again == count);
    CHECK(table->exists(seen.back()));
    CHECK(table->select(seen[PgTable::kScanPageRows]).has_value());
}

TEST_CASE("a missing table or database is StoreMissing; read-only refuses writes", "[pg]") {
    auto* db = PgTestDatabase::get();
    if (!db) return;
    db->sql("DROP TABLE IF EXISTS django_session CASCADE");
    CHECK_THROWS_WITH(open_pg_table(db->params()),
                      Catch::Contains("no django_session table") && Catch::Contains("manage.py migrate"));
    PgParams missing = db->params();
    missing.emplace_back("dbname", "sessionctl_no_such_db");
    CHECK_THROWS_AS(open_pg_table(missing), StoreMissing);

    (void)fresh_table(*db);
    PgOptions options;
    options.read_only = true;
    auto table = open_pg_table(db->params(), options);
    CHECK_THROWS_WITH(table->insert(row("k1", "2030-01-01 00:00:00")), Catch::Contains("read-only"));
    CHECK_FALSE(table->exists("k1"));
}

TEST_CASE("a server that is down or refuses the password is StoreUnavailable, in one line without the password",
          "[pg]") {
    SECTION("closed port") {
        PgParams params{{"host", "127.0.0.1"},          {"port", "1"},           {"dbname", "x"}, {"user", "u"},
                        {"password", "hunter2-secret"}, {"connect_timeout", "3"}};
        try {
            (void)open_pg_table(params);
            FAIL("connected to a closed port");
        } catch (const StoreUnavailable& e) {
            std::string message = e.what();
            CHECK_THAT(message, Catch::Contains("postgresql://u@127.0.0.1:1/x"));
            CHECK(message.find("hunter2") == std::string::npos);
            CHECK(message.find('\n') == std::string::npos);
        }
    }
    SECTION("password role") {
        auto url = sessionctl::testing::shared_pg_url("SESSIONCTL_TEST_PG_PASSWORD_URL");
        if (!url) return;
        // The right password (in the URL) reaches the server: the table is what is missing.
        CHECK_THROWS_AS(open_pg_table({{"dbname", *url}, {"dbname", "postgres"}}), StoreMissing);
        PgParams wrong{{"dbname", *url}, {"password", "wrong-hunter2"}};
        try {
            (void)open_pg_table(wrong);
            FAIL("a wrong password was accepted");
        } catch (const StoreUnavailable& e) {
            std::string message = e.what();
            CHECK_THAT(message, Catch::Contains("password authentication failed"));
            CHECK(message.find("hunter2") == std::string::npos);
            CHECK(message.find("sessionctl-test-pw") == std::string::npos);
        }
    }
}

TEST_CASE("a passfile (~/.pgpass format) supplies the password", "[pg]") {
    auto url = sessionctl::testing::shared_pg_url("SESSIONCTL_TEST_PG_PASSWORD_URL");
    if (!url) return;
    sessionctl::testing::TempDir dir;
    const std::string passfile = dir.file("pgpass");
    {
        std::FILE* f = std::fopen(passfile.c_str(), "w");
        REQUIRE(f);
        std::fputs("127.0.0.1:*:*:sessionctl_pw:sessionctl-test-pw\n", f);
        std::fclose(f);
    }
    ::chmod(passfile.c_str(), 0600);
    // The URL without its password, as a DATABASES entry would give it.
    std::string bare = *url;
    bare.erase(bare.find(':', bare.find("://") + 3), bare.find('@') - bare.find(':', bare.find("://") + 3));
    json db = {{"URL", bare}, {"OPTIONS", {{"passfile", passfile}}}};
    auto settings = pg_settings_from_django(db, true, "UTC");
    CHECK_THROWS_AS(open_pg_table(settings.params), StoreMissing);  // authenticated; no django_session there
    db["OPTIONS"]["passfile"] = dir.file("absent");
    CHECK_THROWS_AS(open_pg_table(pg_settings_from_django(db, true, "UTC").params), StoreUnavailable);
}
