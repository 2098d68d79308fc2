#pragma once

// The exit codes scripts depend on (README.md, "Exit codes"), and the one
// exception a command throws to stop with a code and a message.

#include <stdexcept>
#include <string>

namespace sessionctl::cli {

enum class ExitCode : int {
    ok = 0,             // success, incl. nothing to clear, deleting a key already gone
    not_found = 1,      // a key asked for by name was not found, or nothing matched
    usage = 2,          // usage or configuration error (never CLI11's own codes)
    unavailable = 3,    // store unavailable, locked or timed out; --lock held elsewhere
    bad_data = 4,       // malformed blob, bad signature, unreadable record
    partial = 5,        // a bulk operation finished with some items failed or skipped
    interrupted = 130,  // SIGINT; completed work is kept and reported
    terminated = 143,   // SIGTERM; likewise (app.cpp maps interrupted to this after a SIGTERM)
};

[[nodiscard]] constexpr int to_int(ExitCode code) { return static_cast<int>(code); }

// Stops a command: app.cpp prints `sessionctl: error: <what()>` and exits with
// `code`. The message must never hold a secret.
class CliError : public std::runtime_error {
public:
    CliError(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    [[nodiscard]] ExitCode code() const { return code_; }

private:
    ExitCode code_;
};

// A usage problem found after parsing (a combination CLI11 cannot express).
class UsageError : public CliError {
public:
    explicit UsageError(const std::string& message) : CliError(ExitCode::usage, message) {}
};

}  // namespace sessionctl::cli
