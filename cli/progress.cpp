#include "cli/progress.hpp"

#include <ostream>

#include <fmt/format.h>

#include "cli/context.hpp"

namespace sessionctl::cli {

bool progress_wanted(bool stderr_is_tty, bool quiet, bool json) { return stderr_is_tty && !quiet && !json; }

std::string group_thousands(std::uint64_t n) {
    std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

namespace {

std::string short_duration(double seconds) {
    const auto s = static_cast<std::uint64_t>(seconds + 0.5);
    if (s < 60) return fmt::format("{}s", s);
    if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
    return fmt::format("{}h{:02}m", s / 3600, s / 60 % 60);
}

}  // namespace

Progress::Progress(std::ostream& err, bool enabled, std::string label, Now now)
    : err_(err), enabled_(enabled), label_(std::move(label)), now_(std::move(now)), started_(now_()) {}

Progress::Progress(Context& ctx, std::string label)
    : Progress(ctx.io().err, progress_wanted(ctx.io().err_is_tty, ctx.quiet(), ctx.json()), std::move(label)) {}

Progress::~Progress() { finish(); }

void Progress::update(std::uint64_t done, std::uint64_t total) {
    if (!enabled_) return;
    const auto t = now_();
    if (t - started_ < kDelay) return;
    if (drawn_width_ > 0 && t - last_draw_ < kRedraw) return;
    last_draw_ = t;
    const double elapsed = std::chrono::duration<double>(t - started_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    std::string line = fmt::format("{}  {}", label_, group_thousands(done));
    if (total > 0) {
        line += fmt::format(" / {}  {:3}%", group_thousands(total), done >= total ? 100 : done * 100 / total);
    }
    line += fmt::format("  {}/s", group_thousands(static_cast<std::uint64_t>(rate)));
    if (total > done && rate > 0) line += "  ETA " + short_duration(static_cast<double>(total - done) / rate);
    // Pad over the previous, longer line; \r returns to its start.
    const std::size_t width = line.size();
    if (width < drawn_width_) line.append(drawn_width_ - width, ' ');
    err_ << '\r' << line << std::flush;
    drawn_width_ = std::max(drawn_width_, width);
}

void Progress::finish() {
    if (drawn_width_ == 0) return;
    err_ << '\r' << std::string(drawn_width_, ' ') << '\r' << std::flush;
    drawn_width_ = 0;
}

}  // namespace sessionctl::cli
