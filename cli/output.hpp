#pragma once

// Where a run prints, and the small formatting helpers every command shares:
// diagnostics, terminal-safe text, times and durations for humans.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

#include "util/text.hpp"

namespace sessionctl::cli {

// The streams of one run; tests pass string streams.
struct Io {
    std::istream& in;
    std::ostream& out;
    std::ostream& err;
    bool in_is_tty = false;
    bool out_is_tty = false;
    bool err_is_tty = false;
};

[[nodiscard]] bool fd_is_tty(int fd);

// "sessionctl: error: <message>" / "sessionctl: warning: <message>", one line.
void print_error(std::ostream& err, std::string_view message);
void print_warning(std::ostream& err, std::string_view message);

// Text from outside (a key read from a store, user input) made safe to show
// on a terminal: control characters, DEL, C1 controls and bytes that are not
// UTF-8 become \n, \t, \xNN or \u00NN; longer text is cut at max_bytes and "...".
[[nodiscard]] std::string printable(std::string_view text, std::size_t max_bytes = 200);

// "1 second", "5 minutes", "2 hours", "13 days", "3 years" (rounded down).
[[nodiscard]] std::string human_duration(std::int64_t seconds);
// "in 13 days", "2 hours ago", "now".
[[nodiscard]] std::string relative_time(std::int64_t seconds_from_now);

// "2023-11-28 22:13:20 UTC" (whole seconds).
[[nodiscard]] std::string utc_text(std::int64_t unix_micros);
// "2023-11-28T22:13:20.750000+00:00", as Python's isoformat() of an aware UTC datetime.
[[nodiscard]] std::string utc_iso(std::int64_t unix_micros);

// "1 session", "3 sessions" (util/text.hpp; every layer words counts alike).
using sessionctl::count_of;

}  // namespace sessionctl::cli
