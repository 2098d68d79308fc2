#pragma once

// Ctrl-C (or a SIGTERM from kill, systemd or a cron timeout) during bulk
// work: the handler only sets a flag; loops check it, stop between items,
// report what was done and exit 130 (SIGINT) or 143 (SIGTERM), as a shell
// reports a process those signals ended.

#include <memory>

#include "cli/exit_codes.hpp"

namespace sessionctl::cli {

// True once SIGINT or SIGTERM arrived while an InterruptGuard was installed.
[[nodiscard]] bool interrupted();

// The exit code for the signal that interrupted the run: ExitCode::terminated
// after SIGTERM, else ExitCode::interrupted.
[[nodiscard]] ExitCode interrupted_exit_code();

// Installs the SIGINT and SIGTERM handlers for its lifetime (and clears the
// flag); the previous handlers are restored on destruction. No SA_RESTART: a
// blocked read of --stdin returns so the run can stop.
class InterruptGuard {
public:
    InterruptGuard();
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

private:
    struct Saved;
    std::unique_ptr<Saved> saved_;  // SIGINT's and SIGTERM's previous handlers
};

}  // namespace sessionctl::cli
