#pragma once

// DATABASES["default"]["TIME_ZONE"] of a database without time zone support
// (SQLite, MySQL/MariaDB), read as Django's BaseDatabaseWrapper reads it:
// with USE_TZ, expire_date is stored, compared and read back as that zone's
// wall clock (make_naive / make_aware); without USE_TZ it may not be set
// (check_settings' ImproperlyConfigured). PostgreSQL makes it the
// connection's TimeZone instead (pg_dsn.cpp).

#include <memory>

#include <nlohmann/json.hpp>

#include "core/time_zone.hpp"

namespace sessionctl {

// The zone, or null for UTC (unset, null or "UTC": naive UTC, Django's
// default). Throws ConfigError for a value that is no string, for any zone
// with USE_TZ false, and for a zone the zoneinfo files do not know.
[[nodiscard]] std::shared_ptr<const TimeZone> database_time_zone(const nlohmann::json& database, bool use_tz);

}  // namespace sessionctl
