#pragma once

// Django's user table (AUTH_USER_MODEL), read-only: what django.contrib.auth's
// get_user() looks at when it accepts a session's login — the primary key,
// `password` and, when the model has it, `is_active`. One implementation per
// database (backends/sqlite/sqlite_users.*, backends/postgres/pg_users.*);
// nothing here ever writes to the table.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.hpp"

namespace sessionctl {

// How the primary key reads, which decides how a session's _auth_user_id
// (str(user.pk)) is compared with it: Django's pk.to_python() turns " 42",
// "042" and 42 into the same integer, and a UUID with or without hyphens into
// the same UUID.
enum class UserPkKind { integer, uuid, text };

// A session's _auth_user_id in the form the table's key compares by (decimal
// without sign or leading zeros, 32 lowercase hex digits, or the text as it
// is); nullopt when to_python() would reject it (no user has such a key).
[[nodiscard]] std::optional<std::string> canonical_user_pk(UserPkKind kind, std::string_view session_user_id);

// One row as the table holds it; the views live until the next row.
struct UserRowView {
    std::string_view pk;  // canonical_user_pk form
    std::string_view password;
    // The column's value; true when the model has no is_active (Django's
    // ModelBackend then lets the user in: getattr(user, "is_active", None) is None).
    bool is_active = true;
};

struct UserRow {
    std::string pk;
    std::string password;
    bool is_active = true;
};

class UserSource {
public:
    virtual ~UserSource() = default;

    // "auth_user in /srv/site/db.sqlite3": for messages; never a password.
    [[nodiscard]] virtual const std::string& describe() const = 0;
    [[nodiscard]] virtual UserPkKind pk_kind() const = 0;
    [[nodiscard]] virtual bool has_is_active() const = 0;
    // Every row once, in no particular order, memory bounded.
    virtual void scan(const std::function<void(const UserRowView&)>& visit) = 0;
    // The row whose key is `session_user_id` (compared as Django would);
    // nullopt when there is none.
    [[nodiscard]] virtual std::optional<UserRow> find(std::string_view session_user_id) = 0;
};

// Where the user model lives, from the settings: DATABASES["default"], and
// the table AUTH_USER_TABLE names, else Django's default db_table for
// AUTH_USER_MODEL ("auth.User" -> auth_user, "accounts.Member" ->
// accounts_member). Throws ConfigError naming the setting at fault.
struct UserTableLocation {
    nlohmann::json database;
    std::string table;
};
[[nodiscard]] UserTableLocation user_table_location(const Config& config);

// Django's default db_table of a model "app_label.ModelName": the app label and
// the lowercased model name joined by '_'. Throws ConfigError unless `model` is
// "label.Name" as AUTH_USER_MODEL must be.
[[nodiscard]] std::string default_user_table_name(std::string_view model);

}  // namespace sessionctl
