#pragma once

// The whole command line: global flags, the subcommands, parsing (CLI11, in a
// try: its own exit codes never leak), and the one place where exceptions
// become `sessionctl: error: ...` and a documented exit code. An error about
// the command line names options, never a value (one may be a secret typed in
// the wrong place); --secret-key and --secret are refused by name, exit 2.

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace sessionctl::cli {

// What a test can vary beyond the streams.
struct RunHooks {
    std::shared_ptr<const Clock> clock;  // nullptr: the system clock
    bool in_is_tty = false;
    bool out_is_tty = false;
    bool err_is_tty = false;
    // See Context::RaceHook.
    std::function<void(std::string_view point, std::string_view key)> race_hook;
};

// The process entry point: standard streams, real terminals, SIGINT handled.
int run(int argc, char** argv);
// The same, on the given streams (tests capture output this way).
int run(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err);
int run(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err, const RunHooks& hooks);

// `sessionctl --version`: "sessionctl X.Y.Z", then one line per engine in the
// registry saying whether this build has it.
[[nodiscard]] std::string version_text();

}  // namespace sessionctl::cli
