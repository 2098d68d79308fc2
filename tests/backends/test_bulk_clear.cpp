// Paced bulk removal (issue 6): BulkPacer's batch sizing, stopping and
// pausing; SqliteTable::delete_expired in batches (whole batches only when
// stopped, rerun completes, progress); clearsessions' --batch-size, --sleep,
// --max-runtime and its progress line (only on a terminal stderr).

#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/bulk_pacer.hpp"
#include "backends/postgres/pg_table.hpp"
#include "backends/sqlite/sqlite_table.hpp"
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
        const std::string sql =
            fmt::format("INSERT INTO django_session VALUES ('{}', 'data', '{}')", key, naive(expire).str_naive());
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

// ---- BulkPacer

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
    BulkPacer pacer(options, kDefaults, BulkPacer::Clock::now,
                    [&](std::chrono::milliseconds d) { slept.push_back(d); });
    pacer.pause();
    CHECK(slept == std::vector<std::chrono::milliseconds>{50ms, 50ms});  // the third slice was never slept

    polls = -100;
    slept.clear();
    pacer.pause();
    CHECK(slept == std::vector<std::chrono::milliseconds>{50ms, 50ms, 20ms});
}

// ---- SqliteTable

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
    CHECK_FALSE(r.rolled_back);
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

TEST_CASE("delete_expired in one transaction removes every expired row in one batch", "[bulk][sqlite]") {
    TempDir dir;
    const std::string path = make_table(dir, 3000, 40, /*interleave=*/7);
    auto table = open_sqlite_table(path);
    BulkOptions options;
    options.batch_size = BulkOptions::kOneTransaction;
    options.sleep = 0ms;
    BulkResult r = table->delete_expired(naive(kNow), DryRun::no, false, options);
    CHECK(r.end == BulkEnd::complete);
    CHECK(r.batches == 1);
    CHECK(r.removed == 3000);
    CHECK(keys_with_prefix(*table, "exp").empty());
    CHECK(keys_with_prefix(*table, "mid").size() == 429);
    CHECK(keys_with_prefix(*table, "live").size() == 40);
}

TEST_CASE("a stop asked while a batch's DELETE runs rolls that batch back at once", "[bulk][sqlite]") {
    TempDir dir;
    const std::string path = make_table(dir, 5000, 10);
    auto table = open_sqlite_table(path);
    BulkOptions options;
    options.batch_size = BulkOptions::kOneTransaction;
    options.sleep = 0ms;
    int polls = 0;
    // The first poll is before the batch; every later one comes from inside the statement.
    options.should_stop = [&] { return ++polls > 1; };
    const bool want_keys = GENERATE(false, true);
    BulkResult r = table->delete_expired(naive(kNow), DryRun::no, want_keys, options);
    CHECK(polls > 1);
    CHECK(r.end == BulkEnd::stopped);
    CHECK(r.rolled_back);
    CHECK(r.batches == 0);
    CHECK(r.removed == 0);
    CHECK(r.keys.empty());
    CHECK(keys_with_prefix(*table, "exp").size() == 5000);

    // Nothing of the batch is left half done, and the connection is usable.
    BulkResult rerun = table->delete_expired(naive(kNow), DryRun::no, false);
    CHECK(rerun.end == BulkEnd::complete);
    CHECK(rerun.removed == 5000);
    CHECK(keys_with_prefix(*table, "live").size() == 10);
}

namespace {

// The first byte of FILE (-1 if it does not exist or is empty).
int first_byte(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    char c = 0;
    return in.get(c) ? static_cast<unsigned char>(c) : -1;
}

std::string mode_of(sqlite3* db) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    std::string mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return mode;
}

}  // namespace

TEST_CASE("delete_expired keeps a zeroed journal between batches and leaves delete mode as it was", "[bulk][sqlite]") {
    TempDir dir;
    const std::string path = make_table(dir, 60, 10);
    const std::string journal = path + "-journal";
    auto table = open_sqlite_table(path);
    sqlite3* site = nullptr;  // the site's own connection, in Django's (default) delete mode
    REQUIRE(sqlite3_open(path.c_str(), &site) == SQLITE_OK);
    REQUIRE(mode_of(site) == "delete");

    BulkOptions options;
    options.batch_size = 20;
    options.sleep = 0ms;
    int between = 0;
    options.progress = [&](std::uint64_t, std::uint64_t) {
        if (++between != 1) return;
        // Between our transactions: the journal is kept, its header zeroed
        // (nothing to roll back), and the site still writes, its commit
        // deleting the file as delete mode does.
        CHECK(first_byte(journal) == 0);
        const std::string sql = fmt::format("INSERT INTO django_session VALUES ('written-meanwhile', 'd', '{}')",
                                            naive(kNow + 3600'000'000LL).str_naive());
        CHECK(sqlite3_exec(site, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
        CHECK_FALSE(std::filesystem::exists(journal));
    };
    BulkResult r = table->delete_expired(naive(kNow), DryRun::no, false, options);
    CHECK(r.removed == 60);
    CHECK(r.batches == 3);
    CHECK(between == 3);
    CHECK_FALSE(std::filesystem::exists(journal));  // delete mode again: the file went with it
    CHECK(keys_with_prefix(*table, "written-meanwhile").size() == 1);
    CHECK(keys_with_prefix(*table, "live").size() == 10);
    sqlite3_close(site);

    sqlite3* fresh = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &fresh) == SQLITE_OK);
    CHECK(mode_of(fresh) == "delete");
    CHECK(sqlite3_exec(fresh, "PRAGMA integrity_check", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(fresh);
}

TEST_CASE("delete_expired leaves a WAL database in WAL mode", "[bulk][sqlite]") {
    TempDir dir;
    const std::string path = make_table(dir, 30, 5);
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    auto table = open_sqlite_table(path);
    BulkOptions options;
    options.batch_size = 10;
    options.sleep = 0ms;
    CHECK(table->delete_expired(naive(kNow), DryRun::no, false, options).removed == 30);
    table.reset();
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    CHECK(mode_of(db) == "wal");
    sqlite3_close(db);
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

// ---- progress line

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

// ---- clearsessions

namespace {

struct Run {
    int code;
    std::string out, err;
};

Run clearsessions(const TempDir& dir, std::vector<std::string> args, bool err_is_tty = false) {
    const std::string config = dir.file("config.json");
    std::ofstream(config)
        << nlohmann::json{{"DATABASES",
                           {{"default", {{"ENGINE", "django.db.backends.sqlite3"}, {"NAME", dir.file("db.sqlite3")}}}}}}
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
                                                                 {"--max-runtime", "-5"},
                                                                 {"--one-transaction", "--batch-size", "5"},
                                                                 {"--one-transaction", "--sleep", "0"},
                                                                 {"--max-runtime", "9", "--one-transaction"}}) {
        std::vector<std::string> args = {"clearsessions"};
        args.insert(args.end(), bad.begin(), bad.end());
        Run r = clearsessions(dir, args);
        INFO(fmt::format("{}: {}", fmt::join(bad, " "), r.err));
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

    TempDir other;
    make_table(other, 30, 5, /*interleave=*/4);
    Run whole = clearsessions(other, {"--json", "clearsessions", "--one-transaction"});
    CHECK(whole.code == 0);
    CHECK(whole.err.empty());
    auto w = nlohmann::json::parse(whole.out);
    CHECK(w["deleted"] == 30);
    CHECK(w["complete"] == true);

    // Silent as manage.py clearsessions, on a terminal too (the run is short).
    make_table(dir, 0, 0);
    Run quiet = clearsessions(dir, {"clearsessions"}, /*err_is_tty=*/true);
    CHECK(quiet.code == 0);
    CHECK(quiet.out.empty());
    CHECK(quiet.err.empty());
}

// Batch sizes a pacer picks, one per step, on a store whose batches of n rows
// take work_per_row * n of statements and commit_fixed + commit_per_row * n to commit.
struct SimulatedStore {
    double work_per_row_ms, commit_fixed_ms, commit_per_row_ms;
    std::vector<std::size_t> run(BulkPacer& pacer, int steps) const {
        std::vector<std::size_t> sizes;
        for (int i = 0; i < steps; ++i) {
            const double n = static_cast<double>(pacer.batch_size());
            sizes.push_back(pacer.batch_size());
            auto ms = [](double v) {
                return std::chrono::duration_cast<BulkPacer::Clock::duration>(
                    std::chrono::duration<double, std::milli>(v));
            };
            pacer.finished(ms(work_per_row_ms * n), ms(commit_fixed_ms + commit_per_row_ms * n));
        }
        return sizes;
    }
    double lock_ms(std::size_t n) const {
        return (work_per_row_ms + commit_per_row_ms) * static_cast<double>(n) + commit_fixed_ms;
    }
};

TEST_CASE("a slow commit does not shrink batches to nothing", "[bulk][pacer]") {
    BulkOptions options;  // aim: 80 ms a transaction
    BulkPacer pacer(options, kDefaults);
    pacer.finished(10ms, 30ms);  // 1000 rows: 40 ms in all
    CHECK(pacer.batch_size() == 2000);
    pacer.finished(40ms, 30ms);  // 30 ms of commit whatever the batch: fixed; 50 ms left for 2000 rows' 40
    CHECK(pacer.batch_size() == 2500);

    // A disk whose commit alone takes 200 ms: the batch grows until its work
    // is as long as the commit, not less (the run would crawl).
    const SimulatedStore slow{0.1, 200, 0};
    BulkPacer paced(options, kDefaults);
    const auto sizes = slow.run(paced, 12);
    CHECK(double(sizes.back()) == Approx(2000).epsilon(0.01));
    CHECK(slow.lock_ms(sizes.back()) == Approx(400).epsilon(0.01));
}

TEST_CASE("a commit that grows with the batch counts against the target", "[bulk][pacer]") {
    // SQLite with random session keys: each batch rewrites index pages all
    // over the table, so its commit grows with it (seen: 5 ms + 0.05 ms a row).
    // Taking the commit as fixed let batches grow to 500 ms; the fitted line
    // keeps the whole transaction at the 80 ms aim.
    const SimulatedStore sqlite{0.03, 5, 0.05};
    BulkOptions options;
    BulkPacer pacer(options, kDefaults);
    const auto sizes = sqlite.run(pacer, 12);
    for (std::size_t n : sizes) CHECK(sqlite.lock_ms(n) <= 100.0);
    CHECK(sqlite.lock_ms(sizes.back()) == Approx(80).epsilon(0.05));

    // The same with a fixed part over 40% of the target: growing part as long as it.
    const SimulatedStore slow{0.03, 60, 0.05};
    BulkPacer paced(options, kDefaults);
    const auto slow_sizes = slow.run(paced, 16);
    CHECK(slow.lock_ms(slow_sizes.back()) == Approx(120).epsilon(0.05));
}
