#include "core/time_zone.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/datetime.hpp"

namespace sessionctl {
namespace {

constexpr std::int64_t kMicros = 1'000'000;

// Floor division: instants before 1970 round down, as Python's do.
std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

class Reader {
public:
    explicit Reader(std::string_view bytes) : bytes_(bytes) {}
    bool has(std::size_t n) const { return bytes_.size() - pos_ >= n; }
    std::int64_t be(std::size_t n) {  // signed big-endian integer of n bytes
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(bytes_[pos_ + i]);
        pos_ += n;
        if (n < 8 && (v >> (n * 8 - 1)) != 0) v |= ~std::uint64_t{0} << (n * 8);
        return static_cast<std::int64_t>(v);
    }
    std::uint8_t byte() { return static_cast<std::uint8_t>(bytes_[pos_++]); }
    void skip(std::size_t n) { pos_ += n; }
    std::string_view rest() const { return bytes_.substr(pos_); }

private:
    std::string_view bytes_;
    std::size_t pos_ = 0;
};

// The POSIX TZ rule of a TZif footer (RFC 8536 section 3.3). False when it
// is not one.
class RuleParser {
public:
    explicit RuleParser(std::string_view text) : s_(text) {}

    bool parse(TimeZone::Rule& rule) {
        if (!name() || !offset(rule.std.utc_offset, true)) return false;
        rule.std.dst = false;
        if (done()) return true;
        if (!name()) return false;
        rule.has_dst = true;
        rule.dst.dst = true;
        rule.dst.utc_offset = rule.std.utc_offset + 3600;
        if (!done() && s_[i_] != ',' && !offset(rule.dst.utc_offset, true)) return false;
        if (done() || s_[i_] != ',') return false;  // a footer always states its rules
        ++i_;
        if (!day_rule(rule.start) || done() || s_[i_] != ',') return false;
        ++i_;
        return day_rule(rule.end) && done();
    }

private:
    bool done() const { return i_ >= s_.size(); }
    bool name() {
        if (!done() && s_[i_] == '<') {
            const auto close = s_.find('>', i_);
            if (close == std::string_view::npos || close - i_ < 2) return false;
            i_ = close + 1;
            return true;
        }
        const std::size_t from = i_;
        while (!done() && ((s_[i_] >= 'A' && s_[i_] <= 'Z') || (s_[i_] >= 'a' && s_[i_] <= 'z'))) ++i_;
        return i_ - from >= 3;
    }
    bool number(int& out, int max_digits) {
        int digits = 0;
        out = 0;
        while (!done() && s_[i_] >= '0' && s_[i_] <= '9' && digits < max_digits) {
            out = out * 10 + (s_[i_++] - '0');
            ++digits;
        }
        return digits > 0;
    }
    // [+-]hh[:mm[:ss]]; a UTC offset is its negation (POSIX counts west).
    bool signed_time(std::int32_t& seconds) {
        int sign = 1;
        if (!done() && (s_[i_] == '+' || s_[i_] == '-')) sign = s_[i_++] == '-' ? -1 : 1;
        int h = 0, m = 0, sec = 0;
        if (!number(h, 3)) return false;
        if (!done() && s_[i_] == ':') {
            ++i_;
            if (!number(m, 2)) return false;
            if (!done() && s_[i_] == ':') {
                ++i_;
                if (!number(sec, 2)) return false;
            }
        }
        seconds = sign * (h * 3600 + m * 60 + sec);
        return true;
    }
    bool offset(std::int32_t& utc_offset, bool negate) {
        std::int32_t t = 0;
        if (!signed_time(t)) return false;
        utc_offset = negate ? -t : t;
        return true;
    }
    bool day_rule(TimeZone::DayRule& rule) {
        if (done()) return false;
        if (s_[i_] == 'M') {
            ++i_;
            rule.kind = 'M';
            if (!number(rule.month, 2) || done() || s_[i_++] != '.' || !number(rule.week, 1) || done() ||
                s_[i_++] != '.' || !number(rule.weekday, 1))
                return false;
            if (rule.month < 1 || rule.month > 12 || rule.week < 1 || rule.week > 5 || rule.weekday > 6) return false;
        } else if (s_[i_] == 'J') {
            ++i_;
            rule.kind = 'J';
            if (!number(rule.day, 3) || rule.day < 1 || rule.day > 365) return false;
        } else {
            rule.kind = 'n';
            if (!number(rule.day, 3) || rule.day > 365) return false;
        }
        rule.time = 7200;
        if (!done() && s_[i_] == '/') {
            ++i_;
            return signed_time(rule.time);
        }
        return true;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

[[noreturn]] void not_a_zone(const std::string& name, std::string_view why) {
    throw ConfigError(fmt::format("time zone '{}': {}", name, why));
}

}  // namespace

std::string zoneinfo_root() {
    const char* tzdir = std::getenv("TZDIR");
    return tzdir && *tzdir ? tzdir : "/usr/share/zoneinfo";
}

std::shared_ptr<const TimeZone> TimeZone::load(const std::string& name, std::string_view setting) {
    const std::string root = zoneinfo_root();
    auto unknown = [&] { return ConfigError(fmt::format("{} '{}' is not a time zone in {}", setting, name, root)); };
    // ZoneInfo refuses absolute paths and any path that leaves the root.
    if (name.empty() || name.front() == '/' || name.find('\0') != std::string::npos) throw unknown();
    std::size_t start = 0;
    while (start <= name.size()) {
        const std::size_t slash = std::min(name.find('/', start), name.size());
        const std::string_view part(name.data() + start, slash - start);
        if (part.empty() || part == "." || part == "..") throw unknown();
        start = slash + 1;
    }
    const std::string path = root + "/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) throw unknown();
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) throw unknown();
    if (bytes.compare(0, 4, "TZif") != 0) throw unknown();
    try {
        return parse(name, bytes);
    } catch (const ConfigError& e) {
        throw ConfigError(fmt::format("{}: {} ({})", setting, e.what(), path));
    }
}

std::shared_ptr<const TimeZone> TimeZone::parse(const std::string& name, std::string_view tzif) {
    Reader r(tzif);
    auto header = [&](std::int64_t counts[6]) -> char {
        if (!r.has(44)) not_a_zone(name, "truncated TZif header");
        if (r.rest().substr(0, 4) != "TZif") not_a_zone(name, "not a TZif file");
        r.skip(4);
        const char version = static_cast<char>(r.byte());
        r.skip(15);
        for (int i = 0; i < 6; ++i) counts[i] = r.be(4);
        for (int i = 0; i < 6; ++i)
            if (counts[i] < 0 || counts[i] > 100000) not_a_zone(name, "bad TZif counts");
        return version;
    };
    // counts: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
    auto block_size = [](const std::int64_t c[6], std::size_t time_size) {
        return std::size_t(c[3]) * time_size + std::size_t(c[3]) + std::size_t(c[4]) * 6 + std::size_t(c[5]) +
               std::size_t(c[2]) * (time_size + 4) + std::size_t(c[1]) + std::size_t(c[0]);
    };
    std::int64_t counts[6];
    const char version = header(counts);
    std::size_t time_size = 4;
    if (version >= '2') {  // skip the 32-bit block: the 64-bit one follows
        if (!r.has(block_size(counts, 4))) not_a_zone(name, "truncated TZif data");
        r.skip(block_size(counts, 4));
        (void)header(counts);
        time_size = 8;
    }
    if (!r.has(block_size(counts, time_size)) || counts[4] == 0) not_a_zone(name, "truncated TZif data");
    auto zone = std::make_shared<TimeZone>();
    zone->name_ = name;
    for (std::int64_t i = 0; i < counts[3]; ++i) zone->transitions_.push_back(r.be(time_size));
    for (std::int64_t i = 0; i < counts[3]; ++i) {
        zone->type_of_.push_back(r.byte());
        if (zone->type_of_.back() >= counts[4]) not_a_zone(name, "bad TZif type index");
    }
    for (std::int64_t i = 0; i < counts[4]; ++i) {
        Type t;
        t.utc_offset = static_cast<std::int32_t>(r.be(4));
        t.dst = r.byte() != 0;
        r.skip(1);  // abbreviation index
        zone->types_.push_back(t);
    }
    r.skip(std::size_t(counts[5]) + std::size_t(counts[2]) * (time_size + 4) + std::size_t(counts[1]) +
           std::size_t(counts[0]));
    if (!std::is_sorted(zone->transitions_.begin(), zone->transitions_.end()))
        not_a_zone(name, "TZif transitions out of order");
    // zoneinfo: before the first transition, the first standard-time type.
    zone->before_ = zone->types_.front();
    for (const Type& t : zone->types_)
        if (!t.dst) {
            zone->before_ = t;
            break;
        }
    // fold=0 puts each change on the wall clock at the later of the two
    // readings (ZoneInfo._ts_to_local): a gap reads with the old offset, a
    // repeated hour as its first occurrence.
    for (std::size_t i = 0; i < zone->transitions_.size(); ++i) {
        const std::int32_t after = zone->types_[zone->type_of_[i]].utc_offset;
        const std::int32_t before =
            i == 0 ? zone->types_.front().utc_offset : zone->types_[zone->type_of_[i - 1]].utc_offset;
        zone->wall_fold0_.push_back(zone->transitions_[i] + std::max(before, after));
    }
    if (version >= '2') {
        const std::string_view rest = r.rest();
        if (rest.size() >= 2 && rest.front() == '\n') {
            const auto end = rest.find('\n', 1);
            const std::string_view footer = rest.substr(1, end == std::string_view::npos ? 0 : end - 1);
            if (!footer.empty()) {
                if (!RuleParser(footer).parse(zone->rule_)) not_a_zone(name, "bad TZ rule in the TZif footer");
                zone->has_rule_ = true;
            }
        }
    }
    return zone;
}

std::int64_t TimeZone::rule_epoch(const DayRule& rule, std::int64_t year) const {
    std::int64_t days = 0;
    if (rule.kind == 'M') {
        const std::int64_t first = days_from_civil(year, static_cast<unsigned>(rule.month), 1);
        const int first_weekday = static_cast<int>(((first % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
        int day = (rule.weekday - first_weekday + 7) % 7 + 1 + (rule.week - 1) * 7;
        if (day > days_in_month(year, static_cast<unsigned>(rule.month))) day -= 7;
        days = first + day - 1;
    } else if (rule.kind == 'J') {
        days = days_from_civil(year, 1, 1) + rule.day - 1 + (is_leap(year) && rule.day >= 60 ? 1 : 0);
    } else {
        days = days_from_civil(year, 1, 1) + rule.day;
    }
    return days * 86400 + rule.time;
}

// zoneinfo's _TZStr.get_trans_info_fromutc, with the year of the UTC time.
TimeZone::Type TimeZone::after_last_from_utc(std::int64_t unix_seconds) const {
    if (!rule_.has_dst) return rule_.std;
    const std::int64_t year = civil_from_days(floor_div(unix_seconds, 86400)).year;
    const std::int64_t start = rule_epoch(rule_.start, year) - rule_.std.utc_offset;
    const std::int64_t end = rule_epoch(rule_.end, year) - rule_.dst.utc_offset;
    const bool dst =
        start < end ? (start <= unix_seconds && unix_seconds < end) : !(end <= unix_seconds && unix_seconds < start);
    return dst ? rule_.dst : rule_.std;
}

// zoneinfo's _TZStr.get_trans_info with fold=0, with the year of the wall time.
TimeZone::Type TimeZone::after_last_from_wall(std::int64_t wall_seconds) const {
    if (!rule_.has_dst) return rule_.std;
    const std::int64_t year = civil_from_days(floor_div(wall_seconds, 86400)).year;
    std::int64_t start = rule_epoch(rule_.start, year);
    std::int64_t end = rule_epoch(rule_.end, year);
    const std::int64_t dst_diff = std::int64_t(rule_.dst.utc_offset) - rule_.std.utc_offset;
    if (dst_diff < 0) end -= dst_diff;  // fold == (dst_diff >= 0) with fold=0
    else start += dst_diff;
    const bool dst =
        start < end ? (start <= wall_seconds && wall_seconds < end) : !(end <= wall_seconds && wall_seconds < start);
    return dst ? rule_.dst : rule_.std;
}

std::int32_t TimeZone::utc_offset(std::int64_t unix_seconds) const {
    if (transitions_.empty() || unix_seconds > transitions_.back()) {
        if (has_rule_) return after_last_from_utc(unix_seconds).utc_offset;
        if (transitions_.empty()) return types_.front().utc_offset;
    }
    if (unix_seconds < transitions_.front()) return before_.utc_offset;
    const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), unix_seconds);
    return types_[type_of_[static_cast<std::size_t>(it - transitions_.begin()) - 1]].utc_offset;
}

std::int64_t TimeZone::wall_from_unix(std::int64_t unix_micros) const {
    return unix_micros + std::int64_t(utc_offset(floor_div(unix_micros, kMicros))) * kMicros;
}

std::int64_t TimeZone::unix_from_wall(std::int64_t wall_micros) const {
    // zoneinfo compares whole seconds of the wall clock (its local timestamp).
    const std::int64_t wall = floor_div(wall_micros, kMicros);
    std::int32_t offset = 0;
    if (transitions_.empty() || wall > wall_fold0_.back()) {
        offset = has_rule_ ? after_last_from_wall(wall).utc_offset
                           : (transitions_.empty() ? types_.front().utc_offset : types_[type_of_.back()].utc_offset);
    } else if (wall < wall_fold0_.front()) {
        offset = before_.utc_offset;
    } else {
        const auto it = std::upper_bound(wall_fold0_.begin(), wall_fold0_.end(), wall);
        offset = types_[type_of_[static_cast<std::size_t>(it - wall_fold0_.begin()) - 1]].utc_offset;
    }
    return wall_micros - std::int64_t(offset) * kMicros;
}

}  // namespace sessionctl
