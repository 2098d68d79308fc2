#pragma once

// An IANA time zone read from the system's zoneinfo (TZif) file, converting
// between UTC instants and the naive wall clock of that zone as Python's
// zoneinfo.ZoneInfo does: Django's make_naive (value.astimezone(zone)) and
// make_aware (value.replace(tzinfo=zone), fold=0) for DATABASES TIME_ZONE.
//
// It never touches the process's TZ (localtime() and USE_TZ=False's local
// time stay as they are) and needs no tz database in the C++ library (GCC
// 12's libstdc++ has no std::chrono::tzdb): the file's transitions, then its
// footer's POSIX TZ rule for instants after the last one.
//
// The wall clock around a change, as zoneinfo with fold=0:
//   a time in a gap (spring forward: 02:30 in America/New_York on
//   2024-03-10) is read with the offset before the change (EST: 07:30 UTC);
//   a time that occurs twice (fall back: 01:30 on 2024-11-03) is its first
//   occurrence (EDT: 05:30 UTC).
// Django 4.x and later read naive datetimes this way; Django 3.2 (pytz,
// is_dst=None) raises AmbiguousTimeError/NonExistentTimeError on them.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sessionctl {

class TimeZone {
public:
    // The zone `name` ("Europe/Paris", "UTC") from zoneinfo_root(). Throws
    // ConfigError "<setting> 'NAME' is not a time zone in ROOT" when the name
    // is not a relative path to a TZif file there (ZoneInfo's rules: no
    // absolute path, no "..").
    [[nodiscard]] static std::shared_ptr<const TimeZone> load(const std::string& name, std::string_view setting);
    // Parses TZif bytes; throws ConfigError naming `name` when they are not.
    [[nodiscard]] static std::shared_ptr<const TimeZone> parse(const std::string& name, std::string_view tzif);

    [[nodiscard]] const std::string& name() const { return name_; }
    // Seconds east of UTC at the instant `unix_seconds`.
    [[nodiscard]] std::int32_t utc_offset(std::int64_t unix_seconds) const;
    // make_naive: the zone's wall clock (microseconds since 1970-01-01 on it)
    // at an instant in Unix microseconds.
    [[nodiscard]] std::int64_t wall_from_unix(std::int64_t unix_micros) const;
    // make_aware with fold=0: the instant a wall clock time names (see above).
    [[nodiscard]] std::int64_t unix_from_wall(std::int64_t wall_micros) const;

    struct Type {
        std::int32_t utc_offset = 0;
        bool dst = false;
    };
    // A POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"): std all year unless
    // has_dst. Day rules: kind 'M' (month m, week w, weekday d), 'J' (1..365,
    // no Feb 29) or 'n' (0..365); `time` is seconds of local time (may be
    // negative or beyond a day).
    struct DayRule {
        char kind = 'M';
        int month = 0, week = 0, weekday = 0, day = 0;
        std::int32_t time = 7200;
    };
    struct Rule {
        Type std;
        Type dst;
        bool has_dst = false;
        DayRule start, end;
    };

private:
    // Wall-clock seconds of a rule's transitions in `year` (start in standard
    // time, end in daylight time, as POSIX says).
    [[nodiscard]] std::int64_t rule_epoch(const DayRule& rule, std::int64_t year) const;
    [[nodiscard]] Type after_last_from_utc(std::int64_t unix_seconds) const;
    [[nodiscard]] Type after_last_from_wall(std::int64_t wall_seconds) const;

    std::string name_;
    std::vector<std::int64_t> transitions_;  // UTC seconds, ascending
    std::vector<std::int64_t> wall_fold0_;   // each transition on the wall clock, fold=0
    std::vector<std::uint8_t> type_of_;      // type index after each transition
    std::vector<Type> types_;
    Type before_;  // before the first transition: the first standard type
    Rule rule_;    // after the last transition
    bool has_rule_ = false;
};

// $TZDIR when set and not empty, else /usr/share/zoneinfo (as apply_time_zone).
[[nodiscard]] std::string zoneinfo_root();

}  // namespace sessionctl
