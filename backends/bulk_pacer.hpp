#pragma once

// Paces a bulk removal done in batches (BulkOptions): how many rows the next
// batch takes, whether another batch may start (should_stop, max_runtime), and
// the pause between batches. Shared by the SQL tables so that --batch-size,
// --sleep and --max-runtime mean the same everywhere.

#include <chrono>
#include <cstddef>
#include <functional>

#include "backends/store.hpp"

namespace sessionctl {

class BulkPacer {
public:
    using Clock = std::chrono::steady_clock;
    using Now = std::function<Clock::time_point()>;
    // Sleeps for a duration (tests pass a fake that advances their clock).
    using Sleep = std::function<void(std::chrono::milliseconds)>;

    // Sized batches start small (a table on a slow disk must not hold the
    // lock for seconds on its first batch) and adapt within these bounds.
    static constexpr std::size_t kFirstBatch = 1000;
    static constexpr std::size_t kMinBatch = 100;
    static constexpr std::size_t kMaxBatch = 1000000;

    BulkPacer(const BulkOptions& options, BulkDefaults defaults, Now now = Clock::now, Sleep sleep = {});

    // Whether the next batch may start. When not, sets result.end (stopped or
    // max_runtime). The first batch always may, unless should_stop says no.
    [[nodiscard]] bool may_start(BulkResult& result);
    // Rows (or, for a table deleting by rowid range, rowids) the next batch covers.
    [[nodiscard]] std::size_t batch_size() const { return batch_; }
    // Call right after a batch committed, with the time its statements took
    // (`work`, which grows with the batch) and the time COMMIT took (`commit`,
    // mostly fsync, about the same whatever the batch). With no fixed
    // --batch-size the next batch is sized so that work + commit is 80% of
    // the target time, changing at most x2 or /2 a step. Where the commit
    // alone takes more than 40% of the target (a slow disk), the work is made
    // as long as the commit instead: the lock is then held longer than the
    // target, but never mostly for fsync, which would make the run crawl.
    void finished(Clock::duration work, Clock::duration commit = Clock::duration::zero());
    // The pause (options.sleep, else the store's default), in short slices so that should_stop ends it early.
    // Called between batches only (never after the last).
    void pause();

private:
    const BulkOptions& options_;
    const std::chrono::milliseconds target_batch_time_;
    const std::chrono::milliseconds sleep_time_;
    Now now_;
    Sleep sleep_;
    Clock::time_point started_;
    std::size_t batch_;
    bool first_ = true;
};

}  // namespace sessionctl
