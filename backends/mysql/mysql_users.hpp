#pragma once

// The user table (AUTH_USER_MODEL) in MySQL or MariaDB, on its own connection
// in a read-only session (SET SESSION TRANSACTION READ ONLY): nothing can be
// written.

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "backends/users/user_source.hpp"

namespace sessionctl {

// DATABASES["default"] (django.db.backends.mysql), connected as the session
// table is (backends/mysql/mysql_settings.hpp). Errors: server down ->
// StoreUnavailable; no such table -> StoreMissing naming AUTH_USER_MODEL and
// AUTH_USER_TABLE; no one-column primary key or no password column ->
// StoreError.
[[nodiscard]] std::unique_ptr<UserSource> open_mysql_users(const nlohmann::json& database, bool use_tz,
                                                           const std::string& table);

}  // namespace sessionctl
