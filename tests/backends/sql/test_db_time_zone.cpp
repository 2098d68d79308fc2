// DATABASES["default"]["TIME_ZONE"] on the tables of databases without time
// zone support (SQLite, MySQL/MariaDB), with USE_TZ: expire_date is stored
// and compared as that zone's wall clock (Django's make_naive) and read back
// from it (make_aware), while the engine above the table keeps speaking UTC.
// The zones are on both sides of UTC, so that a zone ignored on either side
// shows: rows expired in UTC terms that would look live, and the reverse.

#include <catch2/catch.hpp>

#include "tests/support/mysql_test_support.hpp"
#include "tests/support/test_support.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/mysql/mysql_settings.hpp"
#include "backends/sql/db_engine.hpp"
#include "backends/sql/db_time_zone.hpp"
#include "backends/sqlite/sqlite_table.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/datetime.hpp"
#include "core/session_base.hpp"

using namespace sessionctl;
using json = nlohmann::json;

namespace {

constexpr std::int64_t kNow = 1700000000'000000;  // 2023-11-14 22:13:20 UTC
constexpr std::int64_t kHour = 3600'000000;

DateTime naive(std::int64_t micros) { return DateTime{micros, std::nullopt}; }
std::string text(std::int64_t wall_micros) { return naive(wall_micros).str_naive(); }

// One table kind: open it with a zone, and look under it as another client.
class Backend {
public:
    virtual ~Backend() = default;
    virtual std::unique_ptr<SessionTable> open(const std::string& zone) = 0;
    virtual void insert_raw(const std::string& key, const std::string& expire_text) = 0;
    virtual std::string stored_text(const std::string& key) = 0;
    virtual std::vector<std::string> keys() = 0;
};

class SqliteBackend final : public Backend {
public:
    std::unique_ptr<SessionTable> open(const std::string& zone) override {
        json db = {{"ENGINE", "django.db.backends.sqlite3"}, {"NAME", path_}};
        if (!zone.empty()) db["TIME_ZONE"] = zone;
        return open_sqlite_table_for(db, true, false, true);
    }
    void insert_raw(const std::string& key, const std::string& expire_text) override {
        exec(fmt::format("INSERT INTO django_session VALUES ('{}', 'data', '{}')", key, expire_text));
    }
    std::string stored_text(const std::string& key) override {
        auto r = rows(fmt::format("SELECT expire_date FROM django_session WHERE session_key = '{}'", key));
        return r.empty() ? "<none>" : r[0];
    }
    std::vector<std::string> keys() override {
        return rows("SELECT session_key FROM django_session ORDER BY session_key");
    }

private:
    void exec(const std::string& sql) {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path_.c_str(), &db) == SQLITE_OK);
        const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
        sqlite3_close(db);
        REQUIRE(rc == SQLITE_OK);
    }
    std::vector<std::string> rows(const std::string& sql) {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path_.c_str(), &db) == SQLITE_OK);
        sqlite3_stmt* stmt = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
        std::vector<std::string> out;
        while (sqlite3_step(stmt) == SQLITE_ROW)
            out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
        sqlite3_finalize(stmt);
        sqlite3_close(db);
        return out;
    }

    sessionctl::testing::TempDir dir_;
    std::string path_ = dir_.file("db.sqlite3");
};

class MysqlBackend final : public Backend {
public:
    explicit MysqlBackend(sessionctl::testing::MysqlTestDatabase& db) : db_(db) {
        db_.sql("DROP TABLE IF EXISTS sessionctl_tz_session");
    }
    std::unique_ptr<SessionTable> open(const std::string& zone) override {
        MysqlOptions options;
        options.table = "sessionctl_tz_session";
        options.create_if_missing = true;
        json settings = json::object();
        if (!zone.empty()) settings["TIME_ZONE"] = zone;
        options.zone = database_time_zone(settings, true);
        return open_mysql_table(db_.params(), options);
    }
    void insert_raw(const std::string& key, const std::string& expire_text) override {
        db_.sql(fmt::format("INSERT INTO sessionctl_tz_session VALUES ('{}', 'data', '{}')", key, expire_text));
    }
    std::string stored_text(const std::string& key) override {
        // datetime(6) comes back with all six digits; Django's text drops a zero fraction.
        std::string v =
            db_.value(fmt::format("SELECT expire_date FROM sessionctl_tz_session WHERE session_key = '{}'", key));
        if (v.size() == 26 && v.substr(19) == ".000000") v.resize(19);
        return v;
    }
    std::vector<std::string> keys() override {
        MysqlResult r = db_.admin().exec("SELECT session_key FROM sessionctl_tz_session ORDER BY session_key", "keys");
        std::vector<std::string> out;
        for (std::size_t i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
        // In byte order: the column's collation puts "bj..." before "b_...".
        std::sort(out.begin(), out.end());
        return out;
    }

private:
    sessionctl::testing::MysqlTestDatabase& db_;
};

std::shared_ptr<const SessionEnvironment> environment(std::int64_t now) {
    return SessionEnvironment::make(SessionSettings{}, SecretKeys{"secret-for-tests-tz", {}},
                                    std::make_shared<FakeClock>(now));
}

// The behaviours, on any backend.
void check_zone(Backend& backend, const std::string& zone_name) {
    const auto zone = TimeZone::load(zone_name, "TIME_ZONE");
    const std::int64_t now_wall = zone->wall_from_unix(kNow);
    REQUIRE(now_wall != kNow);

    // Written by the engine: the zone's wall clock, as Django's make_naive.
    auto env = environment(kNow);
    DbStore store(env, backend.open(zone_name));
    auto session = store.open(std::nullopt);
    session->set("foo", "bar");
    session->save();
    const std::string key = *session->session_key();
    const std::int64_t expiry = kNow + std::int64_t{1209600} * 1'000'000;
    CHECK(backend.stored_text(key) == text(zone->wall_from_unix(expiry)));
    // Read back as the same instant (naive UTC above the table).
    REQUIRE(store.fetch(key));
    CHECK(store.fetch(key)->expire_date == naive(expiry));
    CHECK(store.open(key)->get("foo") == PyValue("bar"));

    // write_sessions (create, copy): the same text.
    SessionWrite w;
    w.key = "writtenbycopy0000000000000000000";
    w.data = PyDict{};
    w.expires_at_micros = kNow + kHour;
    REQUIRE(store.write_sessions({w}, WriteMode::create)[0] == WriteOutcome::written);
    CHECK(backend.stored_text(w.key) == text(zone->wall_from_unix(kNow + kHour)));

    // Rows written by Django (as wall clock text) around now in both clocks.
    backend.insert_raw("a_wall_past", text(now_wall - kHour));    // expired
    backend.insert_raw("b_wall_future", text(now_wall + kHour));  // live
    backend.insert_raw("c_utc_past", text(kNow - kHour));         // as if UTC: expired
    backend.insert_raw("d_utc_future", text(kNow + kHour));       // as if UTC: live
    backend.insert_raw("e_wall_now", text(now_wall));             // == now: kept, not live
    std::vector<std::string> live;
    for (const auto& [k, wall] : std::vector<std::pair<std::string, std::int64_t>>{{"a_wall_past", now_wall - kHour},
                                                                                   {"b_wall_future", now_wall + kHour},
                                                                                   {"c_utc_past", kNow - kHour},
                                                                                   {"d_utc_future", kNow + kHour},
                                                                                   {"e_wall_now", now_wall}}) {
        INFO(k);
        auto record = store.fetch(k);
        REQUIRE(record);
        CHECK(record->expire_date == naive(zone->unix_from_wall(wall)));
        const bool is_live = wall > now_wall;
        CHECK(store.is_expired(*record, env->now()) == !is_live);
        CHECK(store.table().select_live(k, db_datetime(env->now(), true)).has_value() == is_live);
        if (is_live || wall == now_wall) live.push_back(k);
    }
    BulkResult dry = store.clear_expired(DryRun::yes, true);
    BulkResult done = store.clear_expired(DryRun::no, true);
    CHECK(dry.matched == done.removed);
    std::vector<std::string> expected = live;
    expected.push_back(key);
    expected.push_back(w.key);
    std::sort(expected.begin(), expected.end());
    CHECK(backend.keys() == expected);
}

// America/New_York's repeated hour: Django compares wall clock texts, so a
// row at 01:30 is live at 01:00 EST (06:00 UTC) though its make_aware
// reading (01:30 EDT, 05:30 UTC) is earlier than now.
void check_repeated_hour(Backend& backend) {
    const std::int64_t now = parse_isoformat("2024-11-03T06:00:00").wall_micros;
    auto env = environment(now);
    DbStore store(env, backend.open("America/New_York"));
    backend.insert_raw("repeated_hour", "2024-11-03 01:30:00");
    auto record = store.fetch("repeated_hour");
    REQUIRE(record);
    CHECK(record->expire_date == naive(parse_isoformat("2024-11-03T05:30:00").wall_micros));
    CHECK(store.table().select_live("repeated_hour", db_datetime(env->now(), true)));
    CHECK_FALSE(store.is_expired(*record, env->now()));
    CHECK(store.clear_expired(DryRun::no, true).removed == 0);
}

}  // namespace

TEST_CASE("DATABASES TIME_ZONE: read as Django's connection reads it", "[db_time_zone]") {
    CHECK(database_time_zone(json::object(), true) == nullptr);
    CHECK(database_time_zone({{"TIME_ZONE", nullptr}}, false) == nullptr);
    CHECK(database_time_zone({{"TIME_ZONE", "UTC"}}, true) == nullptr);
    CHECK(database_time_zone({{"TIME_ZONE", "Asia/Kathmandu"}}, true)->name() == "Asia/Kathmandu");
    CHECK_THROWS_WITH(database_time_zone({{"TIME_ZONE", "UTC"}}, false),
                      Catch::Contains("cannot set TIME_ZONE because USE_TZ is False"));
    CHECK_THROWS_WITH(database_time_zone({{"TIME_ZONE", "Asia/Katmandoo"}}, true),
                      Catch::Contains(R"(DATABASES["default"]["TIME_ZONE"] 'Asia/Katmandoo' is not a time zone)"));
    CHECK_THROWS_AS(database_time_zone({{"TIME_ZONE", 5}}, true), ConfigError);
}

TEST_CASE("SQLite: DATABASES TIME_ZONE is the wall clock of expire_date", "[sqlite][db_time_zone]") {
    for (const char* zone : {"Asia/Kathmandu", "America/Sao_Paulo", "Pacific/Kiritimati"}) {
        SECTION(zone) {
            SqliteBackend backend;
            check_zone(backend, zone);
        }
    }
    SECTION("the repeated hour compares on the wall clock") {
        SqliteBackend backend;
        check_repeated_hour(backend);
    }
    SECTION("USE_TZ=False with a database TIME_ZONE is Django's ImproperlyConfigured") {
        sessionctl::testing::TempDir dir;
        json db = {{"ENGINE", "django.db.backends.sqlite3"}, {"NAME", dir.file("x.sqlite3")}, {"TIME_ZONE", "UTC"}};
        CHECK_THROWS_AS(open_sqlite_table_for(db, false, false, true), ConfigError);
    }
}

TEST_CASE("MySQL: DATABASES TIME_ZONE is the wall clock of expire_date", "[mysql][db_time_zone]") {
    auto* db = sessionctl::testing::MysqlTestDatabase::get();
    if (!db) return;
    for (const char* zone : {"Asia/Kathmandu", "America/Sao_Paulo", "Pacific/Kiritimati"}) {
        SECTION(zone) {
            MysqlBackend backend(*db);
            check_zone(backend, zone);
        }
    }
    SECTION("the repeated hour compares on the wall clock") {
        MysqlBackend backend(*db);
        check_repeated_hour(backend);
    }
    db->sql("DROP TABLE IF EXISTS sessionctl_tz_session");
}
