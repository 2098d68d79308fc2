#include "cli/output.hpp"

#include <unistd.h>

#include <ostream>

#include <fmt/format.h>

#include "core/datetime.hpp"
#include "util/integer.hpp"
#include "util/utf8.hpp"

namespace sessionctl::cli {

bool fd_is_tty(int fd) { return ::isatty(fd) == 1; }

void print_error(std::ostream& err, std::string_view message) {
    err << "sessionctl: error: " << message << '\n';
    err.flush();
}

void print_warning(std::ostream& err, std::string_view message) {
    err << "sessionctl: warning: " << message << '\n';
    err.flush();
}

namespace {

// Length of the valid UTF-8 sequence at text[i], or 0. Strict: a lone
// surrogate (which a session's text may hold) is shown as escaped bytes, not
// handed to the terminal.
std::size_t utf8_length(std::string_view text, std::size_t i) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    if (p[i] < 0x80) return 1;
    std::uint32_t cp = 0;
    return utf8_sequence_strict(p + i, p + text.size(), cp);
}

}  // namespace

std::string printable(std::string_view text, std::size_t max_bytes) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (out.size() >= max_bytes) {
            out += "...";
            break;
        }
        auto c = static_cast<unsigned char>(text[i]);
        if (c == '\n') {
            out += "\\n";
            ++i;
            continue;
        }
        if (c == '\t') {
            out += "\\t";
            ++i;
            continue;
        }
        if (c < 0x20 || c == 0x7F) {
            out += fmt::format("\\x{:02x}", c);
            ++i;
            continue;
        }
        std::size_t n = utf8_length(text, i);
        if (n == 0) {
            out += fmt::format("\\x{:02x}", c);
            ++i;
            continue;
        }
        // C1 controls (U+0080..U+009F) start escape sequences on some terminals.
        if (n == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0) {
            out += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[i + 1]));
            i += 2;
            continue;
        }
        out.append(text.substr(i, n));
        i += n;
    }
    return out;
}

std::string human_duration(std::int64_t seconds) {
    std::uint64_t s = seconds < 0 ? 0 - static_cast<std::uint64_t>(seconds) : static_cast<std::uint64_t>(seconds);
    if (s < 60) return count_of(s, "second");
    if (s < 3600) return count_of(s / 60, "minute");
    if (s < 86400) return count_of(s / 3600, "hour");
    if (s < 365 * 86400ULL) return count_of(s / 86400, "day");
    return count_of(s / (365 * 86400ULL), "year");
}

std::string relative_time(std::int64_t seconds_from_now) {
    if (seconds_from_now == 0) return "now";
    if (seconds_from_now > 0) return "in " + human_duration(seconds_from_now);
    return human_duration(seconds_from_now) + " ago";
}

std::string utc_text(std::int64_t unix_micros) {
    std::int64_t secs = floor_div(unix_micros, 1'000'000);
    std::int64_t days = floor_div(secs, 86400);
    std::int64_t rest = secs - days * 86400;
    CivilDate d = civil_from_days(days);
    return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", d.year, d.month, d.day, rest / 3600, rest / 60 % 60,
                       rest % 60);
}

std::string utc_iso(std::int64_t unix_micros) { return DateTime::from_unix_utc(unix_micros).isoformat(); }

}  // namespace sessionctl::cli
