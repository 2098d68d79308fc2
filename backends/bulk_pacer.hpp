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
    // (`work`) and the time COMMIT took (`commit`). A commit costs a fixed
    // part (fsync latency) plus a part that grows with the pages the batch
    // dirtied (on SQLite most of it: every batch rewrites index pages all
    // over the session_key index). The fixed part is estimated by a line
    // fitted through the (batch, commit) pairs seen so far (recent ones weigh
    // more); the rest of work and commit is taken as proportional to the
    // batch. With no fixed --batch-size the next batch is sized so that the
    // whole transaction takes 80% of the target time, changing at most x2 or
    // /2 a step. Where
    // the fixed part alone takes more than 40% of the target (a slow disk),
    // the growing part is made as long as the fixed part instead: the lock is
    // then held longer than the target, but never mostly for fsync, which
    // would make the run crawl.
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
    // Decaying sums over the sized batches seen: count, batch, commit (s),
    // batch^2, batch*commit; and the smallest commit.
    double seen_ = 0, sum_n_ = 0, sum_c_ = 0, sum_nn_ = 0, sum_nc_ = 0, min_commit_ = 0;
    [[nodiscard]] double fixed_commit_estimate() const;
};

}  // namespace sessionctl
