// util/ordered_pipeline.hpp: items come back in the order they were
// produced whatever the workers do, in push and in pull mode; a stop is
// honoured; failures surface where a sequential loop would have raised them;
// the ring bounds what is read ahead. (The push mode as a store scan runs it
// is tested through cli::ParallelScan in tests/cli/test_parallel_scan.cpp.)

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "util/ordered_pipeline.hpp"

namespace {

using sessionctl::OrderedPipeline;

struct Item {
    int n = 0;
    long square = 0;
};

// Uneven work, so items finish out of order.
void slow_square(Item& item) {
    if (item.n % 97 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
    item.square = static_cast<long>(item.n) * item.n;
}

OrderedPipeline<Item>::Shape shape_of(std::size_t workers, std::size_t batches = 8, std::size_t batch_items = 128) {
    OrderedPipeline<Item>::Shape shape;
    shape.workers = workers;
    shape.batches = batches;
    shape.batch_items = batch_items;
    return shape;
}

// A source of `n` numbers that counts how far it was read.
struct Counter {
    int n = 0;
    std::atomic<int> read{0};
    bool fill(Item& item) {
        const int next = read.load();
        if (next == n) return false;
        item.n = next;
        item.square = -1;  // whatever the reused item held is overwritten
        read = next + 1;
        return true;
    }
};

}  // namespace

TEST_CASE("a pull pipeline takes every item in order, read by the workers or by the caller",
          "[util][ordered_pipeline]") {
    for (bool workers_fill : {false, true}) {
        for (std::size_t workers : {1, 2, 4}) {
            for (int n : {0, 1, 127, 128, 129, 3000}) {
                INFO("workers_fill " << workers_fill << " workers " << workers << " items " << n);
                Counter source{n};
                std::vector<long> squares;
                OrderedPipeline<Item> pipeline(shape_of(workers), slow_square, [&](Item& item) {
                    CHECK(item.n == static_cast<int>(squares.size()));
                    squares.push_back(item.square);
                    return true;
                });
                CHECK(pipeline.run([&](Item& item) { return source.fill(item); }, workers_fill));
                REQUIRE(squares.size() == static_cast<std::size_t>(n));
                for (int i = 0; i < n; ++i) CHECK(squares[static_cast<std::size_t>(i)] == static_cast<long>(i) * i);
            }
        }
    }
}

TEST_CASE("a pull pipeline stops at a take that says so and reads at most the ring ahead", "[util][ordered_pipeline]") {
    for (bool workers_fill : {false, true}) {
        INFO("workers_fill " << workers_fill);
        Counter source{100000};
        int taken = 0;
        OrderedPipeline<Item> pipeline(shape_of(3, 4, 16), slow_square, [&](Item&) { return ++taken < 500; });
        CHECK_FALSE(pipeline.run([&](Item& item) { return source.fill(item); }, workers_fill));
        CHECK(taken == 500);
        // The batch that held the stop, and at most the ring after it.
        CHECK(source.read <= 512 + 4 * 16);
    }
}

TEST_CASE("a pull pipeline raises a source failure after the items read before it", "[util][ordered_pipeline]") {
    for (bool workers_fill : {false, true}) {
        INFO("workers_fill " << workers_fill);
        int read = 0;
        std::vector<int> taken;
        OrderedPipeline<Item> pipeline(shape_of(2, 8, 16), slow_square, [&](Item& item) {
            taken.push_back(item.n);
            return true;
        });
        auto fill = [&](Item& item) {
            if (read == 1000) throw std::runtime_error("directory gone");
            item.n = read++;
            return true;
        };
        CHECK_THROWS_WITH(pipeline.run(fill, workers_fill), "directory gone");
        REQUIRE(taken.size() == 1000);
        CHECK(taken.back() == 999);
    }
}

TEST_CASE("a work failure is raised in its item's turn", "[util][ordered_pipeline]") {
    for (bool workers_fill : {false, true}) {
        INFO("workers_fill " << workers_fill);
        Counter source{3000};
        std::vector<int> taken;
        OrderedPipeline<Item> pipeline(
            shape_of(4),
            [](Item& item) {
                if (item.n == 1500 || item.n == 2500) throw std::runtime_error("bad " + std::to_string(item.n));
                slow_square(item);
            },
            [&](Item& item) {
                taken.push_back(item.n);
                return true;
            });
        CHECK_THROWS_WITH(pipeline.run([&](Item& item) { return source.fill(item); }, workers_fill), "bad 1500");
        REQUIRE(taken.size() == 1500);
        CHECK(taken.back() == 1499);
    }
}

TEST_CASE("each batch is taken inside around_take, and each worker runs worker_setup first",
          "[util][ordered_pipeline]") {
    auto shape = shape_of(3, 4, 10);
    std::mutex mutex;
    std::set<std::thread::id> set_up;
    std::atomic<int> unset_work{0};
    thread_local bool ready = false;
    shape.worker_setup = [&] {
        ready = true;
        std::lock_guard lock(mutex);
        set_up.insert(std::this_thread::get_id());
    };
    int batches = 0;
    bool inside = false;
    shape.around_take = [&](const std::function<void()>& take_batch) {
        ++batches;
        inside = true;
        take_batch();
        inside = false;
    };
    Counter source{95};
    int taken = 0;
    {
        OrderedPipeline<Item> pipeline(
            std::move(shape),
            [&](Item& item) {
                if (!ready) ++unset_work;
                slow_square(item);
            },
            [&](Item&) {
                CHECK(inside);
                ++taken;
                return true;
            });
        CHECK(pipeline.run([&](Item& item) { return source.fill(item); }, true));
        CHECK(taken == 95);
        CHECK(batches == 10);  // 9 full batches of 10 and one of 5
    }
    // Counted once the pipeline is gone (its threads joined): on a loaded
    // machine a worker may first be scheduled after the others did all the
    // work, and then runs worker_setup only as the pipeline stops. Checking
    // before that was the unit suite's rare flaky assertion (2 == 3).
    CHECK(unset_work == 0);
    CHECK(set_up.size() == 3);
    CHECK(set_up.count(std::this_thread::get_id()) == 0);
}

TEST_CASE("push mode takes ready items as it goes and the rest at finish", "[util][ordered_pipeline]") {
    for (std::size_t workers : {1, 3}) {
        INFO("workers " << workers);
        std::vector<int> taken;
        OrderedPipeline<Item> pipeline(shape_of(workers, 3, 8), slow_square, [&](Item& item) {
            CHECK(item.square == static_cast<long>(item.n) * item.n);
            taken.push_back(item.n);
            return true;
        });
        std::size_t most_in_flight = 0;
        for (int i = 0; i < 1000; ++i) {
            REQUIRE(pipeline.push([&](Item& item) { item.n = i; }));
            most_in_flight = std::max(most_in_flight, static_cast<std::size_t>(i + 1) - taken.size());
        }
        CHECK(most_in_flight <= 3 * 8 + 1);  // the ring, plus the item just pushed
        CHECK(pipeline.finish());
        REQUIRE(taken.size() == 1000);
        for (int i = 0; i < 1000; ++i) CHECK(taken[static_cast<std::size_t>(i)] == i);
    }
}

TEST_CASE("examine_in_order runs before, examine and take per record, in order", "[util][ordered_pipeline]") {
    for (std::size_t workers : {0, 1, 2, 5}) {
        INFO("workers " << workers);
        std::vector<std::string> records;
        for (int i = 0; i < 700; ++i) records.push_back(std::to_string(i));
        bool source_returned = false;
        auto source = [&](const std::function<bool(const std::string&)>& visit) {
            for (const auto& r : records)
                if (!visit(r)) break;
            source_returned = true;
        };
        std::vector<int> taken;
        int befores = 0;
        sessionctl::examine_in_order<std::string, int>(
            source, workers, [](const std::string& r) { return std::stoi(r) * 2; },
            [&](const std::string& r, int& doubled) {
                CHECK(doubled == std::stoi(r) * 2);
                taken.push_back(doubled / 2);
                return true;
            },
            [&] { return ++befores <= 650; });
        CHECK(source_returned);
        CHECK(befores == 651);
        REQUIRE(taken.size() == 650);
        CHECK(taken.back() == 649);
    }
}
