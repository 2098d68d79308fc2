#include "backends/bulk_pacer.hpp"

#include <algorithm>
#include <thread>

namespace sessionctl {

BulkPacer::BulkPacer(const BulkOptions& options, BulkDefaults defaults, Now now, Sleep sleep)
    : options_(options),
      target_batch_time_(options.target_batch_time.value_or(defaults.target_batch_time)),
      sleep_time_(options.sleep.value_or(defaults.sleep)),
      now_(std::move(now)),
      sleep_(std::move(sleep)),
      started_(now_()),
      batch_(options.batch_size > 0 ? options.batch_size : kFirstBatch) {
    if (!sleep_) sleep_ = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
}

bool BulkPacer::may_start(BulkResult& result) {
    if (options_.should_stop && options_.should_stop()) {
        result.end = BulkEnd::stopped;
        return false;
    }
    if (!first_ && options_.max_runtime.count() > 0 && now_() - started_ >= options_.max_runtime) {
        result.end = BulkEnd::max_runtime;
        return false;
    }
    first_ = false;
    return true;
}

void BulkPacer::finished(Clock::duration work, Clock::duration commit) {
    if (options_.batch_size > 0) return;
    using std::chrono::duration;
    const double n = static_cast<double>(batch_);
    const double c = duration<double>(commit).count();
    min_commit_ = seen_ == 0 ? c : std::min(min_commit_, c);
    // Older batches weigh less: how many rows a rowid range holds, and what
    // each costs, changes along the table.
    constexpr double kKeep = 0.9;
    for (double* sum : {&seen_, &sum_n_, &sum_c_, &sum_nn_, &sum_nc_}) *sum *= kKeep;
    seen_ += 1;
    sum_n_ += n;
    sum_c_ += c;
    sum_nn_ += n * n;
    sum_nc_ += n * c;

    const double fixed = fixed_commit_estimate();
    const double growing = std::max(duration<double>(work).count() + c - fixed, 1e-4);
    const double aim = 0.8 * duration<double>(target_batch_time_).count();
    const double budget = std::max(aim - fixed, fixed);
    double next = n * budget / growing;
    next = std::clamp(next, n / 2, n * 2);
    batch_ = std::clamp(static_cast<std::size_t>(next), kMinBatch, kMaxBatch);
}

double BulkPacer::fixed_commit_estimate() const {
    // The intercept of the least-squares line commit = fixed + rate * batch,
    // within [0, smallest commit seen]. Until batches of different sizes have
    // been seen there is no line: the commit is then taken as growing with
    // the batch, which errs towards smaller batches (shorter locks).
    const double spread = seen_ * sum_nn_ - sum_n_ * sum_n_;
    if (seen_ < 1.5 || spread <= 1e-9 * sum_nn_ * seen_) return 0;
    const double rate = (seen_ * sum_nc_ - sum_n_ * sum_c_) / spread;
    const double intercept = (sum_c_ - rate * sum_n_) / seen_;
    return std::clamp(intercept, 0.0, min_commit_);
}

void BulkPacer::pause() {
    constexpr std::chrono::milliseconds slice{50};
    auto left = sleep_time_;
    while (left.count() > 0) {
        if (options_.should_stop && options_.should_stop()) return;
        const auto step = std::min(left, slice);
        sleep_(step);
        left -= step;
    }
}

}  // namespace sessionctl
