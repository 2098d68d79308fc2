#include "cli/output.hpp"

#include <unistd.h>

#include <ostream>

#include <fmt/format.h>

#include "core/datetime.hpp"

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

// Length of the valid UTF-8 sequence at text[i], or 0.
std::size_t utf8_length(std::string_view text, std::size_t i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char c = byte(i);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
    else return 0;
    if (i + n > text.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return n;
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
        if (c == '\n') { out += "\\n"; ++i; continue; }
        if (c == '\t') { out += "\\t"; ++i; continue; }
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

std::string count_of(std::uint64_t n, std::string_view noun) {
    return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
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

namespace {
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0)) --q;
    return q;
}
}  // namespace

std::string utc_text(std::int64_t unix_micros) {
    std::int64_t secs = floor_div(unix_micros, 1'000'000);
    std::int64_t days = floor_div(secs, 86400);
    std::int64_t rest = secs - days * 86400;
    CivilDate d = civil_from_days(days);
    return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", d.year, d.month, d.day, rest / 3600,
                       rest / 60 % 60, rest % 60);
}

std::string utc_iso(std::int64_t unix_micros) { return DateTime::from_unix_utc(unix_micros).isoformat(); }

}  // namespace sessionctl::cli
