#pragma once

// Django's django_session table in MySQL or MariaDB, read and written with
// the SQL Django's db engine runs there (through mysql_connection, the only
// file that sees libmariadb).
//
// A live site shares the table, so: every write is one short transaction;
// innodb_lock_wait_timeout and the statement time limit (max_statement_time
// on MariaDB, max_execution_time on MySQL) are set for our connection only,
// so we never queue behind (or in front of) the site for long; clear_expired
// deletes in keyed batches, each its own transaction bounded by time and by
// the bytes it writes (Galera certifies a transaction's whole write set at
// once), that skip rows a live request holds (FOR UPDATE SKIP LOCKED where
// the server has it); never DELETE ... LIMIT, which statement-based
// replication cannot replay safely. Scans read keyset pages.
//
// expire_date is datetime(6) holding a naive value, as Django's MySQL backend
// writes it: UTC with USE_TZ (or the wall clock of DATABASES TIME_ZONE when
// set), the local wall clock (TIME_ZONE) without. Values in and out of this
// class are naive UTC with USE_TZ whatever the zone.
//
// Schema facts are read from information_schema at open: the column types,
// extra columns of a custom AbstractBaseSession model, unique indexes on
// session_key (only their violation is a taken key) and foreign keys that
// reference the table (InnoDB enforces them at once).
//
// One MysqlTable is one connection: not safe to share between threads.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/mysql/mysql_connection.hpp"
#include "backends/sql/session_table.hpp"

namespace sessionctl {

class TimeZone;

struct MysqlOptions {
    std::string table = "django_session";  // db_table of the session model
    bool use_tz = true;                    // expire_date holds naive UTC (else naive local)
    // DATABASES TIME_ZONE with USE_TZ (null: UTC): expire_date is written and
    // compared as this zone's wall clock (make_naive) and read back from it
    // (make_aware, fold=0), as Django's MySQL backend does.
    std::shared_ptr<const TimeZone> zone;
    // SET SESSION TRANSACTION READ ONLY: reads and dry runs work, writes throw StoreError.
    bool read_only = false;
    // Create Django's table (sessions.0001_initial) when it is missing; for
    // tests and demos only.
    bool create_if_missing = false;
    // OPTIONS["isolation_level"] as Django sets it ("" leaves the server's).
    // clearsessions' batches run READ COMMITTED whatever it says: under
    // REPEATABLE READ their locking reads would also lock the gaps between
    // index records, where the site inserts.
    std::string isolation_level = "read committed";
    // Per-connection limits; zero leaves the server's (or init_command's).
    std::chrono::seconds lock_wait_timeout{5};
    std::chrono::milliseconds statement_timeout{60000};
    // FOR UPDATE SKIP LOCKED when the server has it (MariaDB >= 10.6, MySQL >=
    // 8.0.1); false takes the plain keyed batches older servers get, so tests
    // cover both on one server.
    bool skip_locked = true;
};

// A foreign key from another table to this one's session_key.
struct MysqlReference {
    std::string table;  // as written in messages: db.table when in another database
    std::string quoted_table;
    std::string column;
    std::string constraint;
    std::string delete_rule;  // RESTRICT, NO ACTION, CASCADE, SET NULL, SET DEFAULT
    [[nodiscard]] bool rejects_delete() const { return delete_rule == "RESTRICT" || delete_rule == "NO ACTION"; }
};

struct MysqlSchema {
    std::string expire_type;                    // "datetime(6)" as Django creates it, or another datetime/timestamp
    std::vector<std::string> extra_columns;     // besides Django's three
    std::vector<std::string> required_columns;  // extra, NOT NULL without a default: INSERT must fail
    std::vector<std::string> key_indexes;       // unique indexes on session_key alone ("PRIMARY", ...)
    std::vector<MysqlReference> references;
    std::string engine;  // InnoDB, ...
};

class MysqlTable final : public SessionTable {
public:
    static constexpr std::size_t kScanPageRows = 1000;
    // Row locks, as on PostgreSQL: a batch locks only expired rows no request
    // holds, so the site's writers never wait for it and no pause is needed.
    static constexpr BulkDefaults kBulkDefaults{std::chrono::milliseconds{500}, std::chrono::milliseconds{0}};
    // A batch's write set: at most this many rows and about this many bytes
    // of session_data (Galera's wsrep_max_ws_rows / wsrep_max_ws_size, and a
    // replica applying one binlog event, both see the whole transaction).
    static constexpr std::size_t kMaxBatchRows = 50000;
    static constexpr std::size_t kMaxBatchBytes = 32 * 1024 * 1024;
    static constexpr std::size_t kUnchangedBatchRows = 500;
    static constexpr std::size_t kUnchangedBatchBytes = 4 * 1024 * 1024;

    ~MysqlTable() override;
    MysqlTable(const MysqlTable&) = delete;
    MysqlTable& operator=(const MysqlTable&) = delete;

    // INSERT; false only on a duplicate in a unique index on session_key.
    [[nodiscard]] bool insert(const StoredSession& row) override;
    [[nodiscard]] bool update(const StoredSession& row) override;
    [[nodiscard]] std::optional<StoredSession> select_live(std::string_view key, const DateTime& now) override;
    [[nodiscard]] std::optional<StoredSession> select(std::string_view key) override;
    [[nodiscard]] bool exists(std::string_view key) override;
    // Refuses (StoreError naming the referencing table and foreign key) when
    // a foreign key that would reject the delete references the row.
    void erase(std::string_view key) override;
    // Keyed batches in (expire_date, session_key) order, each its own
    // transaction with the expiry condition repeated. Rows a rejecting foreign
    // key references are kept; after the sweep that throws StoreError naming
    // the table and constraint (the rest is deleted).
    BulkResult delete_expired(const DateTime& now, DryRun dry_run, bool want_keys,
                              const BulkOptions& options = {}) override;
    // Refuses before deleting anything when a rejecting foreign key references
    // one of the rows; then, per batch, locks the rows whose key and data
    // (compared byte for byte) still match and deletes exactly those.
    BulkResult delete_if_unchanged(const std::vector<StoredSession>& rows, bool want_keys) override;
    // One transaction per call: creates as multi-row INSERTs (a chunk with a
    // taken key redone row by row: a duplicate-key error rolls back only its
    // statement), replaces as update_if_unchanged's locked compare-and-update
    // that also sets expire_date.
    [[nodiscard]] std::vector<bool> write_rows(const std::vector<RowWrite>& writes) override;
    // Per chunk of kUnchangedBatchRows (and a few MiB), one transaction: lock
    // the rows, compare their data byte for byte, UPDATE those unchanged.
    RewriteResult update_if_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) override;
    // Key order in the column's collation (byte order for Django's keys),
    // kScanPageRows per keyset page.
    void scan(const std::function<bool(const StoredSession&)>& visit) override;
    [[nodiscard]] bool expired(const DateTime& expire_date, const DateTime& now) const override;

    [[nodiscard]] const MysqlSchema& schema() const;
    [[nodiscard]] const std::string& target() const;
    [[nodiscard]] std::vector<std::string> schema_notes() const;
    [[nodiscard]] std::vector<StoreMessage> take_messages() override;

    struct Impl;

private:
    friend std::unique_ptr<MysqlTable> open_mysql_table(const MysqlParams& params, MysqlOptions options);
    explicit MysqlTable(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Connects, sets the session (isolation level, timeouts, read-only) and reads
// the schema. Errors: server down / access denied -> StoreUnavailable; no
// such database or table -> StoreMissing ("run manage.py migrate"); an
// expire_date that is no datetime -> StoreError.
[[nodiscard]] std::unique_ptr<MysqlTable> open_mysql_table(const MysqlParams& params, MysqlOptions options = {});

// Django's migration sessions.0001_initial on MySQL, index name included.
[[nodiscard]] std::vector<std::string> django_session_mysql_ddl(std::string_view table = "django_session");

}  // namespace sessionctl
