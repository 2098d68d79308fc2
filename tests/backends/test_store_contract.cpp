// The db engine's contract, proven once per SessionTable: the same test cases
// run through DbStore over MemoryTable, over SqliteTable (a fresh file in a
// fresh temporary directory per test), over PgTable (a fresh table in this
// process's own PostgreSQL database) and over MysqlTable (likewise on MariaDB). Time comes from a FakeClock; no test
// sleeps.

#include <catch2/catch.hpp>

#include "tests/support/mysql_test_support.hpp"
#include "tests/support/pg_test_support.hpp"
#include "tests/support/test_support.hpp"

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/sql/db_engine.hpp"
#include "backends/sql/memory_table.hpp"
#include "backends/sqlite/sqlite_table.hpp"
#include "core/clock.hpp"
#include "core/errors.hpp"
#include "core/session_base.hpp"
#include "core/session_key.hpp"

namespace fs = std::filesystem;
using namespace sessionctl;

namespace {

constexpr std::int64_t kNowMicros = 1700000000750000;  // db.json's now (1700000000.75)

using sessionctl::testing::MysqlBackend;  // tests/support/mysql_test_support.hpp
using sessionctl::testing::PgBackend;     // tests/support/pg_test_support.hpp
using sessionctl::testing::TempDir;

// Each backend hands out tables over the same rows: one per "process".
class MemoryBackend {
public:
    std::unique_ptr<SessionTable> open_table() { return std::make_unique<MemoryTable>(rows_); }

private:
    std::shared_ptr<MemoryTable::Rows> rows_ = std::make_shared<MemoryTable::Rows>();
};

class SqliteBackend {
public:
    std::unique_ptr<SessionTable> open_table() {
        SqliteOptions options;
        options.create_if_missing = true;
        return open_sqlite_table((dir_.path() / "db.sqlite3").string(), options);
    }

private:
    TempDir dir_;
};

template <typename Backend>
class Contract {
public:
    Contract()
        : clock_(std::make_shared<FakeClock>(kNowMicros)),
          env_(SessionEnvironment::make(SessionSettings{}, SecretKeys{"secret-for-tests-contract", {}}, clock_)),
          store_(open_store()) {}

    // Another connection to the same stored rows (another Django process).
    std::unique_ptr<DbStore> open_store() { return std::make_unique<DbStore>(env_, backend_.open_table()); }

    DbStore& store() { return *store_; }
    FakeClock& clock() { return *clock_; }

    // A saved session holding {"foo": value}; returns its key.
    std::string saved_session(const std::string& value, std::optional<std::int64_t> expiry_seconds = std::nullopt) {
        auto session = store_->open(std::nullopt);
        session->set("foo", value);
        if (expiry_seconds) session->set_expiry(*expiry_seconds);
        session->save();
        return *session->session_key();
    }

    std::vector<std::string> stored_keys() {
        std::vector<std::string> keys;
        store_->scan([&](const StoredSession& row) {
            keys.push_back(row.key);
            return true;
        });
        std::sort(keys.begin(), keys.end());  // a scan's order is the store's own
        return keys;
    }

private:
    Backend backend_;
    std::shared_ptr<FakeClock> clock_;
    std::shared_ptr<const SessionEnvironment> env_;
    std::unique_ptr<DbStore> store_;
};

nlohmann::json load_db_vectors() {
    std::ifstream in(std::string(SESSIONCTL_TEST_DATA) + "/django-6.1.dev-afa026cd/db.json");
    REQUIRE(in);
    return nlohmann::json::parse(in);
}

}  // namespace

TEMPLATE_TEST_CASE("a saved session exists and loads in a fresh session", "[contract]", MemoryBackend, SqliteBackend,
                   PgBackend, MysqlBackend) {
    Contract<TestType> c;
    std::string key = c.saved_session("bar");

    auto fresh = c.store().open(key);
    CHECK(fresh->exists(key));
    CHECK(fresh->get("foo") == PyValue("bar"));
    CHECK(fresh->session_key() == key);
}

TEMPLATE_TEST_CASE("create yields a 32-character key from VALID_KEY_CHARS and stores it", "[contract]", MemoryBackend,
                   SqliteBackend, PgBackend, MysqlBackend) {
    Contract<TestType> c;
    auto session = c.store().open(std::nullopt);
    session->create();

    REQUIRE(session->session_key());
    const std::string& key = *session->session_key();
    CHECK(key.size() == SESSION_KEY_LENGTH);
    CHECK(key.find_first_not_of(VALID_KEY_CHARS) == std::string::npos);
    CHECK(session->modified());
    CHECK(c.store().fetch(key));
}

TEMPLATE_TEST_CASE("save(must_create) on a taken key throws CreateError and keeps the stored row", "[contract]",
                   MemoryBackend, SqliteBackend, PgBackend, MysqlBackend) {
    Contract<TestType> c;
    std::string key = c.saved_session("original");
    auto before = c.store().fetch(key);
    REQUIRE(before);

    auto intruder = c.store().open(key);
    intruder->set("foo", "intruder");
    CHECK_THROWS_AS(intruder->save(/*must_create=*/true), CreateError);

    auto after = c.store().fetch(key);
    REQUIRE(after);
    CHECK(after->data == before->data);
}

TEMPLATE_TEST_CASE("saving a session deleted in another context throws UpdateError and does not resurrect it",
                   "[contract]", MemoryBackend, SqliteBackend, PgBackend, MysqlBackend) {
    // Django's test_session_save_does_not_resurrect_session_logged_out_in_other_context.
    Contract<TestType> c;
    auto s1 = c.store().open(std::nullopt);
    s1->set("test_data", "value1");
    s1->save(/*must_create=*/true);
    const std::string key = *s1->session_key();

    auto other_process = c.open_store();
    auto s2 = other_process->open(key);
    s2->delete_session();

    s1->set("test_data", "value2");
    CHECK_THROWS_AS(s1->save(), UpdateError);
    CHECK(s1->load().empty());
    CHECK_FALSE(c.store().fetch(key));
    CHECK_FALSE(s1->exists(key));
}

TEMPLATE_TEST_CASE("loading an unknown key returns {} and resets the key without creating a row", "[contract]",
                   MemoryBackend, SqliteBackend, PgBackend, MysqlBackend) {
    Contract<TestType> c;
    auto session = c.store().open("nonexistent-key-but-long-enough");
    REQUIRE(session->session_key());

    CHECK(session->load().empty());
    CHECK_FALSE(session->session_key());
    CHECK(c.stored_keys().empty());
    CHECK_FALSE(c.store().fetch("nonexistent-key-but-long-enough"));
}

TEMPLATE_TEST_CASE("an expired row loads as {} but still exists", "[contract]", MemoryBackend, SqliteBackend, PgBackend,
                   MysqlBackend) {
    Contract<TestType> c;
    std::string key = c.saved_session("bar", 300);
    c.clock().advance_seconds(301);

    auto fresh = c.store().open(key);
    CHECK_FALSE(fresh->contains("foo"));
    CHECK_FALSE(fresh->session_key());
    // exists() ignores expiry, as Django's SELECT 1 ... WHERE session_key does.
    CHECK(fresh->exists(key));
}

TEMPLATE_TEST_CASE("a row expiring exactly now is not loaded but survives clear_expired", "[contract]", MemoryBackend,
                   SqliteBackend, PgBackend, MysqlBackend) {
    // db.json: clear_expired.row_with_expire_date_equal_now (load uses >, clear uses <).
    Contract<TestType> c;
    std::string key = c.saved_session("bar", 100);
    c.clock().advance_seconds(100);

    CHECK(c.store().open(key)->load().empty());
    BulkResult cleared = c.store().clear_expired(DryRun::no, false);
    CHECK(cleared.removed == 0);
    CHECK(c.store().fetch(key));

    c.clock().set(kNowMicros + 100'000'001);
    cleared = c.store().clear_expired(DryRun::no, true);
    CHECK(cleared.removed == 1);
    CHECK(cleared.keys == std::vector<std::string>{key});
    CHECK_FALSE(c.store().fetch(key));
}

TEMPLATE_TEST_CASE("clear_expired removes only expired rows", "[contract]", MemoryBackend, SqliteBackend, PgBackend,
                   MysqlBackend) {
    Contract<TestType> c;
    std::string past_1h = c.saved_session("a", 10);
    std::string past_1s = c.saved_session("b", 3599);
    std::string future_1s = c.saved_session("c", 3601);
    std::string future_1h = c.saved_session("d", 7200);
    c.clock().advance_seconds(3600);

    auto session = c.store().open(std::nullopt);
    session->clear_expired();  // Django's SessionStore.clear_expired()

    std::vector<std::string> expected{future_1s, future_1h};
    std::sort(expected.begin(), expected.end());
    CHECK(c.stored_keys() == expected);
    CHECK_FALSE(c.store().fetch(past_1h));
    CHECK_FALSE(c.store().fetch(past_1s));
}

TEMPLATE_TEST_CASE("clear_expired with DryRun::yes counts and lists without deleting", "[contract]", MemoryBackend,
                   SqliteBackend, PgBackend, MysqlBackend) {
    Contract<TestType> c;
    std::vector<std::string> expired{c.saved_session("a", 10), c.saved_session("b", 20)};
    std::string live = c.saved_session("c", 1000);
    std::sort(expired.begin(), expired.end());
    c.clock().advance_seconds(30);

    BulkResult counted = c.store().clear_expired(DryRun::yes, false);
    CHECK(counted.matched == 2);
    CHECK(counted.removed == 0);
    CHECK(counted.keys.empty());

    BulkResult listed = c.store().clear_expired(DryRun::yes, true);
    CHECK(listed.matched == 2);
    CHECK(listed.removed == 0);
    CHECK(listed.keys == expired);
    CHECK(c.stored_keys().size() == 3);

    BulkResult done = c.store().clear_expired(DryRun::no, true);
    CHECK(done.matched == 2);
    CHECK(done.removed == 2);
    CHECK(done.keys == expired);
    CHECK(c.stored_keys() == std::vector<std::string>{live});
}

TEMPLATE_TEST_CASE("remove() skips a record whose data changed since it was read", "[contract]", MemoryBackend,
                   SqliteBackend, PgBackend, MysqlBackend) {
    Contract<TestType> c;
    std::string untouched = c.saved_session("a");
    std::string rewritten = c.saved_session("b");
    std::string vanished = c.saved_session("c");

    std::vector<StoredSession> records;
    c.store().scan([&](const StoredSession& row) {
        records.push_back(row);
        return true;
    });
    REQUIRE(records.size() == 3);

    // Meanwhile a request rewrites one session and another is logged out.
    auto other_process = c.open_store();
    auto live = other_process->open(rewritten);
    live->set("foo", "changed");
    live->save();
    other_process->open(vanished)->delete_session();

    BulkResult result = c.store().remove(records, true);
    CHECK(result.matched == 3);
    CHECK(result.removed == 1);
    CHECK(result.keys == std::vector<std::string>{untouched});
    CHECK(c.stored_keys() == std::vector<std::string>{rewritten});
    CHECK(c.store().open(rewritten)->get("foo") == PyValue("changed"));
}

TEMPLATE_TEST_CASE("scan visits every row, expired ones too, in a stable order and can stop early", "[contract]",
                   MemoryBackend, SqliteBackend, PgBackend, MysqlBackend) {
    Contract<TestType> c;
    CHECK(c.store().records_are_signed_session_data());  // the db engine keeps signed session_data
    std::vector<std::string> keys;
    for (int i = 0; i < 5; ++i) keys.push_back(c.saved_session(fmt::format("v{}", i), i == 0 ? 10 : 1000));
    std::sort(keys.begin(), keys.end());
    c.clock().advance_seconds(20);

    std::vector<std::string> seen;
    c.store().scan([&](const StoredSession& row) {
        seen.push_back(row.key);
        CHECK(row.expire_date);
        return true;
    });
    std::vector<std::string> seen_sorted = seen;
    std::sort(seen_sorted.begin(), seen_sorted.end());
    CHECK(seen_sorted == keys);

    std::vector<std::string> again;
    c.store().scan([&](const StoredSession& row) {
        again.push_back(row.key);
        return true;
    });
    CHECK(again == seen);

    std::vector<std::string> first_two;
    c.store().scan([&](const StoredSession& row) {
        first_two.push_back(row.key);
        return first_two.size() < 2;
    });
    CHECK(first_two == std::vector<std::string>{seen[0], seen[1]});
}

TEMPLATE_TEST_CASE("cycle_key keeps the data under a new key and removes the old row", "[contract]", MemoryBackend,
                   SqliteBackend, PgBackend, MysqlBackend) {
    Contract<TestType> c;
    std::string old_key = c.saved_session("bar");
    auto session = c.store().open(old_key);
    session->cycle_key();

    REQUIRE(session->session_key());
    const std::string new_key = *session->session_key();
    CHECK(new_key != old_key);
    CHECK(session->get("foo") == PyValue("bar"));
    CHECK_FALSE(c.store().fetch(old_key));
    CHECK(c.store().open(new_key)->get("foo") == PyValue("bar"));
    CHECK(c.stored_keys() == std::vector<std::string>{new_key});
}

TEMPLATE_TEST_CASE("flush deletes the row and leaves an empty session without a key", "[contract]", MemoryBackend,
                   SqliteBackend, PgBackend, MysqlBackend) {
    Contract<TestType> c;
    std::string key = c.saved_session("bar");
    auto session = c.store().open(key);
    REQUIRE(session->contains("foo"));

    session->flush();
    CHECK_FALSE(session->session_key());
    CHECK(session->keys().empty());
    CHECK_FALSE(c.store().fetch(key));
    CHECK(c.stored_keys().empty());
}

TEMPLATE_TEST_CASE("a session saved with an expiry in the past is invisible to a fresh session", "[contract]",
                   MemoryBackend, SqliteBackend, PgBackend, MysqlBackend) {
    // Django's test_actual_expiry.
    Contract<TestType> c;
    auto session = c.store().open(std::nullopt);
    session->set("foo", "bar");
    session->set_expiry(std::int64_t{-10});
    session->save();
    const std::string key = *session->session_key();

    auto fresh = c.store().open(key);
    CHECK_FALSE(fresh->contains("foo"));
    CHECK_FALSE(fresh->session_key());
    REQUIRE(c.store().fetch(key));
    CHECK(c.store().is_expired(*c.store().fetch(key), c.store().environment().now()));
}

TEMPLATE_TEST_CASE("the stored expire_date is the one Django stores with USE_TZ", "[contract]", MemoryBackend,
                   SqliteBackend, PgBackend, MysqlBackend) {
    const nlohmann::json vectors = load_db_vectors();
    const nlohmann::json& config = vectors.at("configs").at(0);
    REQUIRE(config.at("USE_TZ") == true);
    REQUIRE(config.at("now_time_time") == 1700000000.75);

    Contract<TestType> c;
    for (const auto& row : config.at("rows")) {
        const std::string name = row.at("case").get<std::string>();
        std::optional<std::int64_t> expiry;
        if (name == "default_expiry") {
        } else if (name == "set_expiry_300") {
            expiry = 300;
        } else if (name == "set_expiry_0_browser_close") {
            expiry = 0;
        } else {
            continue;  // timedelta expiry: covered by the expiry tests
        }
        SECTION(name) {
            std::string key = c.saved_session("bar", expiry);
            auto stored = c.store().fetch(key);
            REQUIRE(stored);
            REQUIRE(stored->expire_date);
            CHECK_FALSE(stored->expire_date->aware());
            CHECK(stored->expire_date->str_naive() == row.at("row").at(2).get<std::string>());
        }
    }
}

TEMPLATE_TEST_CASE("load honours db.json's expiry boundary to the microsecond", "[contract]", MemoryBackend,
                   SqliteBackend, PgBackend, MysqlBackend) {
    // db.json load_boundary: saved at 1700000000.0 with _session_expiry=100,
    // i.e. expire_date 2023-11-14 22:15:00; loaded at now + offset.
    const nlohmann::json vectors = load_db_vectors();
    for (const auto& boundary : vectors.at("load_boundary")) {
        const double offset = boundary.at("now_offset_s").get<double>();
        SECTION(fmt::format("now + {}s", offset)) {
            Contract<TestType> c;
            c.clock().set(1700000000'000000);
            std::string key = c.saved_session("bar", 100);
            REQUIRE(c.store().fetch(key)->expire_date->str_naive() == boundary.at("expire_date").get<std::string>());

            c.clock().set(1700000000'000000 + seconds_to_micros(offset));
            auto fresh = c.store().open(key);
            const bool loads = !boundary.at("load").empty();
            CHECK(fresh->contains("foo") == loads);
            CHECK(fresh->session_key().has_value() == !boundary.at("session_key_after").is_null());
        }
    }
}

TEMPLATE_TEST_CASE("write_sessions creates atomically and replaces only what was read", "[contract][copy]",
                   MemoryBackend, SqliteBackend, PgBackend, MysqlBackend) {
    Contract<TestType> c;
    const std::string taken = c.saved_session("theirs");
    const std::string fresh = random_string(32);
    const std::string late = random_string(32);
    auto write = [&](const std::string& key, PyDict data, std::int64_t expires_at) {
        SessionWrite w;
        w.key = key;
        w.data = std::move(data);
        w.expires_at_micros = expires_at;
        return w;
    };
    const std::int64_t in_a_day = kNowMicros + 86'400'000'000;
    std::vector<WriteOutcome> got = c.store().write_sessions(
        {write(taken, PyDict{{"foo", "ours"}}, in_a_day), write(fresh, PyDict{{"foo", "new"}}, in_a_day),
         write(late, PyDict{{"foo", "late"}}, kNowMicros)},
        WriteMode::create);
    CHECK(got == std::vector<WriteOutcome>{WriteOutcome::key_taken, WriteOutcome::written, WriteOutcome::expired});
    CHECK(c.store().open(taken)->get("foo") == PyValue("theirs"));
    CHECK(c.store().open(fresh)->get("foo") == PyValue("new"));
    CHECK_FALSE(c.store().fetch(late));
    // The expiry is kept to the microsecond, as the naive UTC expire_date Django stores.
    CHECK(c.store().fetch(fresh)->expire_date == DateTime{in_a_day, std::nullopt});

    const StoredSession read = *c.store().fetch(taken);
    SessionWrite replace = write(taken, PyDict{{"foo", "ours"}}, in_a_day);
    replace.expected_data = read.data;
    SessionWrite stale = write(fresh, PyDict{{"foo", "ours"}}, in_a_day);
    stale.expected_data = "not what the row holds";
    got = c.store().write_sessions({replace, stale}, WriteMode::replace_if_unchanged);
    CHECK(got == std::vector<WriteOutcome>{WriteOutcome::written, WriteOutcome::changed});
    CHECK(c.store().open(taken)->get("foo") == PyValue("ours"));
    CHECK(c.store().open(fresh)->get("foo") == PyValue("new"));
    // A replace never resurrects a session deleted meanwhile.
    c.store().open(taken)->delete_session();
    got = c.store().write_sessions({replace}, WriteMode::replace_if_unchanged);
    CHECK(got == std::vector<WriteOutcome>{WriteOutcome::changed});
    CHECK_FALSE(c.store().fetch(taken));
}
