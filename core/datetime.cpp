#include "core/datetime.hpp"

#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "util/integer.hpp"

namespace sessionctl {
namespace {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

struct Fields {
    CivilDate date;
    int hour, minute, second, micro;
};

Fields split(std::int64_t wall_micros) {
    std::int64_t days = floor_div(wall_micros, kMicrosPerDay);
    std::int64_t rest = wall_micros - days * kMicrosPerDay;
    Fields f{civil_from_days(days), 0, 0, 0, 0};
    f.micro = int(rest % kMicrosPerSecond);
    std::int64_t secs = rest / kMicrosPerSecond;
    f.hour = int(secs / 3600);
    f.minute = int(secs / 60 % 60);
    f.second = int(secs % 60);
    return f;
}

std::string format_fields(const Fields& f, char sep) {
    std::string out = fmt::format("{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}", f.date.year, f.date.month, f.date.day, sep,
                                  f.hour, f.minute, f.second);
    if (f.micro != 0) out += fmt::format(".{:06}", f.micro);
    return out;
}

[[noreturn]] void invalid(std::string_view text) {
    throw DateTimeError("ValueError", fmt::format("Invalid isoformat string: '{}'", text));
}

bool all_digits(std::string_view s) {
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return !s.empty();
}

int to_int(std::string_view s) {
    int v = 0;
    for (char c : s) v = v * 10 + (c - '0');
    return v;
}

std::int64_t make_wall(std::int64_t y, int mo, int d, int h, int mi, int s, int us, std::string_view text) {
    if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1) invalid(text);
    if (d > days_in_month(y, unsigned(mo)) || h > 23 || mi > 59 || s > 59) invalid(text);
    return days_from_civil(y, unsigned(mo), unsigned(d)) * kMicrosPerDay +
           ((h * 3600 + mi * 60 + s) * kMicrosPerSecond) + us;
}

// "HH[:MM[:SS[.f+]]]" or compact "HH[MM[SS[.f+]]]" -> micros since midnight.
std::int64_t parse_time_of_day(std::string_view t, std::string_view whole) {
    int parts[3] = {0, 0, 0};
    int micro = 0;
    std::size_t pos = 0;
    bool colons = t.size() > 2 && t[2] == ':';
    for (int i = 0; i < 3; ++i) {
        if (t.size() - pos < 2 || !all_digits(t.substr(pos, 2))) invalid(whole);
        parts[i] = to_int(t.substr(pos, 2));
        pos += 2;
        if (pos == t.size()) break;
        if (i < 2 && colons) {
            if (t[pos] != ':') {
                if (i == 2 - 1 && (t[pos] == '.' || t[pos] == ',')) break;
                invalid(whole);
            }
            ++pos;
        } else if (t[pos] == '.' || t[pos] == ',') {
            break;
        }
    }
    if (pos < t.size()) {
        if (t[pos] != '.' && t[pos] != ',') invalid(whole);
        std::string_view frac = t.substr(pos + 1);
        if (!all_digits(frac)) invalid(whole);
        std::string six(frac.substr(0, 6));
        six.append(6 - six.size(), '0');  // more than six digits are truncated, as Python does
        micro = to_int(six);
    }
    if (parts[0] > 23 || parts[1] > 59 || parts[2] > 59) invalid(whole);
    return (parts[0] * 3600 + parts[1] * 60 + parts[2]) * kMicrosPerSecond + micro;
}

}  // namespace

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

CivilDate civil_from_days(std::int64_t z) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {y + (m <= 2), m, d};
}

int days_in_month(std::int64_t year, unsigned month) {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : kDays[month - 1];
}

std::int64_t seconds_to_micros(double seconds) {
    // CPython's timedelta(seconds=x) (delta_new/accum): the whole seconds are
    // scaled exactly; only the fraction goes through float arithmetic, and the
    // sub-microsecond leftover is rounded half to even against the exact total.
    // (nearbyint(x * 1e6) rounds the product first and is off by one microsecond
    // for about one value in six.)
    if (std::isnan(seconds)) throw DateTimeError("ValueError", "cannot convert float NaN to integer");
    if (!(std::fabs(seconds) < 9.0e12))  // beyond int64 microseconds (and timedelta's range)
        throw DateTimeError("OverflowError", "timedelta seconds out of range");
    double whole = 0;
    const double fraction = std::modf(seconds, &whole);
    std::int64_t micros = static_cast<std::int64_t>(whole) * kMicrosPerSecond;
    if (fraction == 0.0) return micros;
    double whole_us = 0;
    const double leftover = std::modf(1e6 * fraction, &whole_us);
    micros += static_cast<std::int64_t>(whole_us);
    double rounded = std::round(leftover);  // half away from zero, as C round()
    if (std::fabs(rounded - leftover) == 0.5) {
        const double odd = static_cast<double>(micros & 1);
        rounded = 2.0 * std::round((leftover + odd) * 0.5) - odd;
    }
    return micros + static_cast<std::int64_t>(rounded);
}

DateTime DateTime::from_unix_local(std::int64_t micros) {
    std::time_t secs = static_cast<std::time_t>(floor_div(micros, kMicrosPerSecond));
    std::tm tm{};
    localtime_r(&secs, &tm);
    return {micros + static_cast<std::int64_t>(tm.tm_gmtoff) * kMicrosPerSecond, std::nullopt};
}

std::int64_t DateTime::to_unix_micros() const {
    if (aware()) return utc_micros();
    Fields f = split(wall_micros);
    std::tm tm{};
    tm.tm_year = int(f.date.year) - 1900;
    tm.tm_mon = int(f.date.month) - 1;
    tm.tm_mday = int(f.date.day);
    tm.tm_hour = f.hour;
    tm.tm_min = f.minute;
    tm.tm_sec = f.second;
    tm.tm_isdst = -1;
    return static_cast<std::int64_t>(std::mktime(&tm)) * kMicrosPerSecond + f.micro;
}

std::string DateTime::isoformat() const {
    std::string out = format_fields(split(wall_micros), 'T');
    if (aware()) {
        std::int32_t off = *utc_offset;
        char sign = off < 0 ? '-' : '+';
        off = off < 0 ? -off : off;
        out += fmt::format("{}{:02}:{:02}", sign, off / 3600, off / 60 % 60);
        if (off % 60) out += fmt::format(":{:02}", off % 60);
    }
    return out;
}

std::string DateTime::str_naive() const { return format_fields(split(wall_micros), ' '); }

std::int64_t subtract_micros(const DateTime& a, const DateTime& b) {
    if (a.aware() != b.aware())
        throw DateTimeError("TypeError", "can't subtract offset-naive and offset-aware datetimes");
    if (a.aware()) return a.utc_micros() - b.utc_micros();
    return a.wall_micros - b.wall_micros;
}

DateTime parse_isoformat(std::string_view text) {
    std::size_t date_len;
    std::int64_t y;
    int mo, d;
    if (text.size() >= 10 && text[4] == '-') {
        if (text[7] != '-' || !all_digits(text.substr(0, 4)) || !all_digits(text.substr(5, 2)) ||
            !all_digits(text.substr(8, 2)))
            invalid(text);
        y = to_int(text.substr(0, 4));
        mo = to_int(text.substr(5, 2));
        d = to_int(text.substr(8, 2));
        date_len = 10;
    } else if (text.size() >= 8 && all_digits(text.substr(0, 8))) {
        y = to_int(text.substr(0, 4));
        mo = to_int(text.substr(4, 2));
        d = to_int(text.substr(6, 2));
        date_len = 8;
    } else {
        invalid(text);
    }
    DateTime result{make_wall(y, mo, d, 0, 0, 0, 0, text), std::nullopt};
    if (text.size() == date_len) return result;
    if (text.size() < date_len + 3) invalid(text);  // separator plus at least "HH"
    std::string_view time = text.substr(date_len + 1);

    auto tz_pos = time.find_first_of("+-Z");
    std::string_view clock = time.substr(0, tz_pos);
    result.wall_micros += parse_time_of_day(clock, text);
    if (tz_pos == std::string_view::npos) return result;

    std::string_view tz = time.substr(tz_pos);
    if (tz == "Z") {
        result.utc_offset = 0;
        return result;
    }
    int sign = tz[0] == '-' ? -1 : 1;
    std::int64_t off = parse_time_of_day(tz.substr(1), text);
    if (off % kMicrosPerSecond != 0 || off >= kMicrosPerDay) invalid(text);
    result.utc_offset = static_cast<std::int32_t>(sign * (off / kMicrosPerSecond));
    return result;
}

std::optional<DateTime> parse_django_datetime(std::string_view text) {
    try {
        return parse_isoformat(text);
    } catch (const DateTimeError&) {
    }
    // The regex fallback: "YYYY-M-D[T ]H:M[:S[.f]] [tz]".
    auto digits = [&](std::size_t& pos, std::size_t min, std::size_t max) -> std::optional<int> {
        std::size_t start = pos;
        while (pos < text.size() && pos - start < max && text[pos] >= '0' && text[pos] <= '9') ++pos;
        if (pos - start < min) return std::nullopt;
        return to_int(text.substr(start, pos - start));
    };
    auto expect = [&](std::size_t& pos, char c) { return pos < text.size() && text[pos] == c ? (++pos, true) : false; };
    std::size_t pos = 0;
    auto y = digits(pos, 4, 4);
    if (!y || !expect(pos, '-')) return std::nullopt;
    auto mo = digits(pos, 1, 2);
    if (!mo || !expect(pos, '-')) return std::nullopt;
    auto d = digits(pos, 1, 2);
    if (!d || pos >= text.size() || (text[pos] != 'T' && text[pos] != ' ')) return std::nullopt;
    ++pos;
    auto h = digits(pos, 1, 2);
    if (!h || !expect(pos, ':')) return std::nullopt;
    auto mi = digits(pos, 1, 2);
    if (!mi) return std::nullopt;
    int s = 0, us = 0;
    if (expect(pos, ':')) {
        auto sec = digits(pos, 1, 2);
        if (!sec) return std::nullopt;
        s = *sec;
        if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
            ++pos;
            std::size_t start = pos;
            auto frac = digits(pos, 1, 6);
            if (!frac) return std::nullopt;
            std::string six(text.substr(start, pos - start));
            six.append(6 - six.size(), '0');
            us = to_int(six);
            digits(pos, 0, 6);
        }
    }
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    std::optional<std::int32_t> offset;
    if (pos < text.size()) {
        if (text[pos] == 'Z') {
            offset = 0;
            ++pos;
        } else if (text[pos] == '+' || text[pos] == '-') {
            int sign = text[pos] == '-' ? -1 : 1;
            ++pos;
            auto oh = digits(pos, 2, 2);
            if (!oh) return std::nullopt;
            int om = 0;
            expect(pos, ':');
            if (pos < text.size()) {
                auto m = digits(pos, 2, 2);
                if (!m) return std::nullopt;
                om = *m;
            }
            offset = sign * (*oh * 3600 + om * 60);
        }
    }
    if (pos != text.size()) return std::nullopt;
    try {
        return DateTime{make_wall(*y, *mo, *d, *h, *mi, s, us, text), offset};
    } catch (const DateTimeError&) {
        return std::nullopt;
    }
}

}  // namespace sessionctl
