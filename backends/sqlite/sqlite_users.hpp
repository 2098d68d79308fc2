#pragma once

// The user table (AUTH_USER_MODEL) in a SQLite database, opened read-only on
// its own connection (SQLITE_OPEN_READONLY: nothing can be written).

#include <memory>

#include <nlohmann/json.hpp>

#include "backends/users/user_source.hpp"

namespace sessionctl {

// DATABASES["default"] (django.db.backends.sqlite3) and the table's name.
// Errors: missing file -> StoreMissing; no such table, or one without a
// primary key or a password column -> StoreMissing naming AUTH_USER_MODEL and
// AUTH_USER_TABLE; locked -> StoreUnavailable.
[[nodiscard]] std::unique_ptr<UserSource> open_sqlite_users(const nlohmann::json& database, const std::string& table);

}  // namespace sessionctl
