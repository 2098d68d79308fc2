#include "backends/postgres/pg_table.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "backends/bulk_pacer.hpp"
#include "backends/sql/sql_naming.hpp"
#include "core/errors.hpp"
#include "util/text.hpp"

namespace sessionctl {
namespace {

// A session key in a message: enough to find it, not enough to use it.
std::string key_hint(std::string_view key) {
    return key.size() > 8 ? fmt::format("{}...", key.substr(0, 8)) : std::string(key);
}

}  // namespace

struct PgTable::Impl {
    std::unique_ptr<PgConnection> conn;
    PgOptions options;
    PgSchema schema;
    std::string t;          // qualified, quoted table name
    std::string columns;    // session_key, session_data, expire_date (as Django's naive value)
    std::string key_after;  // keyset condition of scan()
    std::string key_order;
    bool schema_notes_taken = false;  // by take_messages()

    // The text and type Django's driver binds for a datetime: an aware UTC
    // value with USE_TZ (the server converts it for either column type), a
    // naive wall-clock value otherwise (read in the session's TimeZone).
    [[nodiscard]] PgParam datetime_param(const DateTime& value) const {
        DateTime naive = value.aware() ? DateTime{value.utc_micros(), std::nullopt} : value;
        if (options.use_tz) return {naive.str_naive() + "+00:00", PgType::timestamptz};
        return {naive.str_naive(), PgType::timestamp};
    }

    [[nodiscard]] static std::optional<DateTime> read_datetime(const PgResult& r, int row, int column) {
        if (r.is_null(row, column)) return std::nullopt;
        try {
            auto parsed = parse_django_datetime(r.text(row, column));
            if (parsed && parsed->aware()) return DateTime{parsed->utc_micros(), std::nullopt};
            return parsed;
        } catch (const DateTimeError&) {
            return std::nullopt;  // infinity, BC, year > 9999: no datetime Django could hold
        }
    }

    [[nodiscard]] static StoredSession session(const PgResult& r, int row) {
        return {r.string(row, 0), r.string(row, 1), read_datetime(r, row, 2)};
    }

    // Rollback unless committed: a failed batch leaves nothing half done.
    class Transaction {
    public:
        Transaction(PgConnection& conn, std::string_view what) : conn_(conn) { conn.run("BEGIN", what); }
        ~Transaction() {
            if (conn_.in_transaction()) (void)conn_.try_exec("ROLLBACK", {});
        }
        Transaction(const Transaction&) = delete;
        Transaction& operator=(const Transaction&) = delete;
        void commit(std::string_view what) { conn_.run("COMMIT", what); }

    private:
        PgConnection& conn_;
    };

    [[nodiscard]] std::vector<const PgReference*> rejecting_references() const {
        std::vector<const PgReference*> out;
        for (const auto& ref : schema.references)
            if (ref.rejects_delete()) out.push_back(&ref);
        return out;
    }

    [[nodiscard]] std::string refusal(const PgReference& ref, std::uint64_t count, std::string_view sample) const {
        return fmt::format(
            "refusing to delete {} (e.g. {}): still referenced from table {} (column {}, foreign key {}), which "
            "would reject the delete. Django deletes through its model's on_delete, which sessionctl cannot "
            "see: delete the referencing rows first, or delete these sessions through Django",
            count_of(count, "session"), key_hint(sample), ref.table, ref.column, ref.constraint);
    }

    // Before deleting `keys`: a rejecting foreign key that references any of
    // them refuses the whole operation, naming the table.
    void refuse_referenced(const std::vector<std::string_view>& keys, std::string_view what) {
        for (const PgReference* ref : rejecting_references()) {
            for (std::size_t start = 0; start < keys.size(); start += kUnchangedBatchRows) {
                std::vector<std::string_view> chunk(
                    keys.begin() + static_cast<std::ptrdiff_t>(start),
                    keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), start + kUnchangedBatchRows)));
                PgResult r = conn->exec(
                    fmt::format("SELECT count(DISTINCT r.{0}), min(r.{0}::text) FROM {1} r WHERE r.{0}::text = "
                                "ANY($1::text[])",
                                quote_sql_identifier(ref->column), ref->table),
                    {{pg_text_array(chunk), PgType::text_array}}, what);
                const std::uint64_t count = r.rows() > 0 ? std::stoull(r.string(0, 0)) : 0;
                if (count > 0) throw StoreError(refusal(*ref, count, r.text(0, 1)));
            }
        }
    }

    // A deferred foreign key (Django creates them DEFERRABLE INITIALLY
    // DEFERRED) that fired at COMMIT: a referencing row appeared after our check.
    [[noreturn]] void fail_write(const PgFailure& failure, std::string_view what) {
        if (failure.sqlstate == "23503")
            throw StoreError(
                fmt::format("cannot {}: a row in table {} references the session (foreign key {}); "
                            "nothing was deleted by this statement",
                            what, failure.table, failure.constraint));
        if (failure.sqlstate == "23502")
            throw StoreError(fmt::format(
                "cannot {}: column {} of {} is NOT NULL without a default (a custom session model?); sessionctl "
                "writes only session_key, session_data and expire_date",
                what, failure.column, options.table));
        if (failure.sqlstate == "25006")
            throw StoreError(fmt::format("cannot {}: {} was opened read-only", what, conn->target()));
        conn->fail(failure, what);
    }

    PgResult write(std::string_view sql, const std::vector<PgParam>& params, std::string_view what) {
        PgResult r = conn->try_exec(sql, params);
        if (!r.ok()) fail_write(*r.failure(), what);
        return r;
    }

    void commit(Transaction& tx, std::string_view what) {
        PgResult r = conn->try_exec("COMMIT", {});
        if (!r.ok()) fail_write(*r.failure(), what);
        (void)tx;
    }

    void setup_session() {
        std::string sql = fmt::format("SET TIME ZONE {}; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'",
                                      conn->quote_literal(options.time_zone));
        if (options.lock_timeout.count() > 0)
            sql += fmt::format("; SET lock_timeout = {}", options.lock_timeout.count());
        if (options.statement_timeout.count() > 0)
            sql += fmt::format("; SET statement_timeout = {}", options.statement_timeout.count());
        // A stuck or killed-and-hung sessionctl never holds row locks for long.
        sql += "; SET idle_in_transaction_session_timeout = 60000";
        if (options.read_only) sql += "; SET default_transaction_read_only = on";
        PgResult r = conn->try_run(sql);
        if (!r.ok()) {
            if (r.failure()->sqlstate == "22023")
                throw StoreError(fmt::format("PostgreSQL at {} does not know the time zone '{}' (TIME_ZONE)",
                                             conn->target(), options.time_zone));
            conn->fail(*r.failure(), "set up the session");
        }
    }

    [[nodiscard]] std::optional<std::string> table_oid() {
        PgResult r = conn->exec("SELECT to_regclass($1)::oid::text", {{quote_sql_identifier(options.table)}},
                                "look up the session table");
        if (r.rows() == 0 || r.is_null(0, 0)) return std::nullopt;
        return r.string(0, 0);
    }

    void create_table() {
        Transaction tx(*conn, "create the session table");
        for (const auto& statement : django_session_pg_ddl(options.table))
            conn->run(statement, "create the session table");
        commit(tx, "create the session table");
    }

    void read_schema(const std::string& oid) {
        const std::string what = "read the session table's schema";
        PgResult name = conn->exec(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relkind FROM pg_class c JOIN "
            "pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid",
            {{oid}}, what);
        schema.qualified_table = name.string(0, 0);
        t = schema.qualified_table;

        PgResult cols = conn->exec(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, (a.atthasdef OR a.attidentity <> "
            "'' OR a.attgenerated <> ''), a.attnum, coalesce(coll.collname, '') FROM pg_attribute a LEFT JOIN "
            "pg_collation coll ON coll.oid = a.attcollation WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT "
            "a.attisdropped ORDER BY a.attnum",
            {{oid}}, what);
        std::string key_attnum;
        std::string key_collation;
        bool has_data = false;
        for (int i = 0; i < cols.rows(); ++i) {
            const std::string column = cols.string(i, 0);
            if (column == "session_key") {
                key_attnum = cols.string(i, 4);
                key_collation = cols.string(i, 5);
            } else if (column == "session_data") {
                has_data = true;
            } else if (column == "expire_date") {
                schema.expire_type = cols.string(i, 1);
            } else {
                schema.extra_columns.push_back(column);
                if (cols.text(i, 2) == "t" && cols.text(i, 3) == "f") schema.required_columns.push_back(column);
            }
        }
        if (key_attnum.empty() || !has_data || schema.expire_type.empty())
            throw StoreError(
                fmt::format("table {} in {} lacks Django's session columns (session_key, session_data, "
                            "expire_date)",
                            options.table, conn->target()));
        if (schema.expire_type != "timestamp with time zone" && schema.expire_type != "timestamp without time zone")
            throw StoreError(fmt::format("expire_date of {} in {} is {}, not a timestamp: not a Django session table",
                                         options.table, conn->target(), schema.expire_type));

        PgResult unique = conn->exec(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::oid AND "
            "i.indisunique AND i.indnkeyatts = 1 AND i.indkey[0] = $2::int2",
            {{oid}, {key_attnum}}, what);
        for (int i = 0; i < unique.rows(); ++i) schema.key_indexes.push_back(unique.string(i, 0));

        PgResult refs = conn->exec(
            "SELECT CASE WHEN pg_table_is_visible(c.oid) THEN quote_ident(c.relname) ELSE quote_ident(n.nspname) "
            "|| '.' || quote_ident(c.relname) END, a.attname, con.conname, con.confdeltype FROM pg_constraint con "
            "JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN "
            "pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1] WHERE con.contype = 'f' AND "
            "con.confrelid = $1::oid AND array_length(con.conkey, 1) = 1 AND con.confkey[1] = $2::int2 ORDER BY 1, 2",
            {{oid}, {key_attnum}}, what);
        for (int i = 0; i < refs.rows(); ++i)
            schema.references.push_back({refs.string(i, 0), refs.string(i, 1), refs.string(i, 2), refs.text(i, 3)[0]});

        // Byte order for scan(): Django's varchar_pattern_ops index when there
        // is one, the primary key's own order under a C collation, else a sort.
        PgResult pattern = conn->exec(
            "SELECT 1 FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0] WHERE i.indrelid = $1::oid AND "
            "i.indkey[0] = $2::int2 AND i.indpred IS NULL AND o.opcname IN ('varchar_pattern_ops', "
            "'text_pattern_ops') LIMIT 1",
            {{oid}, {key_attnum}}, what);
        std::string db_collation;
        if (key_collation == "default") {
            PgResult db = conn->exec("SELECT datcollate FROM pg_database WHERE datname = current_database()", {}, what);
            if (db.rows() > 0) db_collation = db.string(0, 0);
        }
        const bool c_collation = key_collation == "C" || key_collation == "POSIX" ||
                                 (key_collation == "default" && (db_collation == "C" || db_collation == "POSIX"));
        if (c_collation) {
            schema.scan_order = "c_collation";
            key_after = R"("session_key" > $1)";
            key_order = R"(ORDER BY "session_key")";
        } else if (pattern.rows() > 0) {
            schema.scan_order = "pattern_ops";
            key_after = R"("session_key" ~>~ $1)";
            key_order = R"(ORDER BY "session_key" USING ~<~)";
        } else {
            schema.scan_order = "collate_c";
            key_after = R"("session_key" COLLATE "C" > $1)";
            key_order = R"(ORDER BY "session_key" COLLATE "C")";
        }

        columns = options.use_tz ? R"("session_key", "session_data", ("expire_date"::timestamptz AT TIME ZONE 'UTC'))"
                                 : R"("session_key", "session_data", "expire_date"::timestamp)";
    }

    // The rows a rejecting foreign key keeps among the expired ones, per table.
    [[nodiscard]] std::string kept_by_references(const PgParam& cutoff) {
        std::vector<std::string> parts;
        for (const PgReference* ref : rejecting_references()) {
            PgResult r = conn->exec(fmt::format(R"(SELECT count(DISTINCT s."session_key") FROM {} s JOIN {} r ON )"
                                                R"(r.{}::text = s."session_key"::text WHERE s."expire_date" < $1)",
                                                t, ref->table, quote_sql_identifier(ref->column)),
                                    {cutoff}, "count referenced sessions");
            const std::uint64_t n = r.rows() ? std::stoull(r.string(0, 0)) : 0;
            if (n > 0)
                parts.push_back(fmt::format("{} referenced from table {} (column {}, foreign key {})",
                                            count_of(n, "session"), ref->table, ref->column, ref->constraint));
        }
        std::string joined;
        for (const auto& p : parts) joined += (joined.empty() ? "" : "; ") + p;
        return joined;
    }

    // After a clearsessions: expired rows a foreign key kept make it fail,
    // saying which table holds them and what was removed.
    void refuse_kept_by_references(const PgParam& cutoff, std::uint64_t removed) {
        if (rejecting_references().empty()) return;
        const std::string detail = kept_by_references(cutoff);
        if (detail.empty()) return;
        throw StoreError(fmt::format(
            "removed {} but kept the sessions that foreign keys would not let go: {}. Django deletes through its "
            "model's on_delete, which sessionctl cannot see: run manage.py clearsessions, or delete the "
            "referencing rows first",
            count_of(removed, "expired session"), detail));
    }

    // clearsessions on PostgreSQL 14 and later: batches walk the table's pages
    // in physical order (TID range scans), as SQLite's walk rowid ranges, so
    // the whole job reads the table once, in sequence, whatever order expiry
    // dates lie in. A walk of the expire_date index visits the heap at
    // random: on a table not written in expiry order it measured 12x slower
    // than Django's single DELETE. Tuples written after the start (new, hence
    // live, sessions) lie past the pages walked.
    //
    // Each window of pages is first one plain DELETE with the expiry
    // condition, under a short lock_timeout (kQuickLockWaitMs): nothing but a
    // request holding one of its rows can make it wait, and such a request
    // commits in milliseconds (its row then no longer matches if it extended
    // the expiry). Locking rows first (SELECT ... FOR UPDATE SKIP LOCKED)
    // writes every tuple twice, and measured 2.5x Django's time for that
    // alone. Only a window whose DELETE did wait past kQuickLockWaitMs is done
    // again, rolled back, with FOR UPDATE SKIP LOCKED: the rows a live request
    // holds stay for the next run. Rows a foreign key keeps are never picked.
    static constexpr int kQuickLockWaitMs = 100;
    static constexpr std::uint64_t kDensitySamplePages = 1000;

    BulkResult delete_expired_by_pages(const PgParam& cutoff, bool want_keys, const BulkOptions& options,
                                       std::uint64_t total, std::string_view what) {
        BulkResult result;
        PgResult shape =
            conn->exec(R"(SELECT pg_relation_size(c.oid) / current_setting('block_size')::bigint, )"
                       R"(CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples / c.relpages ELSE 0 END )"
                       R"(FROM pg_class c WHERE c.oid = $1::regclass)",
                       {{t}}, "measure the session table");
        const std::uint64_t pages = std::stoull(shape.string(0, 0));
        // Rows a page holds: turns a batch size in rows into a window of
        // pages. As the last ANALYZE (or VACUUM) saw; a table never analyzed
        // has no such figure (reltuples is -1, 0 before PostgreSQL 14), so
        // the first pages are counted instead, a TID range scan of at most
        // kDensitySamplePages pages.
        double rows_per_page = std::stod(shape.string(0, 1));
        if (rows_per_page <= 0 && pages > 0) {
            const std::uint64_t sample = std::min<std::uint64_t>(pages, kDensitySamplePages);
            PgResult counted = conn->exec(fmt::format("SELECT count(*) FROM {} WHERE ctid < $1::tid", t),
                                          {{fmt::format("({},0)", sample)}}, "measure the session table");
            rows_per_page = std::stod(counted.string(0, 0)) / static_cast<double>(sample);
        }
        rows_per_page = std::max(1.0, rows_per_page);
        const std::string plain_sql =
            fmt::format(R"(DELETE FROM {0} c WHERE c.ctid >= $2::tid AND c.ctid < $3::tid AND c."expire_date" < $1{1})",
                        t, unreferenced_condition("c")) +
            (want_keys ? R"( RETURNING c."session_key")" : "");
        const std::string skip_locked_sql = fmt::format(
            R"(DELETE FROM {0} s WHERE s.ctid = ANY(ARRAY()"
            R"(SELECT c.ctid FROM {0} c WHERE c.ctid >= $2::tid AND c.ctid < $3::tid AND c."expire_date" < $1{1} )"
            R"(FOR UPDATE SKIP LOCKED)) AND s."expire_date" < $1 RETURNING s."session_key")",
            t, unreferenced_condition("c"));  // "r" names the referencing table there
        const bool quick_wait =
            options_lock_timeout_ms() == 0 || options_lock_timeout_ms() > static_cast<std::int64_t>(kQuickLockWaitMs);

        BulkPacer pacer(options, PgTable::kBulkDefaults);
        std::uint64_t page = 0;
        while (page < pages && pacer.may_start(result)) {
            const std::size_t limit = pacer.batch_size();
            const auto window =
                std::max<std::uint64_t>(1, static_cast<std::uint64_t>(static_cast<double>(limit) / rows_per_page));
            const std::uint64_t end = std::min(pages, page + std::min<std::uint64_t>(window, pages));
            const std::vector<PgParam> params{cutoff, {fmt::format("({},0)", page)}, {fmt::format("({},0)", end)}};
            const auto started = BulkPacer::Clock::now();
            std::optional<PgResult> deleted;
            {
                Transaction tx(*conn, what);
                if (quick_wait) conn->run(fmt::format("SET LOCAL lock_timeout = {}", kQuickLockWaitMs), what);
                PgResult r = conn->try_exec(plain_sql, params);
                if (r.ok()) {
                    commit(tx, what);
                    deleted.emplace(std::move(r));
                } else if (r.failure()->sqlstate != "55P03") {
                    fail_write(*r.failure(), what);
                }
            }
            std::uint64_t n = 0;
            if (deleted) {
                n = want_keys ? static_cast<std::uint64_t>(deleted->rows()) : deleted->affected();
            } else {  // a live request held a row: this window again, passing over what is locked
                Transaction tx(*conn, what);
                deleted.emplace(write(skip_locked_sql, params, what));
                commit(tx, what);
                n = static_cast<std::uint64_t>(deleted->rows());
            }
            pacer.finished(BulkPacer::Clock::now() - started);

            result.batches += 1;
            result.matched += n;
            result.removed += n;
            if (want_keys)
                for (int i = 0; i < deleted->rows(); ++i) result.keys.push_back(deleted->string(i, 0));
            if (options.progress) options.progress(result.removed, std::max(total, result.removed));
            page = end;
            if (page < pages) pacer.pause();
        }
        return result;
    }

    [[nodiscard]] std::int64_t options_lock_timeout_ms() const { return options.lock_timeout.count(); }

    // NOT EXISTS for every rejecting foreign key: a batch never tries to
    // delete a row the database would refuse to (which would fail it whole).
    [[nodiscard]] std::string unreferenced_condition(std::string_view alias) const {
        std::string sql;
        for (const PgReference* ref : rejecting_references())
            sql += fmt::format(R"( AND NOT EXISTS (SELECT 1 FROM {} r WHERE r.{}::text = {}."session_key"::text))",
                               ref->table, quote_sql_identifier(ref->column), alias);
        return sql;
    }
};

std::vector<std::string> django_session_pg_ddl(std::string_view table) {
    const std::string t = quote_sql_identifier(table);
    // As `manage.py sqlmigrate sessions 0001` prints them (PostgreSQL names
    // are at most 63 characters).
    constexpr std::size_t kPgMaxNameLength = 63;
    const std::string expire_index = django_index_name(table, "expire_date", {}, kPgMaxNameLength);
    const std::string like_index = django_index_name(table, "session_key", "_like", kPgMaxNameLength);
    return {
        fmt::format(R"(CREATE TABLE {} ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, )"
                    R"("expire_date" timestamp with time zone NOT NULL))",
                    t),
        fmt::format(R"(CREATE INDEX {} ON {} ("expire_date"))", quote_sql_identifier(expire_index), t),
        fmt::format(R"(CREATE INDEX {} ON {} ("session_key" varchar_pattern_ops))", quote_sql_identifier(like_index),
                    t),
    };
}

std::unique_ptr<PgTable> open_pg_table(const PgParams& params, PgOptions options) {
    auto impl = std::make_unique<PgTable::Impl>();
    impl->options = std::move(options);
    impl->conn = PgConnection::connect(params);
    impl->setup_session();
    auto oid = impl->table_oid();
    if (!oid) {
        if (!impl->options.create_if_missing || impl->options.read_only)
            throw StoreMissing(
                fmt::format("no {} table in {}: run manage.py migrate", impl->options.table, impl->conn->target()));
        impl->create_table();
        oid = impl->table_oid();
        if (!oid)
            throw StoreError(
                fmt::format("created {} in {} but cannot find it", impl->options.table, impl->conn->target()));
    }
    impl->read_schema(*oid);
    return std::unique_ptr<PgTable>(new PgTable(std::move(impl)));
}

PgTable::PgTable(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgTable::~PgTable() = default;

const PgSchema& PgTable::schema() const { return impl_->schema; }
const std::string& PgTable::target() const { return impl_->conn->target(); }

std::vector<StoreMessage> PgTable::take_messages() {
    std::vector<StoreMessage> messages;
    if (impl_->schema_notes_taken) return messages;
    impl_->schema_notes_taken = true;
    for (auto& text : schema_notes()) messages.push_back({StoreMessage::Level::note, std::move(text)});
    return messages;
}

std::vector<std::string> PgTable::schema_notes() const {
    std::vector<std::string> notes;
    const PgSchema& s = impl_->schema;
    if (!s.extra_columns.empty()) {
        std::string list;
        for (const auto& c : s.extra_columns) list += (list.empty() ? "" : ", ") + c;
        notes.push_back(
            fmt::format("{} has columns besides Django's three ({}): a custom AbstractBaseSession "
                        "model; sessionctl reads and deletes rows whole and leaves these columns alone",
                        impl_->options.table, list));
    }
    if (!s.required_columns.empty()) {
        std::string list;
        for (const auto& c : s.required_columns) list += (list.empty() ? "" : ", ") + c;
        notes.push_back(
            fmt::format("{} is NOT NULL without a default: sessionctl cannot create sessions in {} "
                        "(only the model's create_model_instance() knows the value)",
                        list, impl_->options.table));
    }
    for (const auto& ref : s.references) {
        if (ref.rejects_delete())
            notes.push_back(
                fmt::format("table {} references {} (column {}, foreign key {}): sessions it references "
                            "are never deleted by sessionctl (Django would apply the model's on_delete)",
                            ref.table, impl_->options.table, ref.column, ref.constraint));
        else
            notes.push_back(
                fmt::format("table {} references {} (column {}, foreign key {}) with ON DELETE {}: "
                            "the database updates its rows when a session is deleted",
                            ref.table, impl_->options.table, ref.column, ref.constraint,
                            ref.on_delete == 'c' ? "CASCADE" : "SET NULL/DEFAULT"));
    }
    return notes;
}

bool PgTable::insert(const StoredSession& row) {
    if (!row.expire_date)
        throw StoreError(fmt::format("cannot insert session {}: expire_date is required", key_hint(row.key)));
    constexpr std::string_view what = "insert a session";
    PgResult r = impl_->conn->try_exec(
        fmt::format(R"(INSERT INTO {} ("session_key", "session_data", "expire_date") VALUES ($1, $2, $3))", impl_->t),
        {{row.key}, {row.data}, impl_->datetime_param(*row.expire_date)});
    if (r.ok()) return true;
    const PgFailure& failure = *r.failure();
    // Only the key's own unique index is Django's CreateError; any other
    // violation would make create() retry forever.
    if (failure.sqlstate == "23505") {
        const auto& keys = impl_->schema.key_indexes;
        if (std::find(keys.begin(), keys.end(), failure.constraint) != keys.end()) return false;
        throw StoreError(fmt::format("cannot {}: unique constraint {} of {} rejected it (a custom session model?)",
                                     what, failure.constraint, impl_->options.table));
    }
    impl_->fail_write(failure, what);
}

bool PgTable::update(const StoredSession& row) {
    if (!row.expire_date)
        throw StoreError(fmt::format("cannot update session {}: expire_date is required", key_hint(row.key)));
    PgResult r = impl_->write(
        fmt::format(R"(UPDATE {} SET "session_data" = $1, "expire_date" = $2 WHERE "session_key" = $3)", impl_->t),
        {{row.data}, impl_->datetime_param(*row.expire_date), {row.key}}, "update a session");
    return r.affected() > 0;
}

std::optional<StoredSession> PgTable::select_live(std::string_view key, const DateTime& now) {
    PgResult r = impl_->conn->exec(
        fmt::format(R"(SELECT {} FROM {} WHERE ("expire_date" > $1 AND "session_key" = $2))", impl_->columns, impl_->t),
        {impl_->datetime_param(now), {std::string(key)}}, "read a session");
    if (r.rows() == 0) return std::nullopt;
    StoredSession row = Impl::session(r, 0);
    if (!row.expire_date) return std::nullopt;  // infinity: no datetime Django could load
    return row;
}

std::optional<StoredSession> PgTable::select(std::string_view key) {
    PgResult r =
        impl_->conn->exec(fmt::format(R"(SELECT {} FROM {} WHERE "session_key" = $1)", impl_->columns, impl_->t),
                          {{std::string(key)}}, "read a session");
    if (r.rows() == 0) return std::nullopt;
    return Impl::session(r, 0);
}

bool PgTable::exists(std::string_view key) {
    PgResult r = impl_->conn->exec(fmt::format(R"(SELECT 1 FROM {} WHERE "session_key" = $1 LIMIT 1)", impl_->t),
                                   {{std::string(key)}}, "look up a session key");
    return r.rows() > 0;
}

void PgTable::erase(std::string_view key) {
    constexpr std::string_view what = "delete a session";
    impl_->refuse_referenced({key}, what);
    impl_->write(fmt::format(R"(DELETE FROM {} WHERE "session_key" = $1)", impl_->t), {{std::string(key)}}, what);
}

BulkResult PgTable::delete_expired(const DateTime& now, DryRun dry_run, bool want_keys, const BulkOptions& options) {
    constexpr std::string_view what = "delete expired sessions";
    BulkResult result;
    const PgParam cutoff = impl_->datetime_param(now);
    const std::string& t = impl_->t;
    if (dry_run == DryRun::yes) {
        if (want_keys) {
            PgResult r = impl_->conn->exec(fmt::format(R"(SELECT "session_key" FROM {} WHERE "expire_date" < $1)", t),
                                           {cutoff}, "list expired sessions");
            for (int i = 0; i < r.rows(); ++i) result.keys.push_back(r.string(i, 0));
            std::sort(result.keys.begin(), result.keys.end());
            result.matched = result.keys.size();
        } else {
            PgResult r = impl_->conn->exec(fmt::format(R"(SELECT count(*) FROM {} WHERE "expire_date" < $1)", t),
                                           {cutoff}, "count expired sessions");
            result.matched = std::stoull(r.string(0, 0));
        }
        return result;
    }

    std::uint64_t total = 0;
    if (options.progress) {
        PgResult r = impl_->conn->exec(fmt::format(R"(SELECT count(*) FROM {} WHERE "expire_date" < $1)", t), {cutoff},
                                       "count expired sessions");
        total = std::stoull(r.string(0, 0));
    }
    if (impl_->options.walk_pages && impl_->conn->server_version() >= 140000) {
        result = impl_->delete_expired_by_pages(cutoff, want_keys, options, total, what);
        std::sort(result.keys.begin(), result.keys.end());
        impl_->refuse_kept_by_references(cutoff, result.removed);
        return result;
    }
    // Before PostgreSQL 14 (no TID range scans): keyset over
    // (expire_date, session_key), the raw stored value passed back
    // as it came: each batch starts where the last ended, on the expire_date
    // index, however many rows before it were skipped (locked by a live
    // request, or kept for a foreign key) or are dead but not yet vacuumed.
    // The table is aliased: an unqualified "expire_date" in ORDER BY would
    // name the ::text output column and sort every expired row by text.
    const std::string first_batch =
        fmt::format(R"(SELECT s."session_key", s."expire_date"::text FROM {} s WHERE s."expire_date" < $1 )"
                    R"(ORDER BY s."expire_date", s."session_key" LIMIT $2 FOR UPDATE SKIP LOCKED)",
                    t);
    const std::string next_batch =
        fmt::format(R"(SELECT s."session_key", s."expire_date"::text FROM {} s WHERE s."expire_date" < $1 )"
                    R"(AND s."expire_date" >= $3 AND (s."expire_date", s."session_key") > ($3, $4) )"
                    R"(ORDER BY s."expire_date", s."session_key" LIMIT $2 FOR UPDATE SKIP LOCKED)",
                    t);
    const std::string delete_batch =
        fmt::format(R"(DELETE FROM {0} s WHERE s."session_key" = ANY($1::text[]) AND s."expire_date" < $2{1} )"
                    R"(RETURNING s."session_key")",
                    t, impl_->unreferenced_condition("s"));

    BulkPacer pacer(options, kBulkDefaults);
    std::optional<std::pair<std::string, std::string>> last;  // (expire_date text, key)
    std::uint64_t kept = 0;
    while (pacer.may_start(result)) {
        const auto batch_started = BulkPacer::Clock::now();
        Impl::Transaction tx(*impl_->conn, what);
        std::vector<PgParam> params{cutoff, {std::to_string(pacer.batch_size())}};
        if (last) {
            params.push_back({last->first});
            params.push_back({last->second});
        }
        PgResult batch = impl_->conn->exec(last ? next_batch : first_batch, params, what);
        if (batch.rows() == 0) break;
        std::vector<std::string_view> keys;
        keys.reserve(static_cast<std::size_t>(batch.rows()));
        for (int i = 0; i < batch.rows(); ++i) keys.push_back(batch.text(i, 0));
        PgResult deleted = impl_->write(delete_batch, {{pg_text_array(keys), PgType::text_array}, cutoff}, what);
        impl_->commit(tx, what);
        pacer.finished(BulkPacer::Clock::now() - batch_started);

        result.batches += 1;
        result.matched += static_cast<std::uint64_t>(batch.rows());
        result.removed += static_cast<std::uint64_t>(deleted.rows());
        kept += static_cast<std::uint64_t>(batch.rows() - deleted.rows());
        if (want_keys)
            for (int i = 0; i < deleted.rows(); ++i) result.keys.push_back(deleted.string(i, 0));
        last.emplace(batch.string(batch.rows() - 1, 1), batch.string(batch.rows() - 1, 0));
        if (options.progress) options.progress(result.removed, std::max(total, result.removed));
        if (static_cast<std::size_t>(batch.rows()) < std::stoull(params[1].value.value())) break;
        pacer.pause();
    }
    std::sort(result.keys.begin(), result.keys.end());
    if (kept > 0) impl_->refuse_kept_by_references(cutoff, result.removed);
    return result;
}

BulkResult PgTable::delete_if_unchanged(const std::vector<StoredSession>& rows, bool want_keys) {
    constexpr std::string_view what = "delete sessions";
    BulkResult result;
    {
        std::vector<std::string_view> keys;
        keys.reserve(rows.size());
        for (const auto& row : rows) keys.push_back(row.key);
        impl_->refuse_referenced(keys, what);
    }
    const std::string sql =
        fmt::format(R"(DELETE FROM {} s USING unnest($1::text[], $2::text[]) AS v(k, d) )"
                    R"(WHERE s."session_key" = v.k AND s."session_data" = v.d RETURNING s."session_key")",
                    impl_->t);
    for (std::size_t start = 0; start < rows.size(); start += kUnchangedBatchRows) {
        const std::size_t end = std::min(rows.size(), start + kUnchangedBatchRows);
        std::vector<std::string_view> keys;
        std::vector<std::string_view> datas;
        for (std::size_t i = start; i < end; ++i) {
            keys.push_back(rows[i].key);
            datas.push_back(rows[i].data);
        }
        PgResult deleted = impl_->write(
            sql, {{pg_text_array(keys), PgType::text_array}, {pg_text_array(datas), PgType::text_array}}, what);
        result.matched += end - start;
        result.removed += static_cast<std::uint64_t>(deleted.rows());
        result.batches += 1;
        if (want_keys)
            for (int i = 0; i < deleted.rows(); ++i) result.keys.push_back(deleted.string(i, 0));
    }
    return result;
}

std::vector<bool> PgTable::write_rows(const std::vector<RowWrite>& writes) {
    constexpr std::string_view what = "write sessions";
    const std::string insert =
        fmt::format(R"(INSERT INTO {} ("session_key", "session_data", "expire_date") VALUES ($1, $2, $3) )"
                    R"(ON CONFLICT ("session_key") DO NOTHING)",
                    impl_->t);
    const std::string update = fmt::format(
        R"(UPDATE {} SET "session_data" = $1, "expire_date" = $2 WHERE "session_key" = $3 AND "session_data" = $4)",
        impl_->t);
    std::vector<bool> written;
    written.reserve(writes.size());
    Impl::Transaction tx(*impl_->conn, what);
    for (const auto& w : writes) {
        if (!w.row.expire_date)
            throw StoreError(fmt::format("cannot write session {}: expire_date is required", key_hint(w.row.key)));
        PgResult r =
            w.expected_data
                ? impl_->write(
                      update,
                      {{w.row.data}, impl_->datetime_param(*w.row.expire_date), {w.row.key}, {*w.expected_data}}, what)
                : impl_->write(insert, {{w.row.key}, {w.row.data}, impl_->datetime_param(*w.row.expire_date)}, what);
        written.push_back(r.affected() > 0);
    }
    impl_->commit(tx, what);
    return written;
}

RewriteResult PgTable::update_if_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) {
    constexpr std::string_view what = "rewrite sessions";
    RewriteResult result;
    const std::string sql = fmt::format(
        R"(UPDATE {} s SET "session_data" = v.n FROM unnest($1::text[], $2::text[], $3::text[]) AS v(k, d, n) )"
        R"(WHERE s."session_key" = v.k AND s."session_data" = v.d RETURNING s."session_key")",
        impl_->t);
    for (std::size_t start = 0; start < rewrites.size(); start += kUnchangedBatchRows) {
        const std::size_t end = std::min(rewrites.size(), start + kUnchangedBatchRows);
        std::vector<std::string_view> keys, olds, news;
        for (std::size_t i = start; i < end; ++i) {
            keys.push_back(rewrites[i].record.key);
            olds.push_back(rewrites[i].record.data);
            news.push_back(rewrites[i].data);
        }
        PgResult updated = impl_->write(sql,
                                        {{pg_text_array(keys), PgType::text_array},
                                         {pg_text_array(olds), PgType::text_array},
                                         {pg_text_array(news), PgType::text_array}},
                                        what);
        result.rewritten += static_cast<std::uint64_t>(updated.rows());
        if (want_keys)
            for (int i = 0; i < updated.rows(); ++i) result.keys.push_back(updated.string(i, 0));
    }
    return result;
}

void PgTable::scan(const std::function<bool(const StoredSession&)>& visit) {
    // Keyset pages rather than a cursor: each page is one short autocommit
    // read, so no transaction (and no snapshot holding back VACUUM) stays
    // open while the caller decodes. The next page is asked for before this
    // one is visited, so the server reads it meanwhile (a 1M-row scan spent a
    // third of its time waiting for pages): `visit` must not use this
    // table's connection (every caller reads the whole scan first, then
    // writes).
    const std::string first =
        fmt::format("SELECT {} FROM {} {} LIMIT {}", impl_->columns, impl_->t, impl_->key_order, kScanPageRows);
    const std::string next = fmt::format("SELECT {} FROM {} WHERE {} {} LIMIT {}", impl_->columns, impl_->t,
                                         impl_->key_after, impl_->key_order, kScanPageRows);
    PgConnection& conn = *impl_->conn;
    conn.send(first, {});
    bool pending = true;
    try {
        for (;;) {
            PgResult page = conn.receive("scan sessions");
            pending = false;
            const int n = page.rows();
            if (static_cast<std::size_t>(n) == kScanPageRows) {
                conn.send(next, {{page.string(n - 1, 0), PgType::text}});
                pending = true;
            }
            for (int i = 0; i < n; ++i)
                if (!visit(Impl::session(page, i))) {
                    if (pending) (void)conn.receive("scan sessions");
                    return;
                }
            if (!pending) return;
        }
    } catch (...) {
        // A visit that threw leaves the next page on the wire: take it, so
        // that the connection can run the next statement.
        if (pending) {
            try {
                (void)conn.receive("scan sessions");
            } catch (...) {  // NOLINT(bugprone-empty-catch): the first failure is the one to report
            }
        }
        throw;
    }
}

}  // namespace sessionctl
