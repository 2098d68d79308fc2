#pragma once

// Django's django_session table in PostgreSQL, read and written with the SQL
// Django's db engine runs there (through backends/pg_connection, the only
// file that sees libpq).
//
// A live site shares the table, so: every write is one short transaction;
// lock_timeout and statement_timeout are set for our session, so we never
// queue behind (or in front of) the site for long; clear_expired deletes in
// keyset-ordered batches that skip rows a live request holds locked; scans
// read keyset pages (no transaction, no snapshot held while the caller works).
//
// Schema facts are read from the catalog at open: expire_date's type
// (timestamptz, as Django creates it, or timestamp), extra columns of a custom
// AbstractBaseSession model, the unique index on session_key (only its
// violation is a taken key), and foreign keys that reference the table.
//
// One PgTable is one connection: not safe to share between threads.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/postgres/pg_connection.hpp"
#include "backends/sql/session_table.hpp"

namespace sessionctl {

struct PgOptions {
    std::string table = "django_session";  // db_table of the session model (search_path applies)
    // USE_TZ: expire_date values are UTC instants; otherwise naive wall-clock
    // values in time_zone, exactly as Django binds them.
    bool use_tz = true;
    std::string time_zone = "UTC";  // the session's TimeZone (see PgSettings)
    // default_transaction_read_only: reads and dry runs work, writes throw StoreError.
    bool read_only = false;
    // Create Django's table (sessions.0001_initial) when it is missing; for
    // tests and demos. Off by default: a wrong database is an error, not a
    // new empty table.
    bool create_if_missing = false;
    // Per-session limits; zero leaves the server's (or OPTIONS' -c ...) value.
    std::chrono::milliseconds lock_timeout{5000};
    std::chrono::milliseconds statement_timeout{60000};
    // clearsessions walks the table's pages on PostgreSQL 14+ (TID range
    // scans); false takes the expire_date keyset that older servers get, so
    // tests cover both on one server.
    bool walk_pages = true;
};

// A foreign key from another table to this one's session_key.
struct PgReference {
    std::string table;  // as written in messages: schema.table when not in search_path
    std::string column;
    std::string constraint;
    char on_delete = 'a';  // pg_constraint.confdeltype: a no action, r restrict, c cascade, n/d set null/default
    [[nodiscard]] bool rejects_delete() const { return on_delete == 'a' || on_delete == 'r'; }
};

struct PgSchema {
    std::string qualified_table;                // quoted schema.table used in statements
    std::string expire_type;                    // "timestamp with time zone" or "timestamp without time zone"
    std::vector<std::string> extra_columns;     // besides Django's three
    std::vector<std::string> required_columns;  // extra, NOT NULL without a default: INSERT must fail
    std::vector<std::string> key_indexes;       // unique indexes on session_key alone
    std::vector<PgReference> references;
    // How scan() orders keys by bytes: "pattern_ops" (Django's _like index),
    // "c_collation" (the key's collation is C) or "collate_c" (sorts: no index).
    std::string scan_order;
};

class PgTable final : public SessionTable {
public:
    static constexpr std::size_t kScanPageRows = 2000;
    // Row locks: a batch locks only expired rows no request writes (SKIP
    // LOCKED passes over any that one holds), so the site's writers never
    // queue behind it and no pause is needed; batches of about half a second
    // keep the per-statement overhead small.
    static constexpr BulkDefaults kBulkDefaults{std::chrono::milliseconds{500}, std::chrono::milliseconds{0}};
    static constexpr std::size_t kUnchangedBatchRows = 1000;

    ~PgTable() override;
    PgTable(const PgTable&) = delete;
    PgTable& operator=(const PgTable&) = delete;

    // INSERT; false only on a violation of the unique index on session_key.
    // A NOT NULL extra column throws StoreError naming it.
    [[nodiscard]] bool insert(const StoredSession& row) override;
    [[nodiscard]] bool update(const StoredSession& row) override;
    [[nodiscard]] std::optional<StoredSession> select_live(std::string_view key, const DateTime& now) override;
    [[nodiscard]] std::optional<StoredSession> select(std::string_view key) override;
    [[nodiscard]] bool exists(std::string_view key) override;
    // Refuses (StoreError naming the referencing table) when a foreign key
    // that would reject the delete references the row.
    void erase(std::string_view key) override;
    // Batches of FOR UPDATE SKIP LOCKED rows in (expire_date, session_key)
    // order, each deleted in its own transaction with the expiry condition
    // repeated. Rows a rejecting foreign key references are kept; after the
    // sweep that throws StoreError naming the table (the rest is deleted).
    BulkResult delete_expired(const DateTime& now, DryRun dry_run, bool want_keys,
                              const BulkOptions& options = {}) override;
    // Refuses before deleting anything when a rejecting foreign key references
    // one of the rows; then DELETE ... USING unnest(keys, datas), in batches.
    BulkResult delete_if_unchanged(const std::vector<StoredSession>& rows, bool want_keys) override;
    // One transaction: INSERT ... ON CONFLICT ("session_key") DO NOTHING per
    // create (a taken key is no error that would abort the transaction), an
    // UPDATE that repeats the expected data per replace.
    [[nodiscard]] std::vector<bool> write_rows(const std::vector<RowWrite>& writes) override;
    // UPDATE ... FROM unnest(keys, old datas, new datas), kUnchangedBatchRows a statement.
    RewriteResult update_if_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) override;
    // Key (byte) order, kScanPageRows per keyset page.
    void scan(const std::function<bool(const StoredSession&)>& visit) override;

    [[nodiscard]] const PgSchema& schema() const;
    [[nodiscard]] const std::string& target() const;
    // Plain-language notes on what the catalog showed (extra columns, foreign
    // keys), for -v and for `stats`; empty for Django's own table.
    [[nodiscard]] std::vector<std::string> schema_notes() const;
    // schema_notes() as notes (-v), the first time only.
    [[nodiscard]] std::vector<StoreMessage> take_messages() override;

private:
    struct Impl;
    friend std::unique_ptr<PgTable> open_pg_table(const PgParams& params, PgOptions options);
    explicit PgTable(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Connects, sets the session (TimeZone, DateStyle, timeouts, read-only) and
// reads the schema. Errors: server down / auth failed -> StoreUnavailable;
// no such database or table -> StoreMissing ("run manage.py migrate");
// an expire_date that is no timestamp -> StoreError.
[[nodiscard]] std::unique_ptr<PgTable> open_pg_table(const PgParams& params, PgOptions options = {});

// Django's migration sessions.0001_initial on PostgreSQL (USE_TZ or not: the
// column is timestamp with time zone either way), index names included.
[[nodiscard]] std::vector<std::string> django_session_pg_ddl(std::string_view table = "django_session");

}  // namespace sessionctl
