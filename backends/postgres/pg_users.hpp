#pragma once

// The user table (AUTH_USER_MODEL) in PostgreSQL, on its own connection in a
// read-only session (default_transaction_read_only): nothing can be written.

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "backends/users/user_source.hpp"

namespace sessionctl {

// DATABASES["default"] (django.db.backends.postgresql), as the session table
// is opened (backends/postgres/pg_dsn.hpp). Errors: server down ->
// StoreUnavailable; no such table -> StoreMissing naming AUTH_USER_MODEL and
// AUTH_USER_TABLE; no primary key or password column -> StoreError.
[[nodiscard]] std::unique_ptr<UserSource> open_pg_users(const nlohmann::json& database, bool use_tz,
                                                        const std::string& time_zone, const std::string& table);

}  // namespace sessionctl
