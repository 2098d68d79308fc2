#pragma once

// A progress line for long work: "clearsessions  120,000 / 600,000  20%
// 48,000/s  ETA 10s", redrawn in place on stderr. Shown only when stderr is a
// terminal, the run is neither -q nor --json, and the work has taken over a
// second; cleared when done, so the terminal keeps only the real output.
// Never anything on a pipe, in cron, or in a file.

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace sessionctl::cli {

class Context;

// The one decision, kept apart so it can be tested: a bar only on a terminal
// stderr, and never with -q or --json.
[[nodiscard]] bool progress_wanted(bool stderr_is_tty, bool quiet, bool json);

class Progress {
public:
    using Clock = std::chrono::steady_clock;
    using Now = std::function<Clock::time_point()>;

    // enabled false: every call is a no-op. `label` names the work.
    Progress(std::ostream& err, bool enabled, std::string label, Now now = Clock::now);
    // For ctx: enabled when progress_wanted(ctx.io().err_is_tty, -q, --json).
    Progress(Context& ctx, std::string label);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // `done` items so far, of `total` (0: unknown, no percentage or ETA).
    // Cheap when called often: draws at most every kRedraw, and only once
    // kDelay has passed since construction. Thread-compatible, not safe.
    void update(std::uint64_t done, std::uint64_t total = 0);
    // Erases the line if one was drawn (also done by the destructor).
    void finish();
    // Whether a line may ever be drawn (callers skip work done only for it).
    [[nodiscard]] bool enabled() const { return enabled_; }

    static constexpr std::chrono::milliseconds kDelay{1000};
    static constexpr std::chrono::milliseconds kRedraw{200};

private:
    std::ostream& err_;
    bool enabled_;
    std::string label_;
    Now now_;
    Clock::time_point started_;
    Clock::time_point last_draw_{};
    std::size_t drawn_width_ = 0;
};

// "12,345" (thousands separated, for the progress line).
[[nodiscard]] std::string group_thousands(std::uint64_t n);

}  // namespace sessionctl::cli
