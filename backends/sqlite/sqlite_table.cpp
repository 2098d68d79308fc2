#include "backends/sqlite/sqlite_table.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <limits>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "backends/bulk_pacer.hpp"
#include "backends/sql/sql_naming.hpp"
#include "backends/sqlite/sqlite_run_settings.hpp"
#include "core/errors.hpp"
#include "core/time_zone.hpp"
#include "util/text.hpp"

namespace sessionctl {

namespace {

struct DatabaseCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using DatabaseHandle = std::unique_ptr<sqlite3, DatabaseCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// The statements a table runs, prepared once at open (which also proves the
// table has Django's columns) and reused for every row.
enum class Sql : std::size_t {
    begin,
    commit,
    rollback,
    exists,
    select,
    select_live,
    insert,
    update,
    erase,
    count_expired,
    list_expired,
    expired_rowid_bounds,
    delete_expired_range,
    delete_expired_range_keys,
    delete_unchanged,
    update_unchanged,   // data only (rekey): the expiry is kept
    replace_unchanged,  // data and expiry (copy --overwrite)
    scan_next,
    count_,
};
constexpr std::size_t kSqlCount = static_cast<std::size_t>(Sql::count_);

// `unreferenced`: conditions that keep a batch off rows a rejecting foreign
// key references (empty when none does).
std::string sql_text(Sql which, const std::string& t, const std::string& unreferenced) {
    // Columns are spelled as Django's queries spell them; comparisons on
    // expire_date are between texts, as Django's are (see db_text()).
    constexpr std::string_view columns = R"("session_key", "session_data", "expire_date")";
    switch (which) {
        case Sql::begin: return "BEGIN IMMEDIATE";
        case Sql::commit: return "COMMIT";
        case Sql::rollback: return "ROLLBACK";
        case Sql::exists: return fmt::format(R"(SELECT 1 FROM {} WHERE "session_key" = ?1 LIMIT 1)", t);
        case Sql::select: return fmt::format(R"(SELECT {} FROM {} WHERE "session_key" = ?1)", columns, t);
        case Sql::select_live:
            return fmt::format(R"(SELECT {} FROM {} WHERE ("expire_date" > ?1 AND "session_key" = ?2))", columns, t);
        case Sql::insert: return fmt::format("INSERT INTO {} ({}) VALUES (?1, ?2, ?3)", t, columns);
        case Sql::update:
            return fmt::format(R"(UPDATE {} SET "session_data" = ?1, "expire_date" = ?2 WHERE "session_key" = ?3)", t);
        case Sql::erase: return fmt::format(R"(DELETE FROM {} WHERE "session_key" = ?1)", t);
        case Sql::count_expired: return fmt::format(R"(SELECT COUNT(*) FROM {} WHERE "expire_date" < ?1)", t);
        case Sql::list_expired:
            return fmt::format(R"(SELECT "session_key" FROM {} WHERE "expire_date" < ?1 ORDER BY "session_key")", t);
        // The rowids expired rows span, from the expire_date index (it holds
        // them: no table page is read).
        case Sql::expired_rowid_bounds:
            return fmt::format(R"(SELECT min(rowid), max(rowid) FROM {} WHERE "expire_date" < ?1)", t);
        // One batch: a range of rowids, i.e. of consecutive table pages. Rows
        // are appended in creation order, so expiry roughly follows rowid and
        // a batch touches few table and expire_date index pages.
        case Sql::delete_expired_range:
            return fmt::format(R"(DELETE FROM {} WHERE rowid >= ?2 AND rowid < ?3 AND "expire_date" < ?1{})", t,
                               unreferenced);
        case Sql::delete_expired_range_keys:
            return fmt::format(
                R"(DELETE FROM {} WHERE rowid >= ?2 AND rowid < ?3 AND "expire_date" < ?1{} RETURNING "session_key")",
                t, unreferenced);
        case Sql::delete_unchanged:
            return fmt::format(R"(DELETE FROM {} WHERE "session_key" = ?1 AND "session_data" = ?2)", t);
        case Sql::replace_unchanged:
            return fmt::format(
                R"(UPDATE {} SET "session_data" = ?1, "expire_date" = ?2 WHERE "session_key" = ?3 AND "session_data" = ?4)",
                t);
        case Sql::update_unchanged:
            return fmt::format(R"(UPDATE {} SET "session_data" = ?3 WHERE "session_key" = ?1 AND "session_data" = ?2)",
                               t);
        // Scans walk the table in rowid order: consecutive pages of one
        // b-tree. Key order would walk the key index and look every row up
        // in the table, which costs more than decoding it.
        case Sql::scan_next:
            return fmt::format(R"(SELECT {}, rowid FROM {} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)", columns, t);
        case Sql::count_: break;
    }
    return {};
}

// The text Django binds for a datetime on SQLite: str() of the naive value,
// in the connection time zone (UTC, or DATABASES TIME_ZONE: `zone`) when it
// was aware; naive values here are UTC with USE_TZ (db_datetime). Stored
// values and query parameters share this format, so SQLite's text
// comparison orders them (on the zone's wall clock, as Django's does).
std::string db_text(const DateTime& value, const TimeZone* zone) {
    DateTime naive = value.aware() ? DateTime{value.utc_micros(), std::nullopt} : value;
    if (zone) naive.wall_micros = zone->wall_from_unix(naive.wall_micros);
    return naive.str_naive();
}

// What Django's SQLite converter makes of a stored expire_date
// (parse_datetime; make_aware in `zone` when naive; aware values kept), as a
// naive UTC value; nullopt when it is not a datetime.
std::optional<DateTime> parse_db_datetime(std::string_view text, const TimeZone* zone) {
    std::optional<DateTime> parsed;
    try {
        parsed = parse_django_datetime(text);
    } catch (const DateTimeError&) {
        return std::nullopt;
    }
    if (parsed && parsed->aware()) return DateTime{parsed->utc_micros(), std::nullopt};
    if (parsed && zone) parsed->wall_micros = zone->unix_from_wall(parsed->wall_micros);
    return parsed;
}

}  // namespace

std::vector<std::string> django_session_ddl(std::string_view table) {
    const std::string t = quote_sql_identifier(table);
    return {
        fmt::format(R"(CREATE TABLE {} ("session_key" varchar(40) NOT NULL PRIMARY KEY, )"
                    R"("session_data" text NOT NULL, "expire_date" datetime NOT NULL))",
                    t),
        fmt::format(R"(CREATE INDEX {} ON {} ("expire_date"))",
                    quote_sql_identifier(django_index_name(table, "expire_date")), t),
    };
}

// A foreign key from another table to this one's session_key (SQLite keeps
// no constraint names: "table.column -> django_session.session_key" names it).
struct SqliteReference {
    std::string table;
    std::string column;
    std::string constraint;
    std::string on_delete;  // NO ACTION, RESTRICT, CASCADE, SET NULL, SET DEFAULT
    [[nodiscard]] bool rejects_delete() const { return on_delete == "NO ACTION" || on_delete == "RESTRICT"; }
};

struct SqliteTable::Impl {
    std::string path;
    std::string table;
    bool read_only = false;
    std::shared_ptr<const TimeZone> zone;  // SqliteOptions::zone
    std::vector<SqliteReference> references;
    DatabaseHandle db;  // declared before the statements: closed after them
    std::array<StatementHandle, kSqlCount> statements;

    // Turns a SQLite failure into the error kinds sessionctl reports. Reads
    // the connection's message first: nothing may run in between.
    [[noreturn]] void fail(int rc, std::string_view what) const {
        const std::string message = sqlite3_errmsg(db.get());
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
            // A deferred key (Django declares them DEFERRABLE INITIALLY
            // DEFERRED) fired at COMMIT: a row was referenced after our check.
            std::string names;
            for (const auto& ref : references)
                if (ref.rejects_delete()) names += (names.empty() ? "" : ", ") + ref.constraint;
            throw StoreError(
                fmt::format("cannot {} in {}: a row references the session (foreign key {}); nothing "
                            "was deleted by this transaction",
                            what, path, names.empty() ? message : names));
        }
        switch (rc & 0xFF) {
            case SQLITE_BUSY:
            case SQLITE_LOCKED:
                throw StoreUnavailable(fmt::format("database is locked by another process ({}); try again", path));
            case SQLITE_NOTADB: throw StoreCorrupt(fmt::format("{} is not a SQLite database", path));
            case SQLITE_CANTOPEN:
            case SQLITE_PERM:
            case SQLITE_AUTH: throw StoreError(fmt::format("cannot open {}: {}", path, message));
            case SQLITE_CORRUPT:
                throw StoreCorrupt(fmt::format("{} is corrupt (while trying to {}): {}", path, what, message));
            case SQLITE_READONLY: throw StoreError(fmt::format("cannot {} in {}: {}", what, path, message));
            case SQLITE_IOERR:
            case SQLITE_FULL:
            case SQLITE_NOMEM:
            case SQLITE_NOLFS:
            case SQLITE_PROTOCOL: throw StoreUnavailable(fmt::format("cannot {} in {}: {}", what, path, message));
            default: throw StoreError(fmt::format("cannot {} in {}: {}", what, path, message));
        }
    }

    [[nodiscard]] StoreMissing missing_table() const {
        return StoreMissing(fmt::format("no {} table in {}: run manage.py migrate", table, path));
    }

    [[nodiscard]] sqlite3_stmt* statement(Sql which) const { return statements[static_cast<std::size_t>(which)].get(); }

    void require_writable(std::string_view what) const {
        if (read_only) throw StoreError(fmt::format("cannot {}: {} was opened read-only", what, path));
    }

    [[nodiscard]] std::uint64_t changes() const { return static_cast<std::uint64_t>(sqlite3_changes(db.get())); }

    // Whether the table exists (SQLite resolves table names case-insensitively).
    [[nodiscard]] bool has_table() const {
        sqlite3_stmt* raw = nullptr;
        int rc = sqlite3_prepare_v2(db.get(),
                                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE", -1,
                                    &raw, nullptr);
        StatementHandle stmt(raw);
        if (rc != SQLITE_OK) fail(rc, "read the schema");
        rc = sqlite3_bind_text64(raw, 1, table.data(), table.size(), SQLITE_STATIC, SQLITE_UTF8);
        if (rc != SQLITE_OK) fail(rc, "read the schema");
        rc = sqlite3_step(raw);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail(rc, "read the schema");
    }

    // Whether the database holds no schema objects at all (a new file).
    [[nodiscard]] bool is_empty() const {
        sqlite3_stmt* raw = nullptr;
        int rc = sqlite3_prepare_v2(db.get(), "SELECT 1 FROM sqlite_master LIMIT 1", -1, &raw, nullptr);
        StatementHandle stmt(raw);
        if (rc != SQLITE_OK) fail(rc, "read the schema");
        rc = sqlite3_step(raw);
        if (rc == SQLITE_ROW) return false;
        if (rc == SQLITE_DONE) return true;
        fail(rc, "read the schema");
    }

    void exec(const std::string& sql, std::string_view what) const {
        int rc = sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, nullptr);
        if (rc != SQLITE_OK) fail(rc, what);
    }

    // Django's migration, in one transaction, into an empty database only: a
    // database that already holds tables belongs to a site, whose own
    // `migrate` must create the table (and record that it did).
    void create_schema() const {
        exec("BEGIN IMMEDIATE", "create the session table");
        try {
            if (!has_table()) {
                if (!is_empty()) throw missing_table();
                for (const auto& ddl : django_session_ddl(table)) exec(ddl, "create the session table");
            }
            exec("COMMIT", "create the session table");
        } catch (...) {
            if (!sqlite3_get_autocommit(db.get())) sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }

    // Foreign keys other tables declare on this table's session_key (or on
    // its primary key, which is session_key).
    void read_references() {
        sqlite3_stmt* raw = nullptr;
        int rc = sqlite3_prepare_v2(db.get(),
                                    R"(SELECT m.name, f."from", f.on_delete FROM sqlite_master m JOIN )"
                                    R"(pragma_foreign_key_list(m.name) f WHERE m.type = 'table' AND f."table" = ?1 )"
                                    R"(COLLATE NOCASE AND (f."to" IS NULL OR f."to" = 'session_key' COLLATE NOCASE) )"
                                    R"(ORDER BY m.name, f."from")",
                                    -1, &raw, nullptr);
        StatementHandle stmt(raw);
        if (rc != SQLITE_OK) fail(rc, "read the schema");
        rc = sqlite3_bind_text64(raw, 1, table.data(), table.size(), SQLITE_STATIC, SQLITE_UTF8);
        if (rc != SQLITE_OK) fail(rc, "read the schema");
        while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
            auto column_text = [raw](int column) {
                const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, column));
                return text ? std::string(text) : std::string();
            };
            SqliteReference ref{column_text(0), column_text(1), {}, column_text(2)};
            ref.constraint = fmt::format("{}.{} -> {}.session_key", ref.table, ref.column, table);
            references.push_back(std::move(ref));
        }
        if (rc != SQLITE_DONE) fail(rc, "read the schema");
    }

    [[nodiscard]] std::string unreferenced_condition() const {
        std::string sql;
        for (const auto& ref : references)
            if (ref.rejects_delete())
                sql += fmt::format(R"( AND NOT EXISTS (SELECT 1 FROM {} r WHERE r.{} = {}."session_key"))",
                                   quote_sql_identifier(ref.table), quote_sql_identifier(ref.column),
                                   quote_sql_identifier(table));
        return sql;
    }

    // How many distinct sessions `ref` references among those `where` selects
    // (a condition on s."session_key", with ?1 bound to `value`), and one of them.
    [[nodiscard]] std::pair<std::int64_t, std::string> referenced(const SqliteReference& ref, const std::string& where,
                                                                  std::string_view value) const {
        const std::string sql = fmt::format(
            R"(SELECT count(DISTINCT s."session_key"), min(s."session_key") FROM {} s JOIN {} r ON r.{} = )"
            R"(s."session_key" WHERE {})",
            quote_sql_identifier(table), quote_sql_identifier(ref.table), quote_sql_identifier(ref.column), where);
        sqlite3_stmt* raw = nullptr;
        int rc = sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &raw, nullptr);
        StatementHandle stmt(raw);
        if (rc != SQLITE_OK) fail(rc, "look up referencing rows");
        rc = sqlite3_bind_text64(raw, 1, value.data() ? value.data() : "", value.size(), SQLITE_STATIC, SQLITE_UTF8);
        if (rc != SQLITE_OK) fail(rc, "look up referencing rows");
        rc = sqlite3_step(raw);
        if (rc != SQLITE_ROW) fail(rc, "look up referencing rows");
        const auto* sample = reinterpret_cast<const char*>(sqlite3_column_text(raw, 1));
        return {sqlite3_column_int64(raw, 0), sample ? std::string(sample) : std::string()};
    }

    // Before deleting `keys`: a rejecting foreign key that references any of
    // them refuses the whole operation, naming the table and the key.
    void refuse_referenced(const std::vector<std::string_view>& keys) const {
        for (const auto& ref : references) {
            if (!ref.rejects_delete()) continue;
            std::int64_t count = 0;
            std::string sample;
            for (auto key : keys) {
                auto [n, one] = referenced(ref, R"(s."session_key" = ?1)", key);
                if (n > 0 && count++ == 0) sample = one;
            }
            if (count > 0)
                throw StoreError(fmt::format(
                    "refusing to delete {} (e.g. {}): still referenced from table {} (column {}, foreign key {}), "
                    "which would reject the delete. Django deletes through its model's on_delete, which sessionctl "
                    "cannot see: delete the referencing rows first, or delete these sessions through Django",
                    count_of(static_cast<std::uint64_t>(count), "session"),
                    sample.size() > 8 ? sample.substr(0, 8) + "..." : sample, ref.table, ref.column, ref.constraint));
        }
    }

    // After a clearsessions: expired rows a foreign key kept make it fail,
    // naming the table and key and saying what was removed.
    void refuse_kept_by_references(const std::string& cutoff, std::uint64_t removed) const {
        std::string detail;
        for (const auto& ref : references) {
            if (!ref.rejects_delete()) continue;
            auto [n, one] = referenced(ref, R"(s."expire_date" < ?1)", cutoff);
            if (n > 0)
                detail += fmt::format("{}{} referenced from table {} (column {}, foreign key {})",
                                      detail.empty() ? "" : "; ", count_of(static_cast<std::uint64_t>(n), "session"),
                                      ref.table, ref.column, ref.constraint);
        }
        if (detail.empty()) return;
        throw StoreError(fmt::format(
            "removed {} but kept the sessions that foreign keys would not let go: {}. Django deletes through its "
            "model's on_delete, which sessionctl cannot see: run manage.py clearsessions, or delete the referencing "
            "rows first",
            count_of(removed, "expired session"), detail));
    }

    void prepare_all() {
        const std::string t = quote_sql_identifier(table);
        const std::string unreferenced = unreferenced_condition();
        for (std::size_t i = 0; i < kSqlCount; ++i) {
            const std::string sql = sql_text(static_cast<Sql>(i), t, unreferenced);
            sqlite3_stmt* raw = nullptr;
            int rc = sqlite3_prepare_v3(db.get(), sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                        &raw, nullptr);
            statements[i].reset(raw);
            if (rc == SQLITE_ERROR)  // e.g. "no such column": not Django's table
                throw StoreMissing(fmt::format("table {} in {} is not a Django session table: {}", table, path,
                                               sqlite3_errmsg(db.get())));
            if (rc != SQLITE_OK) fail(rc, "prepare statements");
        }
    }

    // One use of a cached statement: bind, step, and reset (with bindings
    // cleared, so the SQLITE_STATIC texts may die) when it goes out of scope.
    class Statement {
    public:
        Statement(const Impl& impl, Sql which, std::string_view what)
            : impl_(impl), stmt_(impl.statement(which)), what_(what) {}
        ~Statement() {
            sqlite3_reset(stmt_);
            sqlite3_clear_bindings(stmt_);
        }
        Statement(const Statement&) = delete;
        Statement& operator=(const Statement&) = delete;

        // `text` must outlive this object.
        Statement& bind(int index, std::string_view text) {
            // A null pointer would bind NULL; an empty string must stay a string.
            const char* data = text.data() != nullptr ? text.data() : "";
            int rc = sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_STATIC, SQLITE_UTF8);
            if (rc != SQLITE_OK) impl_.fail(rc, what_);
            return *this;
        }
        Statement& bind(int index, std::int64_t value) {
            int rc = sqlite3_bind_int64(stmt_, index, value);
            if (rc != SQLITE_OK) impl_.fail(rc, what_);
            return *this;
        }
        // SQLITE_ROW, SQLITE_DONE or the error code, unmapped.
        int step_code() { return sqlite3_step(stmt_); }
        // True when a row is ready, false when done; throws on errors.
        bool step() {
            int rc = sqlite3_step(stmt_);
            if (rc == SQLITE_ROW) return true;
            if (rc == SQLITE_DONE) return false;
            impl_.fail(rc, what_);
        }
        // Runs a statement that returns no rows; the number of rows changed.
        std::uint64_t run() {
            while (step()) {
            }
            return impl_.changes();
        }
        [[noreturn]] void fail(int rc) const { impl_.fail(rc, what_); }

        [[nodiscard]] std::string text(int column) const {
            const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
            const int size = sqlite3_column_bytes(stmt_, column);
            return data != nullptr ? std::string(data, static_cast<std::size_t>(size)) : std::string();
        }
        [[nodiscard]] std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
        [[nodiscard]] bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
        [[nodiscard]] std::optional<DateTime> datetime(int column) const {
            // Django's converter parses str values only (an INTEGER or REAL,
            // which NUMERIC affinity makes of digit-only text, raises there).
            if (sqlite3_column_type(stmt_, column) != SQLITE_TEXT) return std::nullopt;
            return parse_db_datetime(text(column), impl_.zone.get());
        }
        // A row of (session_key, session_data, expire_date).
        [[nodiscard]] StoredSession session() const { return {text(0), text(1), datetime(2)}; }

    private:
        const Impl& impl_;
        sqlite3_stmt* stmt_;
        std::string_view what_;
    };

    // BEGIN IMMEDIATE ... COMMIT: the write lock is taken (or waited for, up
    // to the busy timeout) before anything is read, so the transaction never
    // has to upgrade a read lock, which SQLite would refuse without waiting.
    // Rolled back unless committed.
    class WriteTransaction {
    public:
        WriteTransaction(const Impl& impl, std::string_view what) : impl_(impl) {
            impl.require_writable(what);
            Statement(impl, Sql::begin, what).run();
        }
        ~WriteTransaction() {
            if (committed_ || sqlite3_get_autocommit(impl_.db.get())) return;
            sqlite3_stmt* rollback = impl_.statement(Sql::rollback);
            sqlite3_step(rollback);
            sqlite3_reset(rollback);
        }
        WriteTransaction(const WriteTransaction&) = delete;
        WriteTransaction& operator=(const WriteTransaction&) = delete;

        void commit() {
            Statement(impl_, Sql::commit, "commit").run();
            committed_ = true;
        }

    private:
        const Impl& impl_;
        bool committed_ = false;
    };
};

std::unique_ptr<SqliteTable> open_sqlite_table(const std::string& path, SqliteOptions options) {
    const bool create = options.create_if_missing && !options.read_only;
    if (!create) {
        // Checked here because SQLite's own error ("unable to open database
        // file") does not say which of many reasons applies.
        std::error_code ec;
        bool found = std::filesystem::exists(path, ec);
        if (ec) throw StoreError(fmt::format("cannot open {}: {}", path, ec.message()));
        if (!found) throw StoreMissing(fmt::format("database file not found: {}", path));
    }

    auto impl = std::make_unique<SqliteTable::Impl>();
    impl->path = path;
    impl->table = options.table;
    impl->read_only = options.read_only;
    impl->zone = options.zone;

    const int flags =
        options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0));
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    impl->db.reset(raw);  // a handle comes back even on failure and must be closed
    if (rc != SQLITE_OK) impl->fail(rc, "open the database");
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, std::max(0, options.busy_timeout_ms));
    // As Django's own connection does: the database applies ON DELETE
    // CASCADE / SET NULL and refuses to leave a dangling reference.
    impl->exec("PRAGMA foreign_keys = ON", "enable foreign keys");

    // Only reads until we know this is a Django database: a wrong path must
    // never be written to.
    if (!impl->has_table()) {
        if (!create || !impl->is_empty()) throw impl->missing_table();
        impl->create_schema();  // checks again under the write lock
    }
    impl->read_references();
    impl->prepare_all();
    return std::unique_ptr<SqliteTable>(new SqliteTable(std::move(impl)));
}

SqliteTable::SqliteTable(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteTable::~SqliteTable() = default;

const std::string& SqliteTable::path() const { return impl_->path; }

bool SqliteTable::expired(const DateTime& expire_date, const DateTime& now) const {
    return expired_on_wall_clock(expire_date, now, impl_->zone.get());
}
const std::string& SqliteTable::table_name() const { return impl_->table; }

bool SqliteTable::insert(const StoredSession& row) {
    if (!row.expire_date) throw StoreError(fmt::format("cannot insert session {}: expire_date is required", row.key));
    const std::string expire = db_text(*row.expire_date, impl_->zone.get());
    Impl::WriteTransaction tx(*impl_, "insert a session");
    {
        Impl::Statement insert(*impl_, Sql::insert, "insert a session");
        insert.bind(1, row.key).bind(2, row.data).bind(3, expire);
        const int rc = insert.step_code();
        // Only a taken key is Django's CreateError; anything else (say a
        // custom table's extra NOT NULL column) would make create() retry
        // forever.
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) return false;
        if (rc != SQLITE_DONE) insert.fail(rc);
    }
    tx.commit();
    return true;
}

bool SqliteTable::update(const StoredSession& row) {
    if (!row.expire_date) throw StoreError(fmt::format("cannot update session {}: expire_date is required", row.key));
    const std::string expire = db_text(*row.expire_date, impl_->zone.get());
    Impl::WriteTransaction tx(*impl_, "update a session");
    {
        Impl::Statement update(*impl_, Sql::update, "update a session");
        if (update.bind(1, row.data).bind(2, expire).bind(3, row.key).run() == 0)
            return false;  // rolled back, as Django's forced update is
    }
    tx.commit();
    return true;
}

std::optional<StoredSession> SqliteTable::select_live(std::string_view key, const DateTime& now) {
    const std::string cutoff = db_text(now, impl_->zone.get());
    Impl::Statement select(*impl_, Sql::select_live, "read a session");
    select.bind(1, cutoff).bind(2, key);
    if (!select.step()) return std::nullopt;
    StoredSession row = select.session();
    // A text that sorts after `now` but is no datetime: Django's converter
    // would fail on it; like every other table (and DbStore::is_expired), treat
    // a row without a readable expiry as not live.
    if (!row.expire_date) return std::nullopt;
    return row;
}

std::optional<StoredSession> SqliteTable::select(std::string_view key) {
    Impl::Statement select(*impl_, Sql::select, "read a session");
    select.bind(1, key);
    if (!select.step()) return std::nullopt;
    return select.session();
}

bool SqliteTable::exists(std::string_view key) {
    Impl::Statement exists(*impl_, Sql::exists, "look up a session key");
    return exists.bind(1, key).step();
}

void SqliteTable::erase(std::string_view key) {
    impl_->refuse_referenced({key});
    Impl::WriteTransaction tx(*impl_, "delete a session");
    Impl::Statement(*impl_, Sql::erase, "delete a session").bind(1, key).run();
    tx.commit();
}

BulkResult SqliteTable::delete_expired(const DateTime& now, DryRun dry_run, bool want_keys,
                                       const BulkOptions& options) {
    BulkResult result;
    const std::string cutoff = db_text(now, impl_->zone.get());
    if (dry_run == DryRun::yes) {
        if (want_keys) {
            Impl::Statement list(*impl_, Sql::list_expired, "list expired sessions");
            list.bind(1, cutoff);
            while (list.step()) result.keys.push_back(list.text(0));
            result.matched = result.keys.size();
        } else {
            Impl::Statement count(*impl_, Sql::count_expired, "count expired sessions");
            count.bind(1, cutoff).step();
            result.matched = static_cast<std::uint64_t>(count.integer(0));
        }
        return result;
    }

    // Batches, each its own short IMMEDIATE transaction, so that a site
    // writing sessions meanwhile waits for one batch at most (well within its
    // busy timeout). A batch is one statement over a range of rowids: with
    // the table's pages (and most expire_date index pages) touched once over
    // the whole run, what each short transaction costs beyond its share of
    // a single DELETE is mostly the session_key index pages it rewrites.
    // The range width is paced by time (BulkPacer). The expiry condition is
    // in every statement; a row expiring meanwhile is left for the next run,
    // as Django's own DELETE would. A stop leaves whole batches done, and a
    // rerun goes on from what is left.
    PageCacheScope cache(impl_->db.get(), kClearCacheKiB);
    PersistJournalScope journal(impl_->db.get());
    std::int64_t next = 0, last = -1;
    {
        Impl::Statement bounds(*impl_, Sql::expired_rowid_bounds, "find expired sessions");
        bounds.bind(1, cutoff);
        if (bounds.step() && !bounds.is_null(0)) {
            next = bounds.integer(0);
            last = bounds.integer(1);
        }
    }
    if (next > last) return result;
    std::uint64_t total = 0;
    if (options.progress) {  // an index-only count: cheap next to the deletes
        Impl::Statement count(*impl_, Sql::count_expired, "count expired sessions");
        count.bind(1, cutoff).step();
        total = static_cast<std::uint64_t>(count.integer(0));
    }
    const Sql which = want_keys ? Sql::delete_expired_range_keys : Sql::delete_expired_range;
    BulkPacer pacer(options, kBulkDefaults);
    while (next <= last && pacer.may_start(result)) {
        const auto width = static_cast<std::int64_t>(pacer.batch_size());
        const std::int64_t end = width > last - next ? last + 1 : next + width;
        const auto started = BulkPacer::Clock::now();
        auto committing = started;
        std::uint64_t removed = 0;
        {
            Impl::WriteTransaction tx(*impl_, "delete expired sessions");
            {
                StopOnRequestScope stop(impl_->db.get(), options.should_stop);
                Impl::Statement erase(*impl_, which, "delete expired sessions");
                erase.bind(1, cutoff).bind(2, next).bind(3, end);
                int rc = SQLITE_ROW;
                while ((rc = erase.step_code()) == SQLITE_ROW) {
                    result.keys.push_back(erase.text(0));
                    ++removed;
                }
                if (rc == SQLITE_INTERRUPT) {  // SQLite has rolled the batch back
                    result.keys.resize(result.keys.size() - removed);
                    result.end = BulkEnd::stopped;
                    result.rolled_back = true;
                    break;
                }
                if (rc != SQLITE_DONE) erase.fail(rc);
                if (!want_keys) removed = impl_->changes();
            }
            committing = BulkPacer::Clock::now();
            tx.commit();
        }
        pacer.finished(committing - started, BulkPacer::Clock::now() - committing);
        next = end;
        ++result.batches;
        result.matched += removed;
        result.removed += removed;
        if (options.progress) options.progress(result.removed, std::max(total, result.removed));
        if (next <= last) pacer.pause();
    }
    // Batches follow the expire_date index; report keys in key order, as the
    // dry run and every other table do.
    std::sort(result.keys.begin(), result.keys.end());
    if (result.end == BulkEnd::complete) impl_->refuse_kept_by_references(cutoff, result.removed);
    return result;
}

BulkResult SqliteTable::delete_if_unchanged(const std::vector<StoredSession>& rows, bool want_keys) {
    BulkResult result;
    {
        std::vector<std::string_view> keys;
        keys.reserve(rows.size());
        for (const auto& row : rows) keys.push_back(row.key);
        impl_->refuse_referenced(keys);
    }
    for (std::size_t start = 0; start < rows.size(); start += kUnchangedBatchRows) {
        const std::size_t end = std::min(rows.size(), start + kUnchangedBatchRows);
        std::uint64_t removed = 0;
        std::vector<std::string> keys;
        Impl::WriteTransaction tx(*impl_, "delete sessions");
        for (std::size_t i = start; i < end; ++i) {
            Impl::Statement erase(*impl_, Sql::delete_unchanged, "delete sessions");
            if (erase.bind(1, rows[i].key).bind(2, rows[i].data).run() == 0) continue;
            ++removed;
            if (want_keys) keys.push_back(rows[i].key);
        }
        tx.commit();
        result.matched += end - start;
        result.removed += removed;
        std::move(keys.begin(), keys.end(), std::back_inserter(result.keys));
    }
    return result;
}

std::vector<bool> SqliteTable::write_rows(const std::vector<RowWrite>& writes) {
    constexpr std::string_view what = "write sessions";
    std::vector<bool> written;
    written.reserve(writes.size());
    Impl::WriteTransaction tx(*impl_, what);
    for (const auto& w : writes) {
        if (!w.row.expire_date)
            throw StoreError(fmt::format("cannot write session {}: expire_date is required", w.row.key));
        const std::string expire = db_text(*w.row.expire_date, impl_->zone.get());
        if (w.expected_data) {
            Impl::Statement update(*impl_, Sql::replace_unchanged, what);
            written.push_back(
                update.bind(1, w.row.data).bind(2, expire).bind(3, w.row.key).bind(4, *w.expected_data).run() > 0);
            continue;
        }
        Impl::Statement insert(*impl_, Sql::insert, what);
        insert.bind(1, w.row.key).bind(2, w.row.data).bind(3, expire);
        const int rc = insert.step_code();
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
            written.push_back(false);
            continue;
        }
        if (rc != SQLITE_DONE) insert.fail(rc);
        written.push_back(true);
    }
    tx.commit();
    return written;
}

RewriteResult SqliteTable::update_if_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) {
    RewriteResult result;
    for (std::size_t start = 0; start < rewrites.size(); start += kUnchangedBatchRows) {
        const std::size_t end = std::min(rewrites.size(), start + kUnchangedBatchRows);
        std::uint64_t rewritten = 0;
        std::vector<std::string> keys;
        Impl::WriteTransaction tx(*impl_, "rewrite sessions");
        for (std::size_t i = start; i < end; ++i) {
            const Rewrite& r = rewrites[i];
            Impl::Statement update(*impl_, Sql::update_unchanged, "rewrite sessions");
            if (update.bind(1, r.record.key).bind(2, r.record.data).bind(3, r.data).run() == 0) continue;
            ++rewritten;
            if (want_keys) keys.push_back(r.record.key);
        }
        tx.commit();
        result.rewritten += rewritten;
        std::move(keys.begin(), keys.end(), std::back_inserter(result.keys));
    }
    return result;
}

void SqliteTable::scan(const std::function<bool(const StoredSession&)>& visit) {
    // Keyset pagination: each page is one short read, reset before `visit`
    // runs, so no read lock is held while the caller works (in rollback-journal
    // mode a reader would stall every writer of the site).
    std::vector<StoredSession> page;
    page.reserve(kScanPageRows);
    std::int64_t after = std::numeric_limits<std::int64_t>::min();
    for (;;) {
        page.clear();
        {
            Impl::Statement select(*impl_, Sql::scan_next, "scan sessions");
            select.bind(1, after).bind(2, static_cast<std::int64_t>(kScanPageRows));
            while (select.step()) {
                page.push_back(select.session());
                after = select.integer(3);
            }
        }
        for (const auto& row : page)
            if (!visit(row)) return;
        if (page.size() < kScanPageRows) return;
    }
}

}  // namespace sessionctl
