#include "core/python_datetime.hpp"

#include <fmt/format.h>

#include "core/datetime.hpp"
#include "core/pickle_codec.hpp"
#include "util/integer.hpp"

namespace sessionctl {
namespace pickle {
namespace {

// "+HH:MM[:SS[.ffffff]]" as datetime formats a utcoffset.
std::string format_offset(std::int64_t off_us) {
    const char sign = off_us < 0 ? '-' : '+';
    const std::uint64_t a = off_us < 0 ? static_cast<std::uint64_t>(-off_us) : static_cast<std::uint64_t>(off_us);
    const std::uint64_t us = a % 1'000'000;
    const std::uint64_t secs = a / 1'000'000;
    std::string out = fmt::format("{}{:02d}:{:02d}", sign, secs / 3600, secs / 60 % 60);
    if (secs % 60 || us) out += fmt::format(":{:02d}", secs % 60);
    if (us) out += fmt::format(".{:06d}", us);
    return out;
}

}  // namespace

PyTimeDelta timedelta_from_micros(std::int64_t micros) {
    PyTimeDelta td;
    td.days = floor_div(micros, kMicrosPerDay);
    const std::int64_t rest = micros - td.days * kMicrosPerDay;
    td.seconds = static_cast<std::int32_t>(rest / kMicrosPerSecond);
    td.microseconds = static_cast<std::int32_t>(rest % kMicrosPerSecond);
    return td;
}

}  // namespace pickle

std::string python_str(const PyTimeDelta& td) {
    std::string out;
    if (td.days) out = fmt::format("{} day{}, ", td.days, td.days == 1 || td.days == -1 ? "" : "s");
    out += fmt::format("{}:{:02d}:{:02d}", td.seconds / 3600, td.seconds / 60 % 60, td.seconds % 60);
    if (td.microseconds) out += fmt::format(".{:06d}", td.microseconds);
    return out;
}

std::string python_tzname(const PyTzInfo& tz) {
    switch (tz.kind) {
        case PyTzInfo::Kind::fixed:
            if (tz.has_name) return tz.name;
            return tz.utcoffset_us == 0 ? "UTC" : "UTC" + pickle::format_offset(tz.utcoffset_us);
        case PyTzInfo::Kind::pytz_utc: return "UTC";
        case PyTzInfo::Kind::pytz_zone:
        case PyTzInfo::Kind::zoneinfo: return tz.key;
    }
    return "";
}

std::string python_isoformat(const PyDateTime& d) {
    std::string out;
    if (d.kind != PyDateTime::Kind::time) out = fmt::format("{:04d}-{:02d}-{:02d}", d.year, d.month, d.day);
    if (d.kind == PyDateTime::Kind::date) return out;
    if (d.kind == PyDateTime::Kind::datetime) out += 'T';
    out += fmt::format("{:02d}:{:02d}:{:02d}", d.hour, d.minute, d.second);
    if (d.microsecond) out += fmt::format(".{:06d}", d.microsecond);
    if (d.tzinfo) {
        const PyTzInfo& tz = *d.tzinfo;
        if (tz.kind == PyTzInfo::Kind::pytz_utc) out += "+00:00";
        else if (tz.has_utcoffset) out += pickle::format_offset(tz.utcoffset_us);
        else out += "[" + tz.key + "]";
    }
    return out;
}

std::optional<DateTime> to_core_datetime(const PyDateTime& d) {
    if (d.kind != PyDateTime::Kind::datetime) return std::nullopt;
    DateTime out;
    out.wall_micros =
        days_from_civil(d.year, d.month, d.day) * pickle::kMicrosPerDay +
        (std::int64_t{d.hour} * 3600 + std::int64_t{d.minute} * 60 + d.second) * pickle::kMicrosPerSecond +
        d.microsecond;
    if (d.tzinfo) {
        const PyTzInfo& tz = *d.tzinfo;
        std::int64_t off = 0;
        if (tz.kind != PyTzInfo::Kind::pytz_utc) {
            if (!tz.has_utcoffset) return std::nullopt;
            off = tz.utcoffset_us;
        }
        if (off % pickle::kMicrosPerSecond) return std::nullopt;
        out.utc_offset = static_cast<std::int32_t>(off / pickle::kMicrosPerSecond);
    }
    return out;
}

}  // namespace sessionctl
