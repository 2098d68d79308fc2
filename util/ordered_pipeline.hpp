#pragma once

// One ordered parallel pipeline: items are produced on one thread at a time,
// worked on by worker threads, and taken back on the calling thread in the
// order they were produced. The store scans run on it: a store's rows
// (cli/parallel_scan.hpp through Store::scan_examined) and the file engine's
// directory entries (backends/file/file_scan.cpp).
//
// Whatever must stay sequential (reading a connection that is not shared
// between threads, printing, unlinking, counting) happens on the producing or
// the calling thread; only `work`, the expensive part free of side effects,
// runs on the workers. A fixed ring of batches bounds the items in flight, so
// memory stays flat however long the source is, and the items keep their
// strings' capacity when reused.
//
// Failures stay deterministic: what `work` threw for an item is rethrown when
// that item's turn to be taken comes, as if the pipeline had been sequential;
// what the source threw, once the items produced before it are taken; what
// `take` threw ends the pipeline at once. After an exception the pipeline is
// only destroyed, which stops and joins the workers.
//
// Standard library only (util/ is the lowest layer).

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace sessionctl {

// Items per batch unless told otherwise: a batch is the unit workers are
// woken for and the calling thread takes back.
inline constexpr std::size_t kOrderedBatchItems = 128;

template <class Item>
class OrderedPipeline {
public:
    // On a worker thread: may only read shared state. What it throws is kept
    // with the item.
    using Work = std::function<void(Item&)>;
    // On the calling thread, in order; false ends the pipeline (nothing more
    // is taken).
    using Take = std::function<bool(Item&)>;
    // Produces the next item into the one given (which holds whatever it held
    // when last used); false at the end of the source (that item is dropped).
    using Fill = std::function<bool(Item&)>;

    struct Shape {
        std::size_t workers = 1;  // threads (at least one)
        std::size_t batches = 8;  // the ring: batches in flight at most
        std::size_t batch_items = kOrderedBatchItems;
        // Run first on each worker thread (it must not throw).
        std::function<void()> worker_setup;
        // Each batch is taken inside it: it must call its argument once.
        std::function<void(const std::function<void()>& take_batch)> around_take;
    };

    OrderedPipeline(Shape shape, Work work, Take take)
        : work_(std::move(work)),
          take_(std::move(take)),
          worker_setup_(std::move(shape.worker_setup)),
          around_take_(std::move(shape.around_take)),
          batch_items_(std::max<std::size_t>(shape.batch_items, 1)),
          ring_(std::max<std::size_t>(shape.batches, 1)) {
        const std::size_t workers = std::max<std::size_t>(shape.workers, 1);
        threads_.reserve(workers);
        try {
            for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { run_worker(); });
        } catch (...) {
            stop();
            throw;
        }
    }
    ~OrderedPipeline() { stop(); }
    OrderedPipeline(const OrderedPipeline&) = delete;
    OrderedPipeline& operator=(const OrderedPipeline&) = delete;

    // Push mode, for a source that calls back on the calling thread (a store
    // scan): `fill(item)` writes the next item, which is queued, and whatever
    // is ready is taken without waiting, so output flows as the source goes.
    // When the ring is full the oldest batch is waited for first. False once
    // a take said stop.
    template <class Fill1>
    bool push(Fill1&& fill) {
        if (stopped_) return false;
        if (filled_ - taken_ == ring_.size())  // the ring is full: the slot to fill holds the oldest batch
            if (!take_oldest(/*wait=*/true)) return false;
        Batch& b = ring_[filled_ % ring_.size()];
        if (b.count == b.items.size()) b.items.emplace_back();
        fill(b.items[b.count]);
        if (++b.count == batch_items_) {
            std::lock_guard lock(mutex_);
            publish(b);
        }
        while (taken_ < filled_ && ready(taken_))
            if (!take_oldest(/*wait=*/false)) return false;
        return true;
    }

    // After the last push: the partial batch, then everything still in
    // flight, in order. False when a take said stop.
    bool finish() {
        if (stopped_) return false;
        // A partial batch, if any, is in the slot being filled; when the ring
        // is full that slot still holds the oldest batch, already published.
        if (filled_ - taken_ < ring_.size() && ring_[filled_ % ring_.size()].count > 0) {
            std::lock_guard lock(mutex_);
            publish(ring_[filled_ % ring_.size()]);
        }
        while (taken_ < filled_)
            if (!take_oldest(/*wait=*/true)) return false;
        return true;
    }

    // Pull mode, for a source that can be read from any thread (a directory):
    // `fill` is called one thread at a time whenever fewer than `batches`
    // batches are in flight: by the workers when `workers_fill` (the calling
    // thread then only takes), else by the calling thread before it waits.
    // Runs to the end of the source or to the first take that says stop
    // (false). Not mixed with push().
    bool run(Fill fill, bool workers_fill) {
        {
            std::lock_guard lock(mutex_);
            fill_ = std::move(fill);
            workers_fill_ = workers_fill;
        }
        work_ready_.notify_all();
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                if (!workers_fill_)
                    while (may_read()) read_batch(lock);
                batch_done_.wait(
                    lock, [&] { return taken_ < filled_ ? is_done(ring_[taken_ % ring_.size()]) : source_done_; });
                if (taken_ == filled_) {
                    if (source_error_) std::rethrow_exception(std::exchange(source_error_, nullptr));
                    return true;
                }
            }
            if (!take_oldest(/*wait=*/false)) return false;
        }
    }

private:
    // Items a worker claims at a time: enough to keep the lock quiet.
    static constexpr std::size_t kClaim = 8;

    struct Batch {
        std::vector<Item> items;                 // the first `count` are this batch's; reused
        std::vector<std::exception_ptr> errors;  // what `work` threw, per item
        std::size_t count = 0;                   // items filled
        std::size_t claimed = 0;                 // items handed to workers
        std::size_t done = 0;                    // items worked
    };

    static bool is_done(const Batch& b) { return b.done == b.count; }

    // With the lock: hands the batch being filled to the workers.
    void publish(Batch& b) {
        b.errors.assign(b.count, nullptr);
        ++filled_;
        work_ready_.notify_all();
    }

    bool ready(std::uint64_t seq) {
        std::lock_guard lock(mutex_);
        return is_done(ring_[seq % ring_.size()]);
    }

    // With the lock: whether pull mode may read another batch now.
    [[nodiscard]] bool may_read() const {
        return fill_ && !source_done_ && !reading_ && filled_ - taken_ < ring_.size();
    }

    // One batch from `fill_`, read without the lock (held on entry and exit).
    void read_batch(std::unique_lock<std::mutex>& lock) {
        reading_ = true;
        Batch& b = ring_[filled_ % ring_.size()];  // free: may_read() said so
        lock.unlock();
        bool more = true;
        std::exception_ptr error;
        try {
            while (b.count < batch_items_) {
                if (b.count == b.items.size()) b.items.emplace_back();
                if (!fill_(b.items[b.count])) {
                    more = false;
                    break;
                }
                ++b.count;
            }
        } catch (...) {
            error = std::current_exception();
            more = false;
        }
        lock.lock();
        reading_ = false;
        if (!more) {
            source_done_ = true;
            source_error_ = error;
        }
        if (b.count > 0) publish(b);
        batch_done_.notify_all();
    }

    // With the lock: the oldest published batch with items no worker took.
    Batch* unclaimed() {
        claim_ = std::max(claim_, taken_);
        for (; claim_ < filled_; ++claim_) {
            Batch& b = ring_[claim_ % ring_.size()];
            if (b.claimed < b.count) return &b;
        }
        return nullptr;
    }

    // Takes the oldest batch in flight (waiting for its workers when told);
    // false when a take said stop.
    bool take_oldest(bool wait) {
        Batch& b = ring_[taken_ % ring_.size()];
        if (wait) {
            std::unique_lock lock(mutex_);
            batch_done_.wait(lock, [&] { return is_done(b); });
        }
        bool go_on = true;
        auto take_batch = [&] {
            for (std::size_t i = 0; i < b.count && go_on; ++i) {
                if (b.errors[i]) std::rethrow_exception(std::exchange(b.errors[i], nullptr));
                go_on = take_(b.items[i]);
            }
        };
        if (around_take_) around_take_(take_batch);
        else take_batch();
        {
            std::lock_guard lock(mutex_);
            b.count = b.claimed = b.done = 0;
            ++taken_;
        }
        work_ready_.notify_all();  // room for another batch (pull mode)
        stopped_ = !go_on;
        return go_on;
    }

    void run_worker() {
        if (worker_setup_) worker_setup_();
        std::unique_lock lock(mutex_);
        for (;;) {
            Batch* batch = nullptr;
            work_ready_.wait(lock, [&] {
                if (stopping_) return true;
                batch = unclaimed();
                return batch != nullptr || (workers_fill_ && may_read());
            });
            if (stopping_) return;
            if (!batch) {  // read the next batch of the source
                read_batch(lock);
                continue;
            }
            const std::size_t first = batch->claimed;
            const std::size_t count = std::min(kClaim, batch->count - first);
            batch->claimed += count;
            lock.unlock();
            for (std::size_t i = first; i < first + count; ++i) {
                try {
                    work_(batch->items[i]);
                } catch (...) {
                    batch->errors[i] = std::current_exception();
                }
            }
            lock.lock();
            batch->done += count;
            if (is_done(*batch)) batch_done_.notify_all();
        }
    }

    void stop() noexcept {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;  // batches never taken need no work
        }
        work_ready_.notify_all();
        for (auto& t : threads_)
            if (t.joinable()) t.join();
        threads_.clear();
    }

    Work work_;
    Take take_;
    std::function<void()> worker_setup_;
    std::function<void(const std::function<void()>&)> around_take_;
    const std::size_t batch_items_;
    std::vector<Batch> ring_;
    std::vector<std::thread> threads_;

    // Written with the lock held. In push mode the calling thread, their
    // only writer, also reads them without it.
    std::uint64_t filled_ = 0;  // batches published: the next one is being filled
    std::uint64_t taken_ = 0;   // batches taken back: the oldest in flight
    bool stopped_ = false;      // a take said stop: nothing more is taken

    std::mutex mutex_;
    std::condition_variable work_ready_;  // a batch was published or freed, or stop
    std::condition_variable batch_done_;  // a batch was worked, or the source read
    std::uint64_t claim_ = 0;             // no batch before it has unclaimed items
    Fill fill_;                           // pull mode
    bool workers_fill_ = false;
    bool reading_ = false;  // someone is in fill_
    bool source_done_ = false;
    std::exception_ptr source_error_;
    bool stopping_ = false;
};

// A whole run over a source that calls back on the calling thread, as a store
// scan does: `source(visit)` calls visit(record) for each record until visit
// returns false. For each record `before` runs first (Ctrl-C, progress; false
// ends the run), `examine` runs on a worker thread and `take` on the calling
// thread in source order (false ends the run). With one worker or none,
// everything runs on the calling thread. Nothing is thrown through `source`:
// a failure ends the run and is rethrown once the source has returned and the
// workers have stopped; one of `examine` in its record's turn.
template <class Record, class Result>
void examine_in_order(const std::function<void(const std::function<bool(const Record&)>&)>& source, std::size_t workers,
                      const std::function<Result(const Record&)>& examine,
                      const std::function<bool(const Record&, Result&)>& take, const std::function<bool()>& before) {
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
        source([&](const Record& record) {
            return guarded([&] {
                if (before && !before()) return false;
                Result result = examine(record);
                return take(record, result);
            });
        });
    } else {
        struct Slot {
            Record record;
            Result result;
        };
        typename OrderedPipeline<Slot>::Shape shape;
        shape.workers = workers;
        shape.batches = 2 * workers + 2;
        OrderedPipeline<Slot> pipeline(
            std::move(shape), [&](Slot& slot) { slot.result = examine(slot.record); },
            [&](Slot& slot) { return take(slot.record, slot.result); });
        source([&](const Record& record) {
            return guarded(
                [&] { return (!before || before()) && pipeline.push([&](Slot& slot) { slot.record = record; }); });
        });
        if (!failure) guarded([&] { return pipeline.finish(); });
    }  // the pipeline's workers are joined here
    if (failure) std::rethrow_exception(failure);
}

}  // namespace sessionctl
