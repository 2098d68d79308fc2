#pragma once

// DATABASES["default"] for django.db.backends.postgresql -> libpq connection
// parameters, as Django's DatabaseWrapper.get_connection_params builds them,
// plus our one extension: "URL", a DATABASE_URL-style postgres:// URI (or a
// libpq conninfo string) that NAME, USER, PASSWORD, HOST, PORT and OPTIONS
// override key by key. No libpq here: pure settings handling.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "backends/postgres/pg_connection.hpp"
#include "backends/postgres/pg_table.hpp"

namespace sessionctl {

struct PgSettings {
    PgParams params;
    // The connection's TimeZone, as Django sets it: USE_TZ -> DATABASES
    // TIME_ZONE or "UTC"; otherwise settings.TIME_ZONE.
    std::string time_zone;
    // OPTIONS["options"] already sets these ("-c lock_timeout=..."): keep them.
    bool sets_lock_timeout = false;
    bool sets_statement_timeout = false;
};

// Whether this database is PostgreSQL: ENGINE django.db.backends.postgresql
// (or its aliases postgresql_psycopg2 and PostGIS), or no ENGINE and a
// postgres:// / postgresql:// URL.
[[nodiscard]] bool is_postgresql_database(const nlohmann::json& database);

// Throws ConfigError naming the key for a value of the wrong type, an empty
// NAME without OPTIONS["service"] or URL (Django's ImproperlyConfigured), or
// DATABASES TIME_ZONE with USE_TZ false.
[[nodiscard]] PgSettings pg_settings_from_django(const nlohmann::json& database, bool use_tz,
                                                 const std::string& time_zone);

// The db engine's table for a PostgreSQL DATABASES["default"]: settings as
// above, lock_timeout/statement_timeout ours unless OPTIONS["options"] sets them.
[[nodiscard]] std::unique_ptr<PgTable> open_pg_table_for(const nlohmann::json& database, bool use_tz,
                                                         const std::string& time_zone, bool read_only,
                                                         bool create_if_missing);

// A DSN with its password hidden: the userinfo of a URI, a "password" query
// parameter, or password=... in a conninfo string become ********.
[[nodiscard]] std::string redact_pg_dsn(std::string_view dsn);

}  // namespace sessionctl
