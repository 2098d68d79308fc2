#pragma once

// Python's datetime as Django's session code uses it: naive or aware (fixed
// UTC offset), microsecond resolution, isoformat/fromisoformat, str(), and
// Django's parse_datetime for values read back from a database.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sessionctl {

struct DateTime {
    // Microseconds since 1970-01-01T00:00:00 on this value's own wall clock.
    std::int64_t wall_micros = 0;
    // Seconds east of UTC when aware; empty when naive.
    std::optional<std::int32_t> utc_offset;

    [[nodiscard]] bool aware() const { return utc_offset.has_value(); }
    // Only for aware values.
    [[nodiscard]] std::int64_t utc_micros() const { return wall_micros - std::int64_t(*utc_offset) * 1'000'000; }

    // An aware UTC value from Unix microseconds.
    [[nodiscard]] static DateTime from_unix_utc(std::int64_t micros) { return {micros, 0}; }
    // A naive local value from Unix microseconds, in the process time zone
    // (TZ), as Django's timezone.now() with USE_TZ=False.
    [[nodiscard]] static DateTime from_unix_local(std::int64_t micros);
    // timezone.now(): aware UTC when use_tz, naive local otherwise.
    [[nodiscard]] static DateTime now(std::int64_t unix_micros, bool use_tz) {
        return use_tz ? from_unix_utc(unix_micros) : from_unix_local(unix_micros);
    }

    [[nodiscard]] DateTime plus_micros(std::int64_t micros) const { return {wall_micros + micros, utc_offset}; }
    // Aware: the same instant in UTC. Naive: interpreted as local time (TZ).
    [[nodiscard]] std::int64_t to_unix_micros() const;

    // dt.isoformat(): "2023-11-14T22:13:30.750000+00:00"
    [[nodiscard]] std::string isoformat() const;
    // str(naive dt): "2023-11-14 22:13:30.750000" (fraction only when non-zero);
    // the text Django binds for SQLite. Ignores the offset.
    [[nodiscard]] std::string str_naive() const;

    friend bool operator==(const DateTime&, const DateTime&) = default;
};

class DateTimeError : public std::runtime_error {
public:
    DateTimeError(std::string python_class, const std::string& message)
        : std::runtime_error(message), python_class_(std::move(python_class)) {}
    [[nodiscard]] const std::string& python_class() const { return python_class_; }

private:
    std::string python_class_;
};

// a - b in microseconds; TypeError when one is naive and the other aware.
[[nodiscard]] std::int64_t subtract_micros(const DateTime& a, const DateTime& b);

// datetime.fromisoformat as in Python 3.11: "YYYY-MM-DD", optional separator
// (any one character) and "HH[:MM[:SS[.f{1,6}]]]", optional "Z" or
// "+HH:MM[:SS[.ffffff]]" offset; compact forms "YYYYMMDD" / "HHMMSS" too.
// Throws DateTimeError("ValueError", ...) otherwise.
[[nodiscard]] DateTime parse_isoformat(std::string_view text);

// django.utils.dateparse.parse_datetime; nullopt when it does not match.
[[nodiscard]] std::optional<DateTime> parse_django_datetime(std::string_view text);

// Days since 1970-01-01 of a proleptic Gregorian date, and back.
[[nodiscard]] std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);
struct CivilDate {
    std::int64_t year;
    unsigned month;
    unsigned day;
};
[[nodiscard]] CivilDate civil_from_days(std::int64_t days);
// 28..31: the days of a month (1..12) of a proleptic Gregorian year.
[[nodiscard]] int days_in_month(std::int64_t year, unsigned month);

// timedelta(seconds=x) in microseconds: Python rounds to the nearest
// microsecond, ties to even.
[[nodiscard]] std::int64_t seconds_to_micros(double seconds);

}  // namespace sessionctl
