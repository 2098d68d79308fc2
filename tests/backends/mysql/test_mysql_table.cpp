// MySQL/MariaDB specifics of the db engine (the shared contract runs in
// test_store_contract.cpp): DATABASES -> the connection MySQLdb would open
// (no server needed), then, on this process's own database on the shared
// MariaDB server: expire_date as naive UTC or local time, CreateError, custom
// columns, foreign keys, locked rows, batches, option files, unix sockets and
// connection failures.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/mysql/mysql_settings.hpp"
#include "backends/mysql/mysql_table.hpp"
#include "backends/sql/db_engine.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "core/time_zone.hpp"
#include "tests/support/mysql_test_support.hpp"
#include "tests/support/test_support.hpp"

using namespace sessionctl;
using json = nlohmann::json;
using sessionctl::testing::MysqlTestDatabase;

namespace {

MysqlSettings settings_of(const json& db, bool use_tz = true) { return mysql_settings_from_django(db, use_tz); }

DateTime naive(const std::string& text) { return *parse_django_datetime(text); }

StoredSession row(std::string key, std::string expire, std::string data = "data") {
    return {std::move(key), std::move(data), naive(expire)};
}

// A fresh django_session with Django's DDL plus `extra` statements.
std::unique_ptr<MysqlTable> fresh_table(MysqlTestDatabase& db, const std::vector<std::string>& extra = {},
                                        MysqlOptions options = {}) {
    db.sql("DROP TABLE IF EXISTS sessionctl_ref_restrict, sessionctl_ref_cascade");
    db.sql("DROP TABLE IF EXISTS django_session");
    for (const auto& statement : django_session_mysql_ddl()) db.sql(statement);
    for (const auto& statement : extra) db.sql(statement);
    return open_mysql_table(db.params(), options);
}

std::string count_rows(MysqlTestDatabase& db) { return db.value("SELECT COUNT(*) FROM django_session"); }

}  // namespace

TEST_CASE("MySQL: DATABASES maps to MySQLdb's connection as Django's get_connection_params does", "[mysql][settings]") {
    json db = {{"ENGINE", "django.db.backends.mysql"},
               {"NAME", "mysite"},
               {"USER", "web"},
               {"PASSWORD", "pw"},
               {"HOST", "db.local"},
               {"PORT", "3307"},
               {"OPTIONS",
                {{"charset", "utf8"},
                 {"init_command", "SET sql_mode='STRICT_TRANS_TABLES'"},
                 {"isolation_level", "REPEATABLE READ"},
                 {"ssl", {{"ca", "/etc/ssl/ca.pem"}}},
                 {"ssl_mode", "verify_identity"},
                 {"read_default_file", "/etc/mysql/my.cnf"},
                 {"read_default_group", "mysite"},
                 {"connect_timeout", 3}}}};
    MysqlSettings s = settings_of(db);
    CHECK(s.params.database == "mysite");
    CHECK(s.params.user == "web");
    CHECK(s.params.password == "pw");
    CHECK(s.params.host == "db.local");
    CHECK_FALSE(s.params.unix_socket);
    CHECK(s.params.port == 3307);
    CHECK(s.params.charset == "utf8");
    CHECK(s.params.init_command == "SET sql_mode='STRICT_TRANS_TABLES'");
    CHECK(s.isolation_level == "repeatable read");
    CHECK(s.params.ssl.ca == "/etc/ssl/ca.pem");
    CHECK(s.params.ssl_mode == "VERIFY_IDENTITY");
    CHECK(s.params.read_default_file == "/etc/mysql/my.cnf");
    CHECK(s.params.read_default_group == "mysite");
    CHECK(s.params.connect_timeout == 3);
    CHECK(is_mysql_database(db));
    CHECK_FALSE(is_mysql_database({{"ENGINE", "django.db.backends.postgresql"}}));
}

TEST_CASE("MySQL: HOST starting with / is a unix socket; empty settings are left to the option file",
          "[mysql][settings]") {
    MysqlSettings s = settings_of({{"NAME", ""}, {"HOST", "/run/mysqld/mysqld.sock"}, {"USER", ""}, {"PORT", ""}});
    CHECK(s.params.unix_socket == "/run/mysqld/mysqld.sock");
    CHECK_FALSE(s.params.host);
    CHECK_FALSE(s.params.database);
    CHECK_FALSE(s.params.user);
    CHECK(s.params.port == 0);
    CHECK(s.isolation_level == "read committed");  // Django's default
    CHECK(s.params.charset == "utf8mb4");
    // OPTIONS go on top, as kwargs.update(options) does.
    s = settings_of({{"NAME", "a"}, {"OPTIONS", {{"db", "b"}, {"unix_socket", "/tmp/s"}, {"passwd", "x"}}}});
    CHECK(s.params.database == "b");
    CHECK(s.params.unix_socket == "/tmp/s");
    CHECK(s.params.password == "x");
}

TEST_CASE("MySQL: unknown OPTIONS, bad isolation levels and bad TIME_ZONE are configuration errors",
          "[mysql][settings]") {
    CHECK_THROWS_WITH(settings_of({{"NAME", "x"}, {"OPTIONS", {{"sslmode", "require"}}}}),
                      Catch::Contains("sslmode") && Catch::Contains("not a MySQL connection option"));
    CHECK_THROWS_WITH(settings_of({{"NAME", "x"}, {"OPTIONS", {{"isolation_level", "snapshot"}}}}),
                      Catch::Contains("Invalid transaction isolation level 'snapshot'"));
    CHECK_THROWS_AS(settings_of({{"NAME", "x"}, {"OPTIONS", {{"ssl", {{"ca_file", "/x"}}}}}}), ConfigError);
    CHECK_THROWS_AS(settings_of({{"NAME", "x"}, {"OPTIONS", {{"ssl_mode", "sometimes"}}}}), ConfigError);
    CHECK_THROWS_AS(settings_of({{"NAME", "x"}, {"PORT", "33o6"}}), ConfigError);
    CHECK_THROWS_AS(settings_of({{"NAME", "x"}, {"OPTIONS", "charset=utf8"}}), ConfigError);
    CHECK_THROWS_AS(settings_of({{"NAME", "x"}, {"TIME_ZONE", "UTC"}}, false), ConfigError);
    CHECK_THROWS_AS(settings_of({{"NAME", "x"}, {"TIME_ZONE", "Mars/Olympus_Mons"}}, true), ConfigError);
    CHECK_THROWS_AS(settings_of({{"NAME", "x"}, {"TIME_ZONE", "../zoneinfo/UTC"}}, true), ConfigError);
    CHECK(settings_of({{"NAME", "x"}, {"TIME_ZONE", "Europe/Paris"}}, true).zone->name() == "Europe/Paris");
    CHECK(settings_of({{"NAME", "x"}, {"TIME_ZONE", "UTC"}}, true).zone == nullptr);
    CHECK_NOTHROW(settings_of({{"NAME", "x"}, {"TIME_ZONE", "UTC"}}, true));
    CHECK(settings_of({{"NAME", "x"}, {"OPTIONS", {{"isolation_level", nullptr}}}}).isolation_level.empty());
    MysqlSettings s = settings_of({{"NAME", "x"}, {"OPTIONS", {{"init_command", "SET innodb_lock_wait_timeout=1"}}}});
    CHECK(s.sets_lock_wait_timeout);
    CHECK_FALSE(s.sets_statement_timeout);
    // MySQLdb switches sessionctl decides itself are accepted, not errors.
    CHECK_NOTHROW(settings_of({{"NAME", "x"}, {"OPTIONS", {{"autocommit", true}, {"local_infile", 0}}}}));
}

TEST_CASE("MySQL: USE_TZ: expire_date holds naive UTC in datetime(6), microseconds kept", "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db);
    CHECK(table->schema().expire_type == "datetime(6)");
    StoredSession aware{"k1", "d", DateTime{naive("2030-01-01 12:00:00.123456").wall_micros, 3600}};
    REQUIRE(table->insert(aware));
    CHECK(db->value("SELECT expire_date FROM django_session WHERE session_key = 'k1'") == "2030-01-01 11:00:00.123456");
    auto back = table->select("k1");
    REQUIRE(back);
    CHECK(back->expire_date == naive("2030-01-01 11:00:00.123456"));
    CHECK(table->select_live("k1", naive("2030-01-01 11:00:00.123455")));
    CHECK_FALSE(table->select_live("k1", naive("2030-01-01 11:00:00.123456")));
    CHECK(table->update(row("k1", "2031-01-01 00:00:00", "new")));
    CHECK_FALSE(table->update(row("nope", "2031-01-01 00:00:00")));
    // CLIENT_FOUND_ROWS: an UPDATE that changes nothing still matched the row.
    CHECK(table->update(row("k1", "2031-01-01 00:00:00", "new")));
}

TEST_CASE("MySQL: only a duplicate in the key's unique index is a taken key (CreateError)", "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db, {"ALTER TABLE django_session ADD COLUMN tag varchar(10) NULL UNIQUE"});
    REQUIRE(table->insert(row("k1", "2030-01-01 00:00:00")));
    CHECK_FALSE(table->insert(row("k1", "2030-01-01 00:00:00")));
    CHECK(table->schema().key_indexes == std::vector<std::string>{"PRIMARY"});
}

TEST_CASE("MySQL: extra columns of a custom session model are detected and explained", "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db, {"ALTER TABLE django_session ADD COLUMN account_id int NOT NULL",
                                   "ALTER TABLE django_session ADD COLUMN note varchar(20) NULL",
                                   "ALTER TABLE django_session ADD COLUMN id_seq int NOT NULL DEFAULT 0"});
    CHECK(table->schema().extra_columns == std::vector<std::string>{"account_id", "note", "id_seq"});
    CHECK(table->schema().required_columns == std::vector<std::string>{"account_id"});
    auto notes = table->take_messages();
    REQUIRE(notes.size() == 2);
    CHECK_THAT(notes[1].text, Catch::Contains("account_id is NOT NULL without a default"));
    CHECK(table->take_messages().empty());
    CHECK_THROWS_WITH(table->insert(row("k1", "2030-01-01 00:00:00")),
                      Catch::Contains("column account_id of django_session is NOT NULL"));
}

TEST_CASE("MySQL: a delete a foreign key would reject is refused, naming the table and constraint", "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(
        *db, {"CREATE TABLE sessionctl_ref_restrict (id int PRIMARY KEY, session_id varchar(40) NOT NULL, CONSTRAINT "
              "cart_session_fk FOREIGN KEY (session_id) REFERENCES django_session (session_key))",
              "CREATE TABLE sessionctl_ref_cascade (id int PRIMARY KEY, session_id varchar(40), CONSTRAINT "
              "log_session_fk FOREIGN KEY (session_id) REFERENCES django_session (session_key) ON DELETE CASCADE)"});
    REQUIRE(table->schema().references.size() == 2);
    for (auto key : {"held", "free", "logged", "live-held"})
        REQUIRE(
            table->insert(row(key, std::string(key) == "live-held" ? "2030-01-01 00:00:00" : "2020-01-01 00:00:00")));
    db->sql("INSERT INTO sessionctl_ref_restrict VALUES (1, 'held'), (2, 'live-held')");
    db->sql("INSERT INTO sessionctl_ref_cascade VALUES (1, 'logged')");

    SECTION("erase") {
        CHECK_THROWS_WITH(table->erase("held"), Catch::Contains("sessionctl_ref_restrict") &&
                                                    Catch::Contains("cart_session_fk") && Catch::Contains("refusing"));
        CHECK(table->exists("held"));
        table->erase("logged");  // ON DELETE CASCADE: the database takes care of it
        CHECK(db->value("SELECT COUNT(*) FROM sessionctl_ref_cascade") == "0");
    }
    SECTION("delete_if_unchanged refuses before deleting anything") {
        CHECK_THROWS_WITH(
            table->delete_if_unchanged({row("free", "2020-01-01 00:00:00"), row("held", "2020-01-01 00:00:00")}, false),
            Catch::Contains("sessionctl_ref_restrict"));
        CHECK(table->exists("free"));
    }
    SECTION("clearsessions removes the others, then names what it kept") {
        const bool one = GENERATE(false, true);
        BulkOptions options;
        if (one) options.batch_size = BulkOptions::kOneTransaction;
        CHECK_THROWS_WITH(table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, false, options),
                          Catch::Contains("removed 2 expired sessions") && Catch::Contains("sessionctl_ref_restrict") &&
                              Catch::Contains("cart_session_fk"));
        CHECK(table->exists("held"));
        CHECK(table->exists("live-held"));
        CHECK_FALSE(table->exists("free"));
        CHECK_FALSE(table->exists("logged"));
    }
    SECTION("the server's own refusal is reported the same way") {
        // A foreign key added after the schema was read: InnoDB refuses at once.
        db->sql("ALTER TABLE sessionctl_ref_restrict DROP FOREIGN KEY cart_session_fk");
        auto stale = open_mysql_table(db->params());
        db->sql(
            "ALTER TABLE sessionctl_ref_restrict ADD CONSTRAINT late_fk FOREIGN KEY (session_id) REFERENCES "
            "django_session (session_key)");
        db->sql("INSERT INTO sessionctl_ref_restrict VALUES (3, 'free')");
        CHECK_THROWS_WITH(stale->erase("free"),
                          Catch::Contains("sessionctl_ref_restrict") && Catch::Contains("late_fk"));
        CHECK(stale->exists("free"));
    }
}

TEST_CASE("MySQL: clear_expired deletes in keyed batches and stops between them", "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db);
    db->sql(
        "INSERT INTO django_session SELECT CONCAT('k', LPAD(seq, 6, '0')), REPEAT('x', 50), "
        "'2020-01-01 00:00:00' + INTERVAL (seq * 7919 % 5000) MINUTE FROM seq_1_to_2500");
    db->sql("INSERT INTO django_session SELECT CONCAT('live', seq), 'x', '2030-01-01' FROM seq_1_to_10");
    SECTION("dry run counts and lists") {
        CHECK(table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::yes, false).matched == 2500);
        CHECK(table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::yes, true).keys.size() == 2500);
        CHECK(count_rows(*db) == "2510");
    }
    SECTION("1000 rows a batch, with progress") {
        const bool skip_locked = GENERATE(true, false);
        auto t = open_mysql_table(db->params(), [&] {
            MysqlOptions o;
            o.skip_locked = skip_locked;
            return o;
        }());
        BulkOptions options;
        options.batch_size = 1000;
        std::vector<std::uint64_t> progress;
        options.progress = [&](std::uint64_t done, std::uint64_t total) {
            progress.push_back(done);
            CHECK(total == 2500);
        };
        BulkResult r = t->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, true, options);
        CHECK(r.removed == 2500);
        CHECK(r.batches == 3);
        CHECK(r.end == BulkEnd::complete);
        CHECK(progress == std::vector<std::uint64_t>{1000, 2000, 2500});
        CHECK(r.keys.size() == 2500);
        CHECK(std::is_sorted(r.keys.begin(), r.keys.end()));
        CHECK(count_rows(*db) == "10");
    }
    SECTION("sized by time (the default)") {
        BulkResult r = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, false, {});
        CHECK(r.removed == 2500);
        CHECK(r.end == BulkEnd::complete);
        CHECK(count_rows(*db) == "10");
    }
    SECTION("in one transaction (--one-transaction)") {
        BulkOptions options;
        options.batch_size = BulkOptions::kOneTransaction;
        BulkResult r = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, true, options);
        CHECK(r.removed == 2500);
        CHECK(r.keys.size() == 2500);
        CHECK(r.batches == 1);
        CHECK(count_rows(*db) == "10");
    }
    SECTION("a stop request ends it after whole batches") {
        BulkOptions options;
        options.batch_size = 1000;
        options.sleep = std::chrono::milliseconds{0};
        int asked = 0;
        options.should_stop = [&] { return ++asked > 2; };
        BulkResult r = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, false, options);
        CHECK(r.end == BulkEnd::stopped);
        CHECK(r.batches == 2);
        CHECK(r.removed == 2000);
        CHECK(count_rows(*db) == "510");
    }
}

TEST_CASE("MySQL: a batch's write set is bounded in bytes as well as rows", "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db);
    // 40 rows of 2 MiB: 32 MiB a batch at most, so at least 3 batches.
    db->sql(
        "INSERT INTO django_session SELECT CONCAT('big', seq), REPEAT('x', 2097152), '2020-01-01' FROM "
        "seq_1_to_40");
    BulkOptions options;
    options.batch_size = 1000;
    BulkResult r = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, false, options);
    CHECK(r.removed == 40);
    CHECK(r.batches >= 3);
    CHECK(count_rows(*db) == "0");
}

TEST_CASE("MySQL: clear_expired passes over rows a live request holds locked instead of waiting", "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    MysqlOptions options;
    options.lock_wait_timeout = std::chrono::seconds{1};
    auto table = fresh_table(*db, {}, options);
    REQUIRE(table->insert(row("expired-locked", "2020-01-01 00:00:00")));
    REQUIRE(table->insert(row("expired-free", "2020-01-01 00:00:01")));
    auto site = MysqlConnection::connect(db->params());
    site->exec("START TRANSACTION", "begin");
    site->exec("SELECT * FROM django_session WHERE session_key = 'expired-locked' FOR UPDATE", "lock a row");

    const auto started = std::chrono::steady_clock::now();
    BulkResult r = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, true);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds{900});
    CHECK(r.keys == std::vector<std::string>{"expired-free"});
    CHECK(table->exists("expired-locked"));
    // A single-row write waits at most innodb_lock_wait_timeout, then says so.
    CHECK_THROWS_AS(table->erase("expired-locked"), StoreUnavailable);
    site->exec("ROLLBACK", "unlock");
    table->erase("expired-locked");
    CHECK_FALSE(table->exists("expired-locked"));
}

TEST_CASE("MySQL: a live row a request holds inside a window costs the window no wait and no expired row", "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    MysqlOptions options;
    options.lock_wait_timeout = std::chrono::seconds{1};
    auto table = fresh_table(*db, {}, options);
    // Keys interleaved: the held live row lies inside the window the plain
    // DELETE scans, which then gives up at once and is redone with SKIP LOCKED.
    db->sql(
        "INSERT INTO django_session SELECT CONCAT('k', LPAD(seq, 4, '0')), 'x', IF(seq % 2, '2020-01-01', "
        "'2030-01-01') FROM seq_1_to_200");
    auto site = MysqlConnection::connect(db->params());
    site->exec("START TRANSACTION", "begin");
    site->exec("UPDATE django_session SET session_data = 'y' WHERE session_key = 'k0100'", "hold a live row");

    const bool keys = GENERATE(false, true);
    const auto started = std::chrono::steady_clock::now();
    BulkResult r = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, keys);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds{900});
    CHECK(r.removed == 100);
    if (keys) CHECK(r.keys.size() == 100);
    CHECK(count_rows(*db) == "100");
    // Our connection's own wait (1 s) is back after the near-zero one the batches used.
    const auto erasing = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(table->erase("k0100"), StoreUnavailable);
    CHECK(std::chrono::steady_clock::now() - erasing >= std::chrono::milliseconds{900});
    site->exec("COMMIT", "release");
    CHECK(db->value("SELECT COUNT(*) FROM django_session WHERE session_data = 'y'") == "1");
}

TEST_CASE("MySQL: delete_if_unchanged keeps a row a request rewrote, even by case only", "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db);
    REQUIRE(table->insert(row("a", "2030-01-01 00:00:00", "abc")));
    REQUIRE(table->insert(row("b", "2030-01-01 00:00:00", "xyz")));
    REQUIRE(table->insert(row("c", "2030-01-01 00:00:00", "same")));
    REQUIRE(table->update(row("a", "2030-01-01 00:00:00", "ABC")));  // rewritten after it was read
    BulkResult r =
        table->delete_if_unchanged({row("a", "2030-01-01 00:00:00", "abc"), row("b", "2030-01-01 00:00:00", "xyz"),
                                    row("c", "2030-01-01 00:00:00", "same "), row("gone", "2030-01-01", "x")},
                                   true);
    CHECK(r.keys == std::vector<std::string>{"b"});
    CHECK(r.removed == 1);
    CHECK(r.matched == 4);
    CHECK(table->exists("a"));
    CHECK(table->exists("c"));
}

TEST_CASE("MySQL: scan visits every row in key pages", "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db);
    db->sql("INSERT INTO django_session SELECT CONCAT('k', LPAD(seq, 5, '0')), 'x', '2030-01-01' FROM seq_1_to_2345");
    std::vector<std::string> seen;
    table->scan([&](const StoredSession& r) {
        seen.push_back(r.key);
        return true;
    });
    CHECK(seen.size() == 2345);
    CHECK(std::is_sorted(seen.begin(), seen.end()));
    CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
}

TEST_CASE("MySQL: a missing table or database is StoreMissing; read-only refuses writes", "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    db->sql("DROP TABLE IF EXISTS django_session");
    CHECK_THROWS_WITH(open_mysql_table(db->params()), Catch::Contains("manage.py migrate"));
    CHECK_THROWS_AS(open_mysql_table(db->params()), StoreMissing);
    MysqlParams nodb = db->params();
    nodb.database = "sessionctl_no_such_db";
    CHECK_THROWS_AS(open_mysql_table(nodb), StoreMissing);

    (void)fresh_table(*db);
    MysqlOptions ro;
    ro.read_only = true;
    auto table = open_mysql_table(db->params(), ro);
    CHECK_FALSE(table->exists("x"));
    CHECK_THROWS_WITH(table->insert(row("x", "2030-01-01 00:00:00")), Catch::Contains("read-only"));
    CHECK(table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::yes, false).matched == 0);
}

TEST_CASE("MySQL: a server that is down or refuses the password is StoreUnavailable, in one line without the password",
          "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    MysqlParams down = db->params();
    down.port = 1;
    CHECK_THROWS_AS(open_mysql_table(down), StoreUnavailable);
    const char* url = std::getenv("SESSIONCTL_TEST_MYSQL_PASSWORD_URL");
    if (!url || !*url) return;
    MysqlParams wrong = sessionctl::testing::mysql_params_from_url(url);
    wrong.database = db->name();
    wrong.password = "wrong-hunter2";
    try {
        (void)open_mysql_table(wrong);
        FAIL("a wrong password connected");
    } catch (const StoreUnavailable& e) {
        const std::string what = e.what();
        CHECK_THAT(what, Catch::Contains("Access denied"));
        CHECK(what.find("hunter2") == std::string::npos);
        CHECK(what.find('\n') == std::string::npos);
    }
}

TEST_CASE("MySQL: an option file (read_default_file, read_default_group) supplies the connection", "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    const char* url = std::getenv("SESSIONCTL_TEST_MYSQL_PASSWORD_URL");
    if (!url || !*url) {
        SESSIONCTL_SKIP_OR_FAIL("SESSIONCTL_TEST_MYSQL_PASSWORD_URL is not set");
        return;
    }
    (void)fresh_table(*db);
    const MysqlParams server = sessionctl::testing::mysql_params_from_url(url);
    sessionctl::testing::TempDir dir;
    const std::string file = (dir.path() / "my.cnf").string();
    {
        std::ofstream out(file);
        out << "[client]\nuser = nobody\n\n[mysite]\nuser = " << *server.user << "\npassword = " << *server.password
            << "\nhost = " << *server.host << "\nport = " << server.port << "\ndatabase = " << db->name() << "\n";
    }
    json settings = {{"ENGINE", "django.db.backends.mysql"},
                     {"OPTIONS", {{"read_default_file", file}, {"read_default_group", "mysite"}}}};
    auto table = open_mysql_table_for(settings, true, false, false);
    CHECK(table->target().find(*server.user) != std::string::npos);
    CHECK(table->target().find(*server.password) == std::string::npos);
    CHECK_FALSE(table->exists("x"));
}

TEST_CASE("MySQL: HOST as a socket path connects through the unix socket", "[mysql]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    const char* socket = std::getenv("SESSIONCTL_TEST_MYSQL_SOCKET");
    if (!socket || !*socket) {
        SESSIONCTL_SKIP_OR_FAIL("SESSIONCTL_TEST_MYSQL_SOCKET is not set");
        return;
    }
    (void)fresh_table(*db);
    json settings = {{"ENGINE", "django.db.backends.mysql"},
                     {"NAME", db->name()},
                     {"USER", *db->server().user},
                     {"HOST", socket},
                     {"OPTIONS", {{"isolation_level", "repeatable read"}, {"charset", "utf8mb4"}}}};
    auto table = open_mysql_table_for(settings, true, false, false);
    CHECK_THAT(table->target(), Catch::Contains("unix_socket="));
    REQUIRE(table->insert(row("k", "2030-01-01 00:00:00")));
    CHECK(table->exists("k"));
}

TEST_CASE("MySQL: write_rows creates around taken keys in one transaction, replaces only byte-identical rows",
          "[mysql][copy]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db, {"ALTER TABLE django_session ADD COLUMN tag varchar(10) NULL UNIQUE"});
    REQUIRE(table->insert(row("taken", "2030-01-01 00:00:00", "theirs")));
    REQUIRE(table->insert(row("cased", "2030-01-01 00:00:00", "ABC")));
    REQUIRE(table->insert(row("padded", "2030-01-01 00:00:00", "same ")));
    // A fresh chunk is one INSERT; a chunk holding a taken key is redone row
    // by row, the others still written (the duplicate ends only its statement).
    std::vector<SessionTable::RowWrite> creates;
    for (const char* key : {"new1", "taken", "new2", "new1"})
        creates.push_back({row(key, "2031-02-03 04:05:06.000007", "ours"), std::nullopt});
    CHECK(table->write_rows(creates) == std::vector<bool>{true, false, true, false});
    CHECK(table->select("taken")->data == "theirs");
    CHECK(table->select("new2")->expire_date == naive("2031-02-03 04:05:06.000007"));
    CHECK(count_rows(*db) == "5");

    // Replace: only while the row holds exactly what was read (the column's
    // collation calls "abc" and "ABC", "same" and "same " equal; we do not).
    std::vector<SessionTable::RowWrite> replaces{
        {row("taken", "2032-01-01 00:00:00", "ours"), std::string("theirs")},
        {row("cased", "2032-01-01 00:00:00", "ours"), std::string("abc")},
        {row("padded", "2032-01-01 00:00:00", "ours"), std::string("same")},
        {row("absent", "2032-01-01 00:00:00", "ours"), std::string("x")},
    };
    CHECK(table->write_rows(replaces) == std::vector<bool>{true, false, false, false});
    CHECK(table->select("taken")->data == "ours");
    CHECK(table->select("taken")->expire_date == naive("2032-01-01 00:00:00"));
    CHECK(table->select("cased")->data == "ABC");
    CHECK(table->select("padded")->data == "same ");
    CHECK_FALSE(table->exists("absent"));

    // Another unique index's duplicate is no taken key: the batch fails whole.
    auto other = fresh_table(*db, {"ALTER TABLE django_session ADD COLUMN tag varchar(10) NULL UNIQUE DEFAULT 't'"});
    CHECK_THROWS_WITH(other->write_rows({{row("x1", "2030-01-01 00:00:00"), std::nullopt},
                                         {row("x2", "2030-01-01 00:00:00"), std::nullopt}}),
                      Catch::Contains("unique index tag"));
    CHECK(count_rows(*db) == "0");
}

TEST_CASE("MySQL: write_rows fails whole on a NOT NULL extra column, writing nothing", "[mysql][copy]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db, {"ALTER TABLE django_session ADD COLUMN account_id int NOT NULL"});
    CHECK_THROWS_WITH(table->write_rows({{row("x1", "2030-01-01 00:00:00"), std::nullopt}}),
                      Catch::Contains("column account_id of django_session is NOT NULL"));
    CHECK(count_rows(*db) == "0");
}

TEST_CASE("MySQL: update_if_unchanged rewrites in chunks, keeps rows changed meanwhile and expire_date",
          "[mysql][rekey]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db);
    db->sql(
        "INSERT INTO django_session SELECT CONCAT('k', LPAD(seq, 5, '0')), CONCAT('old', seq), '2030-01-01 "
        "00:00:00.5' FROM seq_1_to_1234");
    std::vector<Rewrite> rewrites;
    for (int i = 1; i <= 1234; ++i) {
        Rewrite r;
        r.record = row(fmt::format("k{:05}", i), "2030-01-01 00:00:00.5", fmt::format("old{}", i));
        r.data = fmt::format("new{}", i);
        rewrites.push_back(std::move(r));
    }
    // Meanwhile: one rewritten by case only, one deleted.
    db->sql("UPDATE django_session SET session_data = 'OLD7' WHERE session_key = 'k00007'");
    db->sql("DELETE FROM django_session WHERE session_key = 'k01000'");
    RewriteResult result = table->update_if_unchanged(rewrites, true);
    CHECK(result.rewritten == 1232);
    CHECK(result.keys.size() == 1232);
    CHECK(table->select("k00007")->data == "OLD7");
    CHECK_FALSE(table->exists("k01000"));
    CHECK(table->select("k01234")->data == "new1234");
    CHECK(table->select("k01234")->expire_date == naive("2030-01-01 00:00:00.5"));
    CHECK(db->value("SELECT COUNT(*) FROM django_session WHERE session_data LIKE 'new%' COLLATE utf8mb4_bin") ==
          "1232");
}
