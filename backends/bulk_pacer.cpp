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
    const double took = std::max(duration<double>(work).count(), 1e-4);
    const double fixed = duration<double>(commit).count();
    const double aim = 0.8 * duration<double>(target_batch_time_).count();
    const double budget = std::max(aim - fixed, fixed);
    double next = static_cast<double>(batch_) * budget / took;
    next = std::clamp(next, static_cast<double>(batch_) / 2, static_cast<double>(batch_) * 2);
    batch_ = std::clamp(static_cast<std::size_t>(next), kMinBatch, kMaxBatch);
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
