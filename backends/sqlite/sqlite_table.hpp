#pragma once

// Django's django_session table in a SQLite file, read and written with the
// SQL Django's db engine runs on its sqlite3 backend. sqlite3.h stays in the
// .cpp: this header only declares the options, the class and its factory.
//
// A live Django site owns the file: we never change its journal mode or
// schema, every write is a short BEGIN IMMEDIATE transaction (so lock waits
// happen up front and honour the busy timeout), and bulk deletes commit in
// batches so the site is never stalled by one huge transaction. Foreign keys
// are on (PRAGMA foreign_keys, as on Django's connection): a session another
// table references through a key that would reject the delete is refused,
// naming the table; clearsessions removes the others, then says which it kept.
//
// One SqliteTable is one connection: not safe to share between threads.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/sql/session_table.hpp"

namespace sessionctl {

class TimeZone;

struct SqliteOptions {
    // How long a statement waits for another process's lock before giving up
    // with StoreUnavailable (sqlite3_busy_timeout).
    int busy_timeout_ms = 5000;
    // Open with SQLITE_OPEN_READONLY: reads and dry runs work, every write
    // throws StoreError.
    bool read_only = false;
    // Create the file and Django's schema (sessions.0001_initial) when they
    // are missing; for tests and demos. Off by default so that a mistyped path
    // is an error instead of a new, empty database. The table is only ever
    // created in an empty database: one that holds other tables belongs to a
    // site, whose `manage.py migrate` must create it. Ignored when read_only.
    bool create_if_missing = false;
    // db_table of the session model: a custom AbstractBaseSession may use
    // another table (it must have Django's three columns).
    std::string table = "django_session";
    // DATABASES TIME_ZONE with USE_TZ (null: UTC): expire_date is written,
    // compared and read as this zone's wall clock, as Django's converters do.
    std::shared_ptr<const TimeZone> zone;
};

class SqliteTable final : public SessionTable {
public:
    // Rows per transaction of delete_if_unchanged (delete_expired sizes its
    // batches by time: BulkPacer).
    static constexpr std::size_t kUnchangedBatchRows = 1000;
    // The page cache delete_expired uses (PRAGMA cache_size, KiB; a ceiling,
    // restored afterwards): with the tables' hot pages cached, batch after
    // batch, cutting a large table in short transactions costs little more
    // than one DELETE. Stated in `clearsessions --help`.
    static constexpr std::int64_t kClearCacheKiB = 256 * 1024;
    // Rows read per round trip of scan().
    static constexpr std::size_t kScanPageRows = 1000;
    // A writer of the site waiting for the lock polls it (SQLite's busy
    // handler sleeps up to 100 ms between tries), so a batch that started
    // right after the last COMMIT would starve it into "database is locked".
    // A 30 ms gap after ~80 ms transactions lets every waiter in within a few
    // batches (measured: tests/system/bulk_sqlite_test.py).
    static constexpr BulkDefaults kBulkDefaults{std::chrono::milliseconds{100}, std::chrono::milliseconds{30}};

    ~SqliteTable() override;
    SqliteTable(const SqliteTable&) = delete;
    SqliteTable& operator=(const SqliteTable&) = delete;

    // All methods throw StoreUnavailable when the database stays locked past
    // the busy timeout (or the disk fails), StoreError for anything else
    // SQLite rejects. expire_date is written and compared as Django's text
    // ("YYYY-MM-DD HH:MM:SS[.ffffff]", UTC when the value is aware, or the
    // wall clock of options.zone), and read back as naive UTC (USE_TZ).

    // INSERT; false only when the key is taken. Other constraint failures (a
    // custom table's extra NOT NULL column) throw StoreError, so a create loop
    // cannot spin forever. A row without expire_date throws StoreError.
    [[nodiscard]] bool insert(const StoredSession& row) override;
    // UPDATE ... SET session_data, expire_date WHERE session_key; false when
    // no row matched.
    [[nodiscard]] bool update(const StoredSession& row) override;
    // expire_date > now compared as text, as Django's query does.
    [[nodiscard]] std::optional<StoredSession> select_live(std::string_view key, const DateTime& now) override;
    [[nodiscard]] std::optional<StoredSession> select(std::string_view key) override;
    [[nodiscard]] bool exists(std::string_view key) override;
    void erase(std::string_view key) override;
    // expire_date < now (strict, text). DryRun::yes only counts (and lists).
    // Otherwise deletes the oldest expired rows in batches paced by `options`
    // (BulkPacer: ~100 ms transactions unless options.batch_size is set), each
    // a DELETE that repeats the expiry condition, in its own transaction, with
    // a kClearCacheKiB page cache. `keys` come back in key order.
    BulkResult delete_expired(const DateTime& now, DryRun dry_run, bool want_keys,
                              const BulkOptions& options = {}) override;
    // DELETE ... WHERE session_key = ? AND session_data = ?, kUnchangedBatchRows
    // per transaction; `removed` counts rows actually deleted.
    BulkResult delete_if_unchanged(const std::vector<StoredSession>& rows, bool want_keys) override;
    // All of `writes` in one BEGIN IMMEDIATE transaction: an INSERT whose key
    // is taken fails alone (SQLite aborts the statement, not the
    // transaction); a replace is an UPDATE that repeats the expected data.
    [[nodiscard]] std::vector<bool> write_rows(const std::vector<RowWrite>& writes) override;
    // UPDATE ... SET session_data WHERE session_key = ? AND session_data = ?,
    // kUnchangedBatchRows per transaction.
    RewriteResult update_if_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) override;
    // Every row in rowid order (creation order; the table's own pages in
    // sequence), read a page at a time: memory stays bounded and no read lock is held while `visit`
    // runs, so a long scan never blocks the site's writers. `visit` may call
    // this table's other methods, though the safe, documented pattern is to
    // collect what to change and do it after scan returns. Not a snapshot: rows
    // written meanwhile may or may not be visited; each row is visited at most
    // once (a key deleted and created again meanwhile is a new row). An expire_date that cannot be parsed reads as nullopt.
    void scan(const std::function<bool(const StoredSession&)>& visit) override;
    [[nodiscard]] bool expired(const DateTime& expire_date, const DateTime& now) const override;

    [[nodiscard]] const std::string& path() const;
    [[nodiscard]] const std::string& table_name() const;

private:
    struct Impl;
    friend std::unique_ptr<SqliteTable> open_sqlite_table(const std::string& path, SqliteOptions options);
    explicit SqliteTable(std::unique_ptr<Impl> impl);

    std::unique_ptr<Impl> impl_;
};

// Opens `path` and checks, before anything is written, that it is a SQLite
// database holding options.table. Errors:
//   missing file (and !create_if_missing)  StoreError "database file not found: PATH"
//   not a database                          StoreError "PATH is not a SQLite database"
//   no such table                           StoreError "no django_session table in PATH: run manage.py migrate"
//   locked past the busy timeout            StoreUnavailable "database is locked by another process (PATH); try again"
[[nodiscard]] std::unique_ptr<SqliteTable> open_sqlite_table(const std::string& path, SqliteOptions options = {});

// The table DATABASES["default"] (django.db.backends.sqlite3) names: NAME is
// the file, OPTIONS.timeout the busy timeout, TIME_ZONE (USE_TZ only, as
// Django's ImproperlyConfigured) the zone of expire_date's wall clock.
// Throws ConfigError for a bad entry or an unknown zone.
[[nodiscard]] std::unique_ptr<SqliteTable> open_sqlite_table_for(const nlohmann::json& database, bool use_tz,
                                                                 bool read_only, bool create_if_missing);

// Django's CREATE TABLE / CREATE INDEX statements for a session table, exactly
// as `manage.py migrate` issues them on SQLite (index name included).
[[nodiscard]] std::vector<std::string> django_session_ddl(std::string_view table = "django_session");

}  // namespace sessionctl
