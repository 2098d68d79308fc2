// Paced bulk removal (issue 6): BulkPacer's batch sizing, stopping and
// pausing; SqliteTable::delete_expired in batches (whole batches only when
// stopped, rerun completes, progress); clearsessions' --batch-size, --sleep,
// --max-runtime and its progress line (only on a terminal stderr).

#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/bulk_pacer.hpp"
#include "backends/pg_table.hpp"
#include "backends/sqlite_table.hpp"
#include "cli/app.hpp"
#include "cli/progress.hpp"
#include "core/clock.hpp"
#include "core/datetime.hpp"

using namespace sessionctl;
using namespace std::chrono_literals;
using sessionctl::testing::TempDir;

namespace {

constexpr std::int64_t kNow = 1700000000'000000;  // 2023-11-14 22:13:20 UTC
DateTime naive(std::int64_t unix_micros) { return DateTime{unix_micros, std::nullopt}; }

// A clock the test moves by hand.
struct ManualClock {
    BulkPacer::Clock::time_point t{};
    BulkPacer::Now now() {
        return [this] { return t; };
    }
};

// A table of `expired` expired rows ("exp...") then `live` live ones, inserted
// in that order (so rowids follow expiry, as on a site); returns its path.
std::string make_table(const TempDir& dir, std::size_t expired, std::size_t live, std::size_t interleave = 0) {
    const std::string path = dir.file("db.sqlite3");
    SqliteOptions options;
    options.create_if_missing = true;
    (void)open_sqlite_table(path, options);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    auto insert = [&](const std::string& key, std::int64_t expire) {
        const std::string sql = fmt::format("INSERT INTO django_session VALUES ('{}', 'data', '{}')", key,
                                            naive(expire).str_naive());
        REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    };
    for (std::size_t i = 0; i < expired; ++i) {
        insert(fmt::format("exp{:09}", i), kNow - 1'000'000 - std::int64_t(expired - i) * 1000);
        if (interleave && i % interleave == 0) insert(fmt::format("mid{:09}", i), kNow + 3600'000'000LL);
    }
    for (std::size_t i = 0; i < live; ++i) insert(fmt::format("live{:08}", i), kNow + 1'000'000 + std::int64_t(i));
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    return path;
}

std::vector<std::string> keys_with_prefix(SqliteTable& table, std::string_view prefix) {
    std::vector<std::string> keys;
    table.scan([&](const StoredSession& r) {
        if (r.key.rfind(prefix, 0) == 0) keys.push_back(r.key);
        return true;
    });
    return keys;
}

}  // namespace

// ---------------------------------------------------------------- BulkPacer

constexpr BulkDefaults kDefaults{100ms, 30ms};

TEST_CASE("unset pacing options take the store's defaults", "[bulk][pacer]") {
    // SQLite needs the gap between batches (its writers poll for the lock);
    // PostgreSQL's row locks do not, and longer batches cost it less.
    CHECK(SqliteTable::kBulkDefaults.target_batch_time == 100ms);
    CHECK(SqliteTable::kBulkDefaults.sleep == 30ms);
    CHECK(PgTable::kBulkDefaults.sleep == 0ms);
    CHECK(PgTable::kBulkDefaults.target_batch_time == 500ms);

    std::vector<std::chrono::milliseconds> slept;
    auto record = [&](std::chrono::milliseconds d) { slept.push_back(d); };
    BulkOptions unset;
    BulkPacer sqlite(unset, SqliteTable::kBulkDefaults, BulkPacer::Clock::now, record);
    sqlite.pause();
    CHECK(slept == std::vector<std::chrono::milliseconds>{30ms});
    slept.clear();
    BulkPacer pg(unset, PgTable::kBulkDefaults, BulkPacer::Clock::now, record);
    pg.pause();
    CHECK(slept.empty());
    pg.finished(250ms);  // 1000 rows in 250 ms: 400 ms is 80% of 500
    CHECK(pg.batch_size() == 1600);

    BulkOptions given;
    given.sleep = 0ms;
    given.target_batch_time = 50ms;
    BulkPacer overridden(given, SqliteTable::kBulkDefaults, BulkPacer::Clock::now, record);
    overridden.pause();
    CHECK(slept.empty());
    overridden.finished(40ms);  // 80% of 50 ms
    CHECK(overridden.batch_size() == 1000);
}

TEST_CASE("a fixed --batch-size is kept whatever the batches take", "[bulk][pacer]") {
    BulkOptions options;
    options.batch_size = 250;
    BulkPacer pacer(options, kDefaults);
    CHECK(pacer.batch_size() == 250);
    pacer.finished(5s);
    CHECK(pacer.batch_size() == 250);
    pacer.finished(1ms);
    CHECK(pacer.batch_size() == 250);
}

TEST_CASE("sized batches aim at 80% of the target time, changing at most x2 or /2 a step", "[bulk][pacer]") {
    BulkOptions options;  // target 100 ms
    BulkPacer pacer(options, kDefaults);
    CHECK(pacer.batch_size() == BulkPacer::kFirstBatch);
    pacer.finished(40ms);  // 1000 rows in 40 ms: 2000 would take 80 ms
    CHECK(pacer.batch_size() == 2000);
    pacer.finished(1ms);  // much faster: only doubles
    CHECK(pacer.batch_size() == 4000);
    pacer.finished(160ms);  // twice the aim: halves
    CHECK(pacer.batch_size() == 2000);
    pacer.finished(100ms);  // 2000 * 80/100
    CHECK(pacer.batch_size() == 1600);
    for (int i = 0; i < 40; ++i) pacer.finished(10s);
    CHECK(pacer.batch_size() == BulkPacer::kMinBatch);
    for (int i = 0; i < 40; ++i) pacer.finished(0ms);
    CHECK(pacer.batch_size() == BulkPacer::kMaxBatch);
}

TEST_CASE("should_stop ends before the next batch; max_runtime only after the first", "[bulk][pacer]") {
    ManualClock clock;
    bool stop = false;
    BulkOptions options;
    options.max_runtime = 10s;
    options.should_stop = [&] { return stop; };
    BulkPacer pacer(options, kDefaults, clock.now());
    BulkResult result;
    clock.t += 60s;  // a slow start: the first batch runs all the same
    CHECK(pacer.may_start(result));
    CHECK_FALSE(pacer.may_start(result));
    CHECK(result.end == BulkEnd::max_runtime);

    BulkPacer stopped(options, kDefaults, clock.now());
    BulkResult r2;
    stop = true;
    CHECK_FALSE(stopped.may_start(r2));
    CHECK(r2.end == BulkEnd::stopped);
}

TEST_CASE("the pause between batches sleeps in slices and ends early on a stop", "[bulk][pacer]") {
    std::vector<std::chrono::milliseconds> slept;
    int polls = 0;
    BulkOptions options;
    options.sleep = 120ms;
    options.should_stop = [&] { return ++polls > 2; };
    BulkPacer pacer(options, kDefaults, BulkPacer::Clock::now, [&](std::chrono::milliseconds d) { slept.push_back(d); });
    pacer.pause();
    CHECK(slept == std::vector<std::chrono::milliseconds>{50ms, 50ms});  // the third slice was never slept

    polls = -100;
    slept.clear();
    pacer.pause();
    CHECK(slept == std::vector<std::chrono::milliseconds>{50ms, 50ms, 20ms});
}

// ---------------------------------------------------------------- SqliteTable

TEST_CASE("delete_expired in fixed batches removes exactly the expired rows", "[bulk][sqlite]") {
    TempDir dir;
    const std::string path = make_table(dir, 95, 40, /*interleave=*/7);
    auto table = open_sqlite_table(path);
    BulkOptions options;
    options.batch_size = 10;
    options.sleep = 0ms;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> progress;
    options.progress = [&](std::uint64_t done, std::uint64_t total) { progress.emplace_back(done, total); };
    BulkResult r = table->delete_expired(naive(kNow), DryRun::no, true, options);
    CHECK(r.end == BulkEnd::complete);
    CHECK(r.removed == 95);
    CHECK(r.matched == 95);
    CHECK(r.keys.size() == 95);
    CHECK(std::is_sorted(r.keys.begin(), r.keys.end()));
    CHECK(r.batches == 11);  // 95 expired + 14 live among them: rowids 1..109, 10 at a time
    CHECK(keys_with_prefix(*table, "exp").empty());
    CHECK(keys_with_prefix(*table, "mid").size() == 14);
    CHECK(keys_with_prefix(*table, "live").size() == 40);
    REQUIRE(progress.size() == 11);
    CHECK(progress.back() == std::pair<std::uint64_t, std::uint64_t>{95, 95});
    for (std::size_t i = 1; i < progress.size(); ++i) CHECK(progress[i].first >= progress[i - 1].first);
}

TEST_CASE("a stopped delete_expired leaves only whole batches done, and a rerun completes", "[bulk][sqlite]") {
    TempDir dir;
    const std::string path = make_table(dir, 100, 20);
    auto table = open_sqlite_table(path);
    BulkOptions options;
    options.batch_size = 30;
    options.sleep = 0ms;
    int batches_seen = 0;
    options.progress = [&](std::uint64_t, std::uint64_t) { ++batches_seen; };
    options.should_stop = [&] { return batches_seen == 2; };  // "Ctrl-C" during the second batch
    BulkResult r = table->delete_expired(naive(kNow), DryRun::no, false, options);
    CHECK(r.end == BulkEnd::stopped);
    CHECK(r.batches == 2);
    CHECK(r.removed == 60);
    // The oldest go first: what is left is the newest 40 expired rows.
    auto left = keys_with_prefix(*table, "exp");
    REQUIRE(left.size() == 40);
    CHECK(left.front() == "exp000000060");

    BulkResult rerun = table->delete_expired(naive(kNow), DryRun::no, false);
    CHECK(rerun.end == BulkEnd::complete);
    CHECK(rerun.removed == 40);
    CHECK(keys_with_prefix(*table, "exp").empty());
    CHECK(keys_with_prefix(*table, "live").size() == 20);
}

TEST_CASE("delete_expired on a table with nothing expired starts no transaction", "[bulk][sqlite]") {
    TempDir dir;
    const std::string path = make_table(dir, 0, 10);
    auto table = open_sqlite_table(path);
    BulkResult r = table->delete_expired(naive(kNow), DryRun::no, false);
    CHECK(r.end == BulkEnd::complete);
    CHECK(r.batches == 0);
    CHECK(r.removed == 0);
}

// ---------------------------------------------------------------- progress line

TEST_CASE("a progress line only on a terminal stderr, never with -q or --json", "[bulk][progress]") {
    CHECK(cli::progress_wanted(true, false, false));
    CHECK_FALSE(cli::progress_wanted(false, false, false));
    CHECK_FALSE(cli::progress_wanted(true, true, false));
    CHECK_FALSE(cli::progress_wanted(true, false, true));
}

TEST_CASE("the progress line waits a second, shows rate and ETA, and erases itself", "[bulk][progress]") {
    ManualClock clock;
    std::ostringstream err;
    {
        cli::Progress progress(err, true, "clearsessions: removed", clock.now());
        clock.t += 500ms;
        progress.update(1000, 10000);
        CHECK(err.str().empty());  // work under a second draws nothing
        clock.t += 1500ms;         // 2 s in, 4000 done: 2,000/s, 3 s left
        progress.update(4000, 10000);
        CHECK(err.str() == "\rclearsessions: removed  4,000 / 10,000   40%  2,000/s  ETA 3s");
        clock.t += 100ms;
        progress.update(4100, 10000);  // within the redraw interval
        CHECK(err.str() == "\rclearsessions: removed  4,000 / 10,000   40%  2,000/s  ETA 3s");
    }
    const std::string text = err.str();
    const std::string drawn = "\rclearsessions: removed  4,000 / 10,000   40%  2,000/s  ETA 3s";
    CHECK(text == drawn + "\r" + std::string(drawn.size() - 1, ' ') + "\r");
}

TEST_CASE("a disabled progress line writes nothing at all", "[bulk][progress]") {
    ManualClock clock;
    std::ostringstream err;
    cli::Progress progress(err, false, "x", clock.now());
    clock.t += 10s;
    progress.update(5, 10);
    progress.finish();
    CHECK(err.str().empty());
    CHECK(cli::group_thousands(0) == "0");
    CHECK(cli::group_thousands(999) == "999");
    CHECK(cli::group_thousands(1234567) == "1,234,567");
}

// ---------------------------------------------------------------- clearsessions

namespace {

struct Run {
    int code;
    std::string out, err;
};

Run clearsessions(const TempDir& dir, std::vector<std::string> args, bool err_is_tty = false) {
    const std::string config = dir.file("config.json");
    std::ofstream(config) << nlohmann::json{
        {"DATABASES", {{"default", {{"ENGINE", "django.db.backends.sqlite3"}, {"NAME", dir.file("db.sqlite3")}}}}}}
                                 .dump();
    std::vector<std::string> full = {"sessionctl", "--config", config};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::istringstream in;
    std::ostringstream out, err;
    cli::RunHooks hooks;
    hooks.clock = std::make_shared<FakeClock>(kNow);
    hooks.err_is_tty = err_is_tty;
    int code = cli::run(static_cast<int>(full.size()), argv.data(), in, out, err, hooks);
    return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("clearsessions --batch-size/--sleep/--max-runtime are checked before any I/O", "[bulk][cli]") {
    TempDir dir;  // no database at all: a usage error must come first
    for (const auto& bad : std::vector<std::vector<std::string>>{{"--batch-size", "0"},
                                                                 {"--sleep", "-1"},
                                                                 {"--sleep", "nan"},
                                                                 {"--max-runtime", "0"},
                                                                 {"--max-runtime", "-5"}}) {
        std::vector<std::string> args = {"clearsessions"};
        args.insert(args.end(), bad.begin(), bad.end());
        Run r = clearsessions(dir, args);
        INFO(bad[0] << ' ' << bad[1] << ": " << r.err);
        CHECK(r.code == 2);
        CHECK(r.out.empty());
    }
}

TEST_CASE("clearsessions in small batches reports complete and keeps stderr clean off a terminal", "[bulk][cli]") {
    TempDir dir;
    make_table(dir, 50, 5);
    Run r = clearsessions(dir, {"--json", "clearsessions", "--batch-size", "7", "--sleep", "0"});
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["deleted"] == 50);
    CHECK(j["complete"] == true);

    // Silent as manage.py clearsessions, on a terminal too (the run is short).
    make_table(dir, 0, 0);
    Run quiet = clearsessions(dir, {"clearsessions"}, /*err_is_tty=*/true);
    CHECK(quiet.code == 0);
    CHECK(quiet.out.empty());
    CHECK(quiet.err.empty());
}

TEST_CASE("a slow commit does not shrink batches to nothing", "[bulk][pacer]") {
    BulkOptions options;  // aim: 80 ms a transaction
    BulkPacer pacer(options, kDefaults);
    pacer.finished(10ms, 30ms);  // 1000 rows: 10 ms of work, 30 ms of fsync: 50 ms left for work
    CHECK(pacer.batch_size() == 2000);  // (5000 capped at x2)
    pacer.finished(40ms, 30ms);
    CHECK(pacer.batch_size() == 2500);
    // A disk whose commit alone takes 200 ms: work as long as the commit, not less.
    BulkPacer slow(options, kDefaults);
    slow.finished(100ms, 200ms);
    CHECK(slow.batch_size() == 2000);
    slow.finished(400ms, 200ms);
    CHECK(slow.batch_size() == 1000);
    slow.finished(200ms, 200ms);
    CHECK(slow.batch_size() == 1000);
}
