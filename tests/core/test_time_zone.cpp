// TimeZone against Python's zoneinfo: make_naive (instant -> wall clock) and
// make_aware with fold=0 (wall clock -> instant), from this machine's zoneinfo
// files. Expected values: CPython 3.11 (tests/tools/time_zone_vectors.py and
// the literals below).

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "core/config.hpp"
#include "core/datetime.hpp"
#include "core/time_zone.hpp"

using namespace sessionctl;

namespace {

std::shared_ptr<const TimeZone> zone(const std::string& name) { return TimeZone::load(name, "TIME_ZONE"); }

std::int64_t micros(const char* iso) { return parse_isoformat(iso).wall_micros; }
std::string iso(std::int64_t micros) { return DateTime{micros, std::nullopt}.isoformat(); }

std::string to_wall(const std::string& name, const char* utc) { return iso(zone(name)->wall_from_unix(micros(utc))); }
std::string to_utc(const std::string& name, const char* wall) { return iso(zone(name)->unix_from_wall(micros(wall))); }

}  // namespace

TEST_CASE("TimeZone: the DST gap reads with the offset before it, as zoneinfo's fold=0", "[time_zone]") {
    // 02:30 does not exist on these days.
    CHECK(to_utc("America/New_York", "2024-03-10T02:30:00") == "2024-03-10T07:30:00");
    CHECK(to_utc("Europe/Paris", "2024-03-31T02:30:00") == "2024-03-31T01:30:00");
    // Just outside the gap.
    CHECK(to_utc("America/New_York", "2024-03-10T01:59:59.999999") == "2024-03-10T06:59:59.999999");
    CHECK(to_utc("America/New_York", "2024-03-10T03:00:00") == "2024-03-10T07:00:00");
}

TEST_CASE("TimeZone: the repeated hour reads as its first occurrence (fold=0)", "[time_zone]") {
    CHECK(to_utc("America/New_York", "2024-11-03T01:30:00") == "2024-11-03T05:30:00");
    CHECK(to_utc("Europe/Paris", "2024-10-27T02:30:00") == "2024-10-27T00:30:00");
    // Both instants of the repeated hour have the same wall clock.
    CHECK(to_wall("America/New_York", "2024-11-03T05:30:00") == "2024-11-03T01:30:00");
    CHECK(to_wall("America/New_York", "2024-11-03T06:30:00") == "2024-11-03T01:30:00");
    CHECK(to_wall("Europe/Paris", "2024-10-27T00:30:00") == "2024-10-27T02:30:00");
    CHECK(to_wall("Europe/Paris", "2024-10-27T01:30:00") == "2024-10-27T02:30:00");
    // Lord Howe's change is half an hour.
    CHECK(to_wall("Australia/Lord_Howe", "2024-04-06T14:45:00") == "2024-04-07T01:45:00");
    CHECK(to_wall("Australia/Lord_Howe", "2024-04-06T15:15:00") == "2024-04-07T01:45:00");
    CHECK(to_utc("Australia/Lord_Howe", "2024-04-07T01:45:00") == "2024-04-06T14:45:00");
    // Negative DST (Irish "winter time" is the DST of the file).
    CHECK(to_utc("Europe/Dublin", "2024-10-27T01:30:00") == "2024-10-27T00:30:00");
}

TEST_CASE("TimeZone: zones far from UTC and off the hour", "[time_zone]") {
    CHECK(to_utc("Pacific/Kiritimati", "2024-06-01T00:00:00") == "2024-05-31T10:00:00");
    CHECK(to_wall("Pacific/Kiritimati", "2024-12-31T11:00:00") == "2025-01-01T01:00:00");
    CHECK(to_utc("Asia/Kathmandu", "2024-06-01T00:00:00") == "2024-05-31T18:15:00");
    // Samoa skipped 2011-12-30 entirely.
    CHECK(to_utc("Pacific/Apia", "2011-12-30T12:00:00") == "2011-12-30T22:00:00");
    // Local mean time before the first rule: an offset in seconds.
    CHECK(to_utc("Europe/Paris", "1900-01-01T00:00:00") == "1899-12-31T23:50:39");
}

TEST_CASE("TimeZone: past the file's last transition, the TZ footer rule decides", "[time_zone]") {
    // 2060: first Sundays of November and second of March.
    CHECK(to_utc("America/New_York", "2060-11-07T01:30:00") == "2060-11-07T05:30:00");
    CHECK(to_wall("America/New_York", "2060-11-07T06:30:00") == "2060-11-07T01:30:00");
    CHECK(to_utc("America/New_York", "2060-03-14T02:30:00") == "2060-03-14T07:30:00");
    CHECK(to_wall("America/New_York", "2060-07-01T12:00:00") == "2060-07-01T08:00:00");
    CHECK(to_wall("America/New_York", "2060-01-01T12:00:00") == "2060-01-01T07:00:00");
}

TEST_CASE("TimeZone: Python zoneinfo's vectors (tests/data/time-zones/vectors.tsv)", "[time_zone]") {
    std::ifstream in(std::string(SESSIONCTL_TEST_DATA) + "/time-zones/vectors.tsv");
    REQUIRE(in.good());
    std::map<std::string, std::shared_ptr<const TimeZone>> zones;
    std::string line;
    std::size_t checked = 0, wrong = 0;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        std::string name, kind;
        std::int64_t input = 0, expected = 0;
        fields >> name >> kind >> input >> expected;
        REQUIRE(fields);
        auto& z = zones[name];
        if (!z) z = zone(name);
        const std::int64_t got = kind == "u2w" ? z->wall_from_unix(input) : z->unix_from_wall(input);
        ++checked;
        if (got != expected && ++wrong <= 10) {
            INFO(line << " -> " << got);
            CHECK(got == expected);
        }
    }
    CHECK(wrong == 0);
    CHECK(checked > 5000);
}

TEST_CASE("TimeZone: names ZoneInfo would refuse or not find are ConfigErrors", "[time_zone]") {
    CHECK_THROWS_WITH(zone("Mars/Olympus_Mons"),
                      Catch::Contains("TIME_ZONE 'Mars/Olympus_Mons' is not a time zone in"));
    for (const char* name :
         {"", "/usr/share/zoneinfo/UTC", "../zoneinfo/UTC", "Europe/../UTC", "Europe//Paris", "Europe", "zone.tab"})
        CHECK_THROWS_AS(zone(name), ConfigError);
    CHECK(zone("Etc/UTC")->utc_offset(0) == 0);
    CHECK_THROWS_AS(TimeZone::parse("x", "TZif2 short"), ConfigError);
    CHECK_THROWS_AS(TimeZone::parse("x", std::string(44, '\0')), ConfigError);
}

TEST_CASE("TimeZone: TZDIR chooses the zoneinfo root, as for USE_TZ=False", "[time_zone]") {
    const char* old = std::getenv("TZDIR");
    const std::string saved = old ? old : "";
    ::setenv("TZDIR", "/nonexistent-zoneinfo", 1);
    CHECK(zoneinfo_root() == "/nonexistent-zoneinfo");
    CHECK_THROWS_WITH(zone("Europe/Paris"), Catch::Contains("/nonexistent-zoneinfo"));
    if (old) ::setenv("TZDIR", saved.c_str(), 1);
    else ::unsetenv("TZDIR");
    CHECK(zone("Europe/Paris")->name() == "Europe/Paris");
}
