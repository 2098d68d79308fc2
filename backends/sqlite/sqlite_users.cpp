#include "backends/sqlite/sqlite_users.hpp"

#include <sqlite3.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "backends/sql/sql_naming.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

struct UsersDbCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct UsersStmtFinalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

std::string_view column_text(sqlite3_stmt* stmt, int column) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
    return text ? std::string_view(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)))
                : std::string_view();
}

bool contains_ci(std::string_view text, std::string_view needle) {
    std::string lower;
    for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower.find(needle) != std::string::npos;
}

class SqliteUsers final : public UserSource {
public:
    SqliteUsers(const std::string& path, const std::string& table, int busy_timeout_ms) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) throw StoreMissing(fmt::format("database file not found: {}", path));
        sqlite3* raw = nullptr;
        const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
        db_.reset(raw);
        if (rc != SQLITE_OK) fail("open the database");
        sqlite3_busy_timeout(raw, busy_timeout_ms);
        describe_ = fmt::format("{} in {}", table, path);
        read_columns(table);
        const std::string t = quote_sql_identifier(table);
        const std::string active = has_is_active_ ? quote_sql_identifier("is_active") : std::string("1");
        select_all_ = fmt::format("SELECT {}, {}, {} FROM {}", quote_sql_identifier(pk_column_),
                                  quote_sql_identifier("password"), active, t);
        select_one_ = select_all_ + fmt::format(" WHERE {} = ?1", quote_sql_identifier(pk_column_));
    }

    const std::string& describe() const override { return describe_; }
    UserPkKind pk_kind() const override { return pk_kind_; }
    bool has_is_active() const override { return has_is_active_; }

    void scan(const std::function<void(const UserRowView&)>& visit) override {
        auto stmt = prepare(select_all_);
        int rc;
        while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
            const auto row = read_row(stmt.get());
            if (!row) continue;
            visit(UserRowView{row->pk, column_text(stmt.get(), 1), row->is_active});
        }
        if (rc != SQLITE_DONE) fail("read the user table");
    }

    std::optional<UserRow> find(std::string_view session_user_id) override {
        auto key = canonical_user_pk(pk_kind_, session_user_id);
        if (!key) return std::nullopt;
        auto stmt = prepare(select_one_);
        if (pk_kind_ == UserPkKind::integer) {
            char* end = nullptr;
            errno = 0;
            const long long number = std::strtoll(key->c_str(), &end, 10);
            if (errno != 0 || *end != '\0') return std::nullopt;
            sqlite3_bind_int64(stmt.get(), 1, number);
        } else {
            sqlite3_bind_text(stmt.get(), 1, key->data(), static_cast<int>(key->size()), SQLITE_TRANSIENT);
        }
        const int rc = sqlite3_step(stmt.get());
        if (rc == SQLITE_DONE) return std::nullopt;
        if (rc != SQLITE_ROW) fail("read the user table");
        auto row = read_row(stmt.get());
        if (!row) return std::nullopt;
        return UserRow{row->pk, std::string(column_text(stmt.get(), 1)), row->is_active};
    }

private:
    using Statement = std::unique_ptr<sqlite3_stmt, UsersStmtFinalizer>;
    struct KeyAndActive {
        std::string pk;
        bool is_active;
    };

    std::optional<KeyAndActive> read_row(sqlite3_stmt* stmt) const {
        auto pk = canonical_user_pk(pk_kind_, column_text(stmt, 0));
        if (!pk) return std::nullopt;
        // NULL reads as None, which ModelBackend lets in.
        const bool active = sqlite3_column_type(stmt, 2) == SQLITE_NULL || sqlite3_column_int(stmt, 2) != 0;
        return KeyAndActive{std::move(*pk), active};
    }

    void read_columns(const std::string& table) {
        auto stmt = prepare(fmt::format("PRAGMA table_info({})", quote_sql_identifier(table)));
        bool has_password = false;
        int pk_columns = 0;
        int rc;
        while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
            const std::string name(column_text(stmt.get(), 1));
            const std::string type(column_text(stmt.get(), 2));
            if (sqlite3_column_int(stmt.get(), 5) > 0) {
                ++pk_columns;
                pk_column_ = name;
                // SQLite's affinity rule; Django's UUIDField is char(32) there.
                if (contains_ci(type, "int")) pk_kind_ = UserPkKind::integer;
                else if (contains_ci(type, "char(32)")) pk_kind_ = UserPkKind::uuid;
                else pk_kind_ = UserPkKind::text;
            }
            if (name == "password") has_password = true;
            if (name == "is_active") has_is_active_ = true;
        }
        if (rc != SQLITE_DONE) fail("read the user table's columns");
        if (pk_columns == 0 && !has_password)
            throw StoreMissing(fmt::format("no user table {} in {}: set AUTH_USER_MODEL (or AUTH_USER_TABLE)", table,
                                           sqlite3_db_filename(db_.get(), "main")));
        if (pk_columns != 1 || !has_password)
            throw StoreError(
                fmt::format("{} is not a user table: it needs one primary key column and a password "
                            "column (AUTH_USER_MODEL, AUTH_USER_TABLE)",
                            describe_));
    }

    Statement prepare(const std::string& sql) const {
        sqlite3_stmt* raw = nullptr;
        if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) fail("read the user table");
        return Statement(raw);
    }

    [[noreturn]] void fail(std::string_view what) const {
        const int code = sqlite3_errcode(db_.get());
        const std::string message =
            fmt::format("cannot {} ({}): {}", what, describe_.empty() ? "users" : describe_, sqlite3_errmsg(db_.get()));
        if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) throw StoreUnavailable(message);
        throw StoreError(message);
    }

    std::unique_ptr<sqlite3, UsersDbCloser> db_;
    std::string describe_;
    std::string pk_column_;
    UserPkKind pk_kind_ = UserPkKind::text;
    bool has_is_active_ = false;
    std::string select_all_;
    std::string select_one_;
};

}  // namespace

std::unique_ptr<UserSource> open_sqlite_users(const nlohmann::json& database, const std::string& table) {
    if (!database.contains("NAME") || !database["NAME"].is_string() || database["NAME"].get<std::string>().empty())
        throw ConfigError("DATABASES[\"default\"][\"NAME\"] must be the path of the SQLite file");
    int busy_timeout_ms = 5000;
    if (database.contains("OPTIONS") && database["OPTIONS"].is_object() && database["OPTIONS"].contains("timeout") &&
        database["OPTIONS"]["timeout"].is_number())
        busy_timeout_ms = static_cast<int>(std::lround(database["OPTIONS"]["timeout"].get<double>() * 1000));
    return std::make_unique<SqliteUsers>(database["NAME"].get<std::string>(), table, busy_timeout_ms);
}

}  // namespace sessionctl
