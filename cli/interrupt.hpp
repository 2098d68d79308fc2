#pragma once

// Ctrl-C during bulk work: the handler only sets a flag; loops check it, stop
// between items, report what was done and exit 130.

#include <memory>

namespace sessionctl::cli {

// True once SIGINT arrived while an InterruptGuard was installed.
[[nodiscard]] bool interrupted();

// Installs the SIGINT handler for its lifetime (and clears the flag); the
// previous handler is restored on destruction. No SA_RESTART: a blocked read
// of --stdin returns so the run can stop.
class InterruptGuard {
public:
    InterruptGuard();
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

private:
    struct Saved;
    std::unique_ptr<Saved> saved_;
};

}  // namespace sessionctl::cli
