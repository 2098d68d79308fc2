// cli/parallel_scan.hpp: rows come back in scan order whatever the workers
// do, a stop is honoured, and failures surface where a sequential scan would
// have raised them. These run the default Store::scan_examined() (the
// pipeline of util/ordered_pipeline.hpp over scan()); a store that overrides
// it gets the work instead (the file engine: tests/backends/file).

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "cli/parallel_scan.hpp"

namespace {

using sessionctl::BulkResult;
using sessionctl::DateTime;
using sessionctl::DryRun;
using sessionctl::SessionBase;
using sessionctl::SessionEnvironment;
using sessionctl::StoredSession;
using sessionctl::cli::ParallelScan;

// Only scan() is used; it counts how far the store was read.
class RowsStore : public sessionctl::Store {
public:
    explicit RowsStore(std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) rows_.push_back({"key" + std::to_string(i), std::to_string(i), {}, 0});
    }
    std::size_t read = 0;
    bool scan_returned_normally = false;

    std::string_view engine() const override { return "test"; }
    const SessionEnvironment& environment() const override { throw std::logic_error("unused"); }
    std::unique_ptr<SessionBase> open(std::optional<std::string>) override { throw std::logic_error("unused"); }
    std::optional<StoredSession> fetch(std::string_view) override { return std::nullopt; }
    void scan(const std::function<bool(const StoredSession&)>& visit) override {
        scan_returned_normally = false;
        for (const auto& row : rows_) {
            ++read;
            if (!visit(row)) break;
        }
        scan_returned_normally = true;  // never left by an exception
    }
    void scan_key_and_data(const std::function<bool(const StoredSession&)>& visit) override {
        ++key_and_data_scans;
        scan(visit);
    }
    std::size_t key_and_data_scans = 0;
    bool is_expired(const StoredSession&, const DateTime&) const override { return false; }
    BulkResult clear_expired(DryRun, bool) override { return {}; }
    BulkResult remove(const std::vector<StoredSession>&, bool) override { return {}; }

private:
    std::vector<StoredSession> rows_;
};

// A store that runs the per-row work itself, as the file engine does on its
// reader threads; here sequentially.
class OwnWorkersStore : public RowsStore {
public:
    using RowsStore::RowsStore;
    std::size_t calls = 0, workers_asked = 0;
    std::optional<sessionctl::ScanScope> scope_asked;
    void scan_examined(sessionctl::ScanScope scope, std::size_t workers, const sessionctl::ScanExamine& examine,
                       const std::function<bool()>& before) override {
        ++calls;
        workers_asked = workers;
        scope_asked = scope;
        scan([&](const StoredSession& row) { return (!before || before()) && examine(row)(row); });
    }
};

// Uneven work, so batches finish out of order.
int slow_square(const StoredSession& row) {
    const int n = std::stoi(row.data);
    if (n % 97 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
    return n * n;
}

}  // namespace

TEST_CASE("a parallel scan takes every row in scan order with its own result", "[cli][parallel_scan]") {
    for (std::size_t workers : {1, 2, 4}) {
        for (std::size_t n : {0, 1, 127, 128, 129, 5000}) {
            RowsStore store(n);
            std::vector<int> squares;
            std::vector<std::string> keys;
            ParallelScan<int>::run(
                store, slow_square,
                [&](const StoredSession& row, int& square) {
                    keys.push_back(row.key);
                    squares.push_back(square);
                    return true;
                },
                {}, workers);
            INFO("workers " << workers << " rows " << n);
            REQUIRE(squares.size() == n);
            for (std::size_t i = 0; i < n; ++i) {
                CHECK(keys[i] == "key" + std::to_string(i));
                CHECK(squares[i] == static_cast<int>(i * i));
            }
            CHECK(store.scan_returned_normally);
        }
    }
}

TEST_CASE("a scan that ends on a full batch with the ring full takes every batch once", "[cli][parallel_scan]") {
    // Slow workers keep the ring full; the last row completes a batch, so the
    // slot after it still holds the oldest batch (it once was submitted again
    // and the scan waited for ever).
    for (std::size_t workers : {2, 3}) {
        const std::size_t n = (2 * workers + 2) * ParallelScan<int>::kBatchRows * 2;
        RowsStore store(n);
        std::size_t taken = 0;
        std::atomic<std::size_t> examined{0};
        ParallelScan<int>::run(
            store,
            [&](const StoredSession& row) {
                ++examined;
                std::this_thread::sleep_for(std::chrono::microseconds(20));
                return std::stoi(row.data);
            },
            [&](const StoredSession&, int& value) {
                CHECK(value == static_cast<int>(taken));
                ++taken;
                return true;
            },
            {}, workers);
        CHECK(taken == n);
        CHECK(examined == n);  // no batch examined twice
    }
}

TEST_CASE("a parallel scan stops when take or before says so", "[cli][parallel_scan]") {
    for (std::size_t workers : {1, 2, 4}) {
        INFO("workers " << workers);
        RowsStore store(10000);
        std::vector<int> taken;
        ParallelScan<int>::run(
            store, slow_square,
            [&](const StoredSession&, int& square) {
                taken.push_back(square);
                return taken.size() < 300;
            },
            {}, workers);
        CHECK(taken.size() == 300);  // nothing taken after the stop
        CHECK(taken.back() == 299 * 299);
        // The scan ended soon after: at most the batches in flight were read ahead.
        CHECK(store.read < 300 + (2 * workers + 2) * ParallelScan<int>::kBatchRows + 1);

        RowsStore store2(10000);
        std::size_t before_calls = 0, takes = 0;
        ParallelScan<int>::run(
            store2, slow_square,
            [&](const StoredSession&, int&) {
                ++takes;
                return true;
            },
            [&] { return ++before_calls <= 1000; }, workers);
        CHECK(store2.read == 1001);
        CHECK(takes == 1000);  // the rows read before the stop are all taken
    }
}

TEST_CASE("a parallel scan raises an examine failure in its row's turn", "[cli][parallel_scan]") {
    for (std::size_t workers : {1, 2, 4}) {
        INFO("workers " << workers);
        RowsStore store(5000);
        std::vector<int> taken;
        auto examine = [](const StoredSession& row) {
            const int n = std::stoi(row.data);
            if (n == 2222 || n == 4000) throw std::runtime_error("bad row " + row.key);
            return slow_square(row);
        };
        auto take = [&](const StoredSession&, int& square) {
            taken.push_back(square);
            return true;
        };
        CHECK_THROWS_WITH(ParallelScan<int>::run(store, examine, take, {}, workers), "bad row key2222");
        // Exactly the rows before it were taken, as in a sequential scan.
        REQUIRE(taken.size() == 2222);
        CHECK(taken.back() == 2221 * 2221);
        CHECK(store.scan_returned_normally);  // the exception did not cross Store::scan
    }
}

TEST_CASE("a parallel scan rethrows a take failure after stopping its workers", "[cli][parallel_scan]") {
    for (std::size_t workers : {1, 2, 4}) {
        INFO("workers " << workers);
        RowsStore store(5000);
        std::atomic<int> examined{0};
        std::size_t takes = 0;
        auto examine = [&](const StoredSession& row) {
            ++examined;
            return slow_square(row);
        };
        auto take = [&](const StoredSession&, int&) -> bool {
            if (++takes == 1000) throw std::runtime_error("output closed");
            return true;
        };
        CHECK_THROWS_WITH(ParallelScan<int>::run(store, examine, take, {}, workers), "output closed");
        CHECK(takes == 1000);
        CHECK(store.scan_returned_normally);
        CHECK(store.read < 5000);
    }
}

TEST_CASE("a parallel scan hands its work to a store that runs it on its own workers", "[cli][parallel_scan]") {
    OwnWorkersStore store(1000);
    std::vector<int> squares;
    std::size_t befores = 0;
    ParallelScan<int>::run(
        store, slow_square,
        [&](const StoredSession& row, int& square) {
            CHECK(square == std::stoi(row.data) * std::stoi(row.data));
            squares.push_back(square);
            return true;
        },
        [&] { return ++befores <= 600; }, 3, sessionctl::cli::ScanScope::key_and_data);
    CHECK(store.calls == 1);
    CHECK(store.workers_asked == 3);
    CHECK(store.scope_asked == sessionctl::ScanScope::key_and_data);
    REQUIRE(squares.size() == 600);
    CHECK(squares.back() == 599 * 599);
}

TEST_CASE("a parallel scan reads only keys and data when told so", "[cli][parallel_scan]") {
    for (std::size_t workers : {1, 4}) {
        RowsStore store(300);
        std::size_t takes = 0;
        auto count = [&](const StoredSession&, int&) { return ++takes > 0; };
        ParallelScan<int>::run(store, slow_square, count, {}, workers, sessionctl::cli::ScanScope::key_and_data);
        CHECK(store.key_and_data_scans == 1);
        ParallelScan<int>::run(store, slow_square, count, {}, workers);
        CHECK(store.key_and_data_scans == 1);
        CHECK(takes == 600);
    }
}
