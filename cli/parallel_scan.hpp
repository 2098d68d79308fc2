#pragma once

// A store scan that decodes on every core and still answers in scan order.
//
// A store connection is not shared between threads, so the calling thread
// reads the store (Store::scan) and copies rows into batches; worker threads
// run `examine` on each row of a batch (decode, verify, match, render: the
// expensive part, free of side effects); the calling thread then takes the
// batches back in the order they were read and runs `take` on each row with
// its result (print, count, collect). A fixed ring of batches bounds the
// rows in flight, so memory stays flat however large the store is, and the
// batches keep their strings' capacity when reused.
//
// Failures stay deterministic: an exception thrown by `examine` reaches the
// caller when its row's turn to be taken comes, as if the scan had been
// sequential; one thrown by `take` or by the store ends the scan and is
// rethrown once the workers have stopped.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "backends/store.hpp"

namespace sessionctl::cli {

// What the caller needs of each row: everything (Store::scan), or only the
// key and data (Store::scan_key_and_data).
enum class ScanScope { everything, key_and_data };

// Decoding workers for a scan: one per core.
[[nodiscard]] inline std::size_t scan_worker_count() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
}

template <typename Result>
class ParallelScan {
public:
    // On a worker thread: must only read shared state.
    using Examine = std::function<Result(const StoredSession&)>;
    // On the calling thread, in scan order; false ends the scan.
    using Take = std::function<bool(const StoredSession&, Result&)>;
    // On the calling thread before each row is queued (Ctrl-C, progress); false ends the scan.
    using Before = std::function<bool()>;

    static constexpr std::size_t kBatchRows = 128;

    // Scans `store` to its end (or until `before` or `take` says stop).
    static void run(Store& store, Examine examine, Take take, Before before = {},
                    std::size_t workers = scan_worker_count(), ScanScope scope = ScanScope::everything) {
        // Nothing is thrown through Store::scan: a failure ends the scan and
        // is rethrown once the store has closed its cursor.
        std::exception_ptr failure;
        auto guarded = [&](auto&& step) {
            try {
                return step();
            } catch (...) {
                failure = std::current_exception();
                return false;
            }
        };
        if (workers <= 1) {
            scan(store, scope, [&](const StoredSession& row) {
                return guarded([&] {
                    if (before && !before()) return false;
                    Result result = examine(row);
                    return take(row, result);
                });
            });
        } else {
            ParallelScan pipeline(std::move(examine), std::move(take), workers);
            scan(store, scope, [&](const StoredSession& row) {
                return guarded([&] { return (!before || before()) && pipeline.add(row); });
            });
            if (!failure) guarded([&] { return pipeline.finish(); });
            pipeline.stop_workers();
        }
        if (failure) std::rethrow_exception(failure);
    }

private:
    static void scan(Store& store, ScanScope scope, const std::function<bool(const StoredSession&)>& visit) {
        if (scope == ScanScope::key_and_data) store.scan_key_and_data(visit);
        else store.scan(visit);
    }

    struct Batch {
        std::vector<StoredSession> rows;
        std::vector<Result> results;
        std::size_t count = 0;
        bool done = false;  // examined (or failed): ready to be taken
        std::exception_ptr error;
        std::size_t failed_at = 0;  // the row whose examine threw
    };

    ParallelScan(Examine examine, Take take, std::size_t workers)
        : examine_(std::move(examine)), take_(std::move(take)), ring_(2 * workers + 2) {
        threads_.reserve(workers);
        for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
    }
    ~ParallelScan() { stop_workers(); }
    ParallelScan(const ParallelScan&) = delete;
    ParallelScan& operator=(const ParallelScan&) = delete;

    // Copies one row into the batch being filled; false once a take said stop.
    bool add(const StoredSession& row) {
        Batch& b = ring_[filling_ % ring_.size()];
        if (filling_ - taking_ == ring_.size())  // the ring is full: this slot holds the oldest batch
            if (!take_next(/*wait=*/true)) return false;
        if (b.count < b.rows.size()) {
            StoredSession& slot = b.rows[b.count];
            slot.key.assign(row.key);
            slot.data.assign(row.data);
            slot.expire_date = row.expire_date;
            slot.flags = row.flags;
        } else {
            b.rows.push_back(row);
        }
        if (++b.count == kBatchRows) submit();
        // Hand back what is ready without waiting: output flows as the scan goes.
        while (taking_ < filling_) {
            if (!ready(taking_)) break;
            if (!take_next(/*wait=*/false)) return false;
        }
        return true;
    }

    // After the scan: the partial batch, then everything still in flight, in order.
    bool finish() {
        if (stopped_) return false;
        // A partial batch, if any, is in the slot being filled; when the ring
        // is full that slot still holds the oldest batch, already submitted.
        if (filling_ - taking_ < ring_.size() && ring_[filling_ % ring_.size()].count > 0) submit();
        while (taking_ < filling_)
            if (!take_next(/*wait=*/true)) return false;
        return true;
    }

    void submit() {
        {
            std::lock_guard lock(mutex_);
            queue_.push_back(filling_);
        }
        ++filling_;
        work_ready_.notify_one();
    }

    bool ready(std::uint64_t seq) {
        std::lock_guard lock(mutex_);
        return ring_[seq % ring_.size()].done;
    }

    // Takes the oldest batch in flight; false when a take said stop.
    bool take_next(bool wait) {
        Batch& b = ring_[taking_ % ring_.size()];
        {
            std::unique_lock lock(mutex_);
            if (wait) batch_done_.wait(lock, [&] { return b.done; });
        }
        const std::size_t good = b.error ? b.failed_at : b.count;
        bool go_on = true;
        for (std::size_t i = 0; i < good && go_on; ++i) go_on = take_(b.rows[i], b.results[i]);
        if (go_on && b.error) std::rethrow_exception(std::exchange(b.error, nullptr));
        {
            std::lock_guard lock(mutex_);
            b.done = false;
        }
        b.count = 0;
        ++taking_;
        stopped_ = !go_on;
        return go_on;
    }

    void work() {
        for (;;) {
            std::uint64_t seq = 0;
            {
                std::unique_lock lock(mutex_);
                work_ready_.wait(lock, [&] { return quit_ || !queue_.empty(); });
                if (queue_.empty()) return;
                seq = queue_.front();
                queue_.pop_front();
            }
            Batch& b = ring_[seq % ring_.size()];
            if (b.results.size() < b.count) b.results.resize(b.count);
            std::size_t i = 0;
            try {
                for (; i < b.count; ++i) b.results[i] = examine_(b.rows[i]);
            } catch (...) {
                b.error = std::current_exception();
                b.failed_at = i;
            }
            {
                std::lock_guard lock(mutex_);
                b.done = true;
            }
            batch_done_.notify_all();
        }
    }

    void stop_workers() noexcept {
        {
            std::lock_guard lock(mutex_);
            quit_ = true;
            queue_.clear();  // batches never taken need no examining
        }
        work_ready_.notify_all();
        for (auto& t : threads_) t.join();
        threads_.clear();
    }

    Examine examine_;
    Take take_;
    std::vector<Batch> ring_;
    std::uint64_t filling_ = 0;  // sequence number of the batch being filled
    std::uint64_t taking_ = 0;   // the oldest batch not yet taken
    bool stopped_ = false;       // a take said stop: nothing more is taken
    std::vector<std::thread> threads_;

    std::mutex mutex_;
    std::condition_variable work_ready_;  // a batch was queued, or quit
    std::condition_variable batch_done_;  // a batch was examined
    std::deque<std::uint64_t> queue_;     // submitted, not yet claimed by a worker
    bool quit_ = false;
};

}  // namespace sessionctl::cli
