#include "backends/sql/db_time_zone.hpp"

#include <fmt/format.h>

#include "core/config.hpp"

namespace sessionctl {

std::shared_ptr<const TimeZone> database_time_zone(const nlohmann::json& database, bool use_tz) {
    constexpr std::string_view kSetting = R"(DATABASES["default"]["TIME_ZONE"])";
    if (!database.is_object() || !database.contains("TIME_ZONE")) return nullptr;
    const nlohmann::json& value = database["TIME_ZONE"];
    if (value.is_null()) return nullptr;
    if (!value.is_string()) throw ConfigError(fmt::format("{} must be a string or null", kSetting));
    if (!use_tz)
        throw ConfigError(
            "Connection 'default' cannot set TIME_ZONE because USE_TZ is False (as Django's ImproperlyConfigured)");
    const std::string name = value.get<std::string>();
    // zoneinfo's UTC is Django's default: naive UTC, no file needed.
    if (name == "UTC") return nullptr;
    return TimeZone::load(name, kSetting);
}

}  // namespace sessionctl
