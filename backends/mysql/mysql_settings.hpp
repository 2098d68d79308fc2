#pragma once

// DATABASES["default"] for django.db.backends.mysql -> the connection
// MySQLdb opens, as Django's DatabaseWrapper.get_connection_params() builds
// it: NAME, USER, PASSWORD, HOST (a path starting with "/" is a unix socket),
// PORT, then OPTIONS on top (MySQLdb.connect's keyword arguments: option
// files, unix_socket, ssl, ssl_mode, charset, init_command, ...), with
// isolation_level taken out and checked as Django checks it. An option
// MySQLdb does not take is a ConfigError naming it. No libmariadb here.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "backends/mysql/mysql_connection.hpp"
#include "backends/mysql/mysql_table.hpp"

namespace sessionctl {

struct MysqlSettings {
    MysqlParams params;
    // OPTIONS["isolation_level"]; Django's default is "read committed".
    std::string isolation_level = "read committed";
    // init_command sets these itself: keep what it says.
    bool sets_lock_wait_timeout = false;
    bool sets_statement_timeout = false;
    // DATABASES TIME_ZONE (null: UTC): see MysqlOptions::zone.
    std::shared_ptr<const TimeZone> zone;
};

// ENGINE django.db.backends.mysql (or GeoDjango's mysql backend).
[[nodiscard]] bool is_mysql_database(const nlohmann::json& database);

// Throws ConfigError naming the key for a value of the wrong type, an unknown
// OPTIONS key, an isolation level Django rejects, DATABASES TIME_ZONE with
// USE_TZ false (Django's ImproperlyConfigured) or naming no known zone.
[[nodiscard]] MysqlSettings mysql_settings_from_django(const nlohmann::json& database, bool use_tz);

// The db engine's table for a MySQL DATABASES["default"].
[[nodiscard]] std::unique_ptr<MysqlTable> open_mysql_table_for(const nlohmann::json& database, bool use_tz,
                                                               bool read_only, bool create_if_missing);

}  // namespace sessionctl
