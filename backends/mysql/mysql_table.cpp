#include "backends/mysql/mysql_table.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "backends/mysql/mysql_table_impl.hpp"
#include "backends/sql/sql_naming.hpp"
#include "core/errors.hpp"
#include "core/time_zone.hpp"
#include "util/text.hpp"

namespace sessionctl {
namespace {

// The name between the last pair of quotes after `marker` in a server
// message ("... for key 'django_session.PRIMARY'" -> "django_session.PRIMARY").
std::string quoted_after(const std::string& message, std::string_view marker, char quote) {
    const auto at = message.find(marker);
    if (at == std::string::npos) return {};
    const auto open = message.find(quote, at + marker.size());
    if (open == std::string::npos) return {};
    const auto close = message.find(quote, open + 1);
    if (close == std::string::npos) return {};
    return message.substr(open + 1, close - open - 1);
}

}  // namespace

std::string mysql_key_hint(std::string_view key) {
    return key.size() > 8 ? fmt::format("{}...", key.substr(0, 8)) : std::string(key);
}

// ---- Impl helpers

std::string MysqlTable::Impl::datetime_literal(const DateTime& value) const {
    DateTime naive = value.aware() ? DateTime{value.utc_micros(), std::nullopt} : value;
    if (options.zone) naive.wall_micros = options.zone->wall_from_unix(naive.wall_micros);
    return conn->quote(naive.str_naive());
}

std::optional<DateTime> MysqlTable::Impl::read_datetime(const MysqlResult& r, std::size_t row,
                                                        std::size_t column) const {
    if (r.is_null(row, column)) return std::nullopt;
    std::optional<DateTime> value;
    try {
        value = parse_django_datetime(r.text(row, column));  // "0000-00-00 ..." and the like: nullopt
    } catch (const DateTimeError&) {
        return std::nullopt;
    }
    if (value && !value->aware() && options.zone) value->wall_micros = options.zone->unix_from_wall(value->wall_micros);
    return value;
}

StoredSession MysqlTable::Impl::session(const MysqlResult& r, std::size_t row) const {
    return {r.text(row, 0), r.text(row, 1), read_datetime(r, row, 2)};
}

std::string MysqlTable::Impl::quoted_list(const std::vector<std::string_view>& items) const {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += ',';
        out += conn->quote(item);
    }
    return out;
}

bool MysqlTable::Impl::has_skip_locked() const {
    if (!options.skip_locked) return false;
    return conn->is_mariadb() ? conn->server_version() >= 100600 : conn->server_version() >= 80001;
}

MysqlTable::Impl::Transaction::Transaction(Impl& impl, std::string_view what) : impl_(impl), what_(what) {
    impl_.conn->exec("START TRANSACTION", what_);
}

MysqlTable::Impl::Transaction::~Transaction() {
    if (open_) (void)impl_.conn->try_exec("ROLLBACK");
}

void MysqlTable::Impl::Transaction::commit() {
    MysqlResult r = impl_.conn->try_exec("COMMIT");
    open_ = false;
    if (!r.ok()) impl_.fail_write(*r.failure(), what_);
}

std::vector<const MysqlReference*> MysqlTable::Impl::rejecting_references() const {
    std::vector<const MysqlReference*> out;
    for (const auto& ref : schema.references)
        if (ref.rejects_delete()) out.push_back(&ref);
    return out;
}

std::string MysqlTable::Impl::refusal(const MysqlReference& ref, std::uint64_t count, std::string_view sample) const {
    return fmt::format(
        "refusing to delete {} (e.g. {}): still referenced from table {} (column {}, foreign key {}), which would "
        "reject the delete. Django deletes through its model's on_delete, which sessionctl cannot see: delete the "
        "referencing rows first, or delete these sessions through Django",
        count_of(count, "session"), mysql_key_hint(sample), ref.table, ref.column, ref.constraint);
}

void MysqlTable::Impl::refuse_referenced(const std::vector<std::string_view>& keys, std::string_view what) {
    constexpr std::size_t kChunk = 1000;
    for (const MysqlReference* ref : rejecting_references()) {
        for (std::size_t start = 0; start < keys.size(); start += kChunk) {
            std::vector<std::string_view> chunk(
                keys.begin() + static_cast<std::ptrdiff_t>(start),
                keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), start + kChunk)));
            MysqlResult r =
                conn->exec(fmt::format("SELECT COUNT(DISTINCT r.{0}), MIN(r.{0}) FROM {1} r WHERE r.{0} IN "
                                       "({2})",
                                       quote_mysql_identifier(ref->column), ref->quoted_table, quoted_list(chunk)),
                           what);
            const std::uint64_t count = r.rows() > 0 ? std::stoull(r.text(0, 0)) : 0;
            if (count > 0) throw StoreError(refusal(*ref, count, r.text(0, 1)));
        }
    }
}

void MysqlTable::Impl::refuse_kept_by_references(const std::string& cutoff, std::uint64_t removed) {
    std::string detail;
    for (const MysqlReference* ref : rejecting_references()) {
        MysqlResult r = conn->exec(
            fmt::format("SELECT COUNT(DISTINCT s.`session_key`) FROM {} s JOIN {} r ON r.{} = s.`session_key` WHERE "
                        "s.`expire_date` < {}",
                        t, ref->quoted_table, quote_mysql_identifier(ref->column), cutoff),
            "count referenced sessions");
        const std::uint64_t n = r.rows() ? std::stoull(r.text(0, 0)) : 0;
        if (n > 0)
            detail +=
                fmt::format("{}{} referenced from table {} (column {}, foreign key {})", detail.empty() ? "" : "; ",
                            count_of(n, "session"), ref->table, ref->column, ref->constraint);
    }
    if (detail.empty()) return;
    throw StoreError(fmt::format(
        "removed {} but kept the sessions that foreign keys would not let go: {}. Django deletes through its model's "
        "on_delete, which sessionctl cannot see: run manage.py clearsessions, or delete the referencing rows first",
        count_of(removed, "expired session"), detail));
}

std::string MysqlTable::Impl::unreferenced_condition(std::string_view alias) const {
    std::string sql;
    for (const MysqlReference* ref : rejecting_references())
        sql += fmt::format(" AND NOT EXISTS (SELECT 1 FROM {} r WHERE r.{} = {}.`session_key`)", ref->quoted_table,
                           quote_mysql_identifier(ref->column), alias);
    return sql;
}

void MysqlTable::Impl::fail_write(const MysqlFailure& failure, std::string_view what) const {
    using namespace mysql_error;
    if (failure.code == kRowIsReferenced || failure.code == kRowIsReferencedOld) {
        // "... a foreign key constraint fails (`db`.`child`, CONSTRAINT `fk` FOREIGN KEY ..."
        const auto open = failure.message.find("fails (");
        std::string where;
        if (open != std::string::npos) {
            const auto comma = failure.message.find(", CONSTRAINT", open);
            if (comma != std::string::npos) where = failure.message.substr(open + 7, comma - open - 7);
        }
        where.erase(std::remove(where.begin(), where.end(), '`'), where.end());
        const std::string constraint = quoted_after(failure.message, "CONSTRAINT ", '`');
        throw StoreError(fmt::format(
            "cannot {}: a row in table {} references the session (foreign key {}); nothing was deleted by this "
            "statement",
            what, where.empty() ? std::string("(unknown)") : where, constraint.empty() ? "(unknown)" : constraint));
    }
    if (failure.code == kNoDefault || failure.code == kBadNull) {
        // "Field 'x' doesn't have a default value" / "Column 'x' cannot be null"
        std::string column = quoted_after(failure.message, "Field ", '\'');
        if (column.empty()) column = quoted_after(failure.message, "Column ", '\'');
        throw StoreError(
            fmt::format("cannot {}: column {} of {} is NOT NULL without a default (a custom session model?); "
                        "sessionctl writes only session_key, session_data and expire_date",
                        what, column, options.table));
    }
    if (failure.code == kReadOnlyTransaction || failure.code == kReadOnlyServer)
        throw StoreError(fmt::format("cannot {}: {} is read-only ({})", what, conn->target(), failure.message));
    conn->fail(failure, what);
}

MysqlResult MysqlTable::Impl::write(std::string_view sql, std::string_view what) {
    MysqlResult r = conn->try_exec(sql);
    if (!r.ok()) fail_write(*r.failure(), what);
    return r;
}

// ---- Opening: session settings, the table, its schema

namespace {

void setup_mysql_session(MysqlTable::Impl& impl) {
    MysqlConnection& conn = *impl.conn;
    const MysqlOptions& o = impl.options;
    std::vector<std::string> sets;
    // Naive values are what we compare and store; a timestamp column (not
    // Django's) would be converted through the session's zone: make it UTC.
    if (o.use_tz) sets.emplace_back("time_zone = '+00:00'");
    if (o.lock_wait_timeout.count() > 0) {
        sets.push_back(fmt::format("innodb_lock_wait_timeout = {}", o.lock_wait_timeout.count()));
        // Metadata locks (a migration's ALTER TABLE): neither wait behind one
        // for long, nor make the site's queries queue behind our wait.
        sets.push_back(fmt::format("lock_wait_timeout = {}", o.lock_wait_timeout.count()));
    }
    if (o.statement_timeout.count() > 0) {
        if (conn.is_mariadb())
            sets.push_back(
                fmt::format("max_statement_time = {:.3f}", static_cast<double>(o.statement_timeout.count()) / 1000));
        else sets.push_back(fmt::format("max_execution_time = {}", o.statement_timeout.count()));
    }
    std::string sql = "SET ";
    for (std::size_t i = 0; i < sets.size(); ++i) sql += (i ? ", SESSION " : "SESSION ") + sets[i];
    if (!sets.empty()) conn.exec(sql, "set up the session");
    if (!o.isolation_level.empty())
        conn.exec(fmt::format("SET SESSION TRANSACTION ISOLATION LEVEL {}", o.isolation_level),
                  "set the isolation level");
    if (o.read_only) conn.exec("SET SESSION TRANSACTION READ ONLY", "make the session read-only");
}

bool mysql_table_exists(MysqlTable::Impl& impl) {
    MysqlResult r = impl.conn->exec(
        fmt::format("SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {}",
                    impl.conn->quote(impl.options.table)),
        "look up the session table");
    if (r.rows() == 0) return false;
    impl.schema.engine = r.is_null(0, 0) ? "VIEW" : r.text(0, 0);
    return true;
}

void read_mysql_schema(MysqlTable::Impl& impl) {
    MysqlConnection& conn = *impl.conn;
    MysqlSchema& schema = impl.schema;
    const std::string what = "read the session table's schema";
    const std::string name = conn.quote(impl.options.table);
    MysqlResult cols = conn.exec(
        fmt::format("SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT IS NULL, EXTRA FROM "
                    "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {} ORDER BY "
                    "ORDINAL_POSITION",
                    name),
        what);
    bool has_key = false, has_data = false;
    std::string expire_data_type;
    for (std::size_t i = 0; i < cols.rows(); ++i) {
        const std::string& column = cols.text(i, 0);
        if (column == "session_key") {
            has_key = true;
        } else if (column == "session_data") {
            has_data = true;
        } else if (column == "expire_date") {
            expire_data_type = cols.text(i, 1);
            schema.expire_type = cols.text(i, 2);
        } else {
            schema.extra_columns.push_back(column);
            const std::string extra = cols.text(i, 5);
            const bool generated =
                extra.find("auto_increment") != std::string::npos || extra.find("GENERATED") != std::string::npos ||
                extra.find("VIRTUAL") != std::string::npos || extra.find("PERSISTENT") != std::string::npos ||
                extra.find("STORED") != std::string::npos;
            if (cols.text(i, 3) == "NO" && cols.text(i, 4) == "1" && !generated)
                schema.required_columns.push_back(column);
        }
    }
    if (!has_key || !has_data || schema.expire_type.empty())
        throw StoreError(
            fmt::format("table {} in {} lacks Django's session columns (session_key, session_data, expire_date)",
                        impl.options.table, conn.target()));
    if (expire_data_type != "datetime" && expire_data_type != "timestamp")
        throw StoreError(fmt::format("expire_date of {} in {} is {}, not a datetime: not a Django session table",
                                     impl.options.table, conn.target(), schema.expire_type));

    MysqlResult unique = conn.exec(
        fmt::format("SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND "
                    "TABLE_NAME = {} AND NON_UNIQUE = 0 GROUP BY INDEX_NAME HAVING COUNT(*) = 1 AND "
                    "MAX(COLUMN_NAME) = 'session_key'",
                    name),
        what);
    for (std::size_t i = 0; i < unique.rows(); ++i) schema.key_indexes.push_back(unique.text(i, 0));

    MysqlResult refs = conn.exec(
        fmt::format("SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.COLUMN_NAME, k.CONSTRAINT_NAME, rc.DELETE_RULE, "
                    "k.TABLE_SCHEMA = DATABASE() FROM information_schema.KEY_COLUMN_USAGE k JOIN "
                    "information_schema.REFERENTIAL_CONSTRAINTS rc ON rc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND "
                    "rc.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND rc.TABLE_NAME = k.TABLE_NAME WHERE "
                    "k.REFERENCED_TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME = {} AND "
                    "k.REFERENCED_COLUMN_NAME = 'session_key' ORDER BY 1, 2, 3",
                    name),
        what);
    for (std::size_t i = 0; i < refs.rows(); ++i) {
        MysqlReference ref;
        const bool here = refs.text(i, 5) == "1";
        ref.table = here ? refs.text(i, 1) : refs.text(i, 0) + "." + refs.text(i, 1);
        ref.quoted_table =
            here ? quote_mysql_identifier(refs.text(i, 1))
                 : quote_mysql_identifier(refs.text(i, 0)) + "." + quote_mysql_identifier(refs.text(i, 1));
        ref.column = refs.text(i, 2);
        ref.constraint = refs.text(i, 3);
        ref.delete_rule = refs.text(i, 4);
        schema.references.push_back(std::move(ref));
    }
}

}  // namespace

std::vector<std::string> django_session_mysql_ddl(std::string_view table) {
    const std::string t = quote_mysql_identifier(table);
    // As `manage.py sqlmigrate sessions 0001` prints them on MySQL (index
    // names at most 64 characters).
    constexpr std::size_t kMysqlMaxNameLength = 64;
    const std::string expire_index = django_index_name(table, "expire_date", {}, kMysqlMaxNameLength);
    return {
        fmt::format("CREATE TABLE {} (`session_key` varchar(40) NOT NULL PRIMARY KEY, `session_data` longtext NOT "
                    "NULL, `expire_date` datetime(6) NOT NULL)",
                    t),
        fmt::format("CREATE INDEX {} ON {} (`expire_date`)", quote_mysql_identifier(expire_index), t),
    };
}

std::unique_ptr<MysqlTable> open_mysql_table(const MysqlParams& params, MysqlOptions options) {
    auto impl = std::make_unique<MysqlTable::Impl>();
    impl->options = std::move(options);
    impl->conn = MysqlConnection::connect(params);
    setup_mysql_session(*impl);
    if (!mysql_table_exists(*impl)) {
        if (!impl->options.create_if_missing || impl->options.read_only)
            throw StoreMissing(
                fmt::format("no {} table in {}: run manage.py migrate", impl->options.table, impl->conn->target()));
        for (const auto& statement : django_session_mysql_ddl(impl->options.table))
            impl->conn->exec(statement, "create the session table");
        if (!mysql_table_exists(*impl))
            throw StoreError(
                fmt::format("created {} in {} but cannot find it", impl->options.table, impl->conn->target()));
    }
    read_mysql_schema(*impl);
    impl->t = quote_mysql_identifier(impl->options.table);
    impl->columns = "`session_key`, `session_data`, `expire_date`";
    return std::unique_ptr<MysqlTable>(new MysqlTable(std::move(impl)));
}

MysqlTable::MysqlTable(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MysqlTable::~MysqlTable() = default;

const MysqlSchema& MysqlTable::schema() const { return impl_->schema; }
const std::string& MysqlTable::target() const { return impl_->conn->target(); }

bool MysqlTable::expired(const DateTime& expire_date, const DateTime& now) const {
    return expired_on_wall_clock(expire_date, now, impl_->options.zone.get());
}

std::vector<StoreMessage> MysqlTable::take_messages() {
    std::vector<StoreMessage> messages;
    if (impl_->schema_notes_taken) return messages;
    impl_->schema_notes_taken = true;
    for (auto& text : schema_notes()) messages.push_back({StoreMessage::Level::note, std::move(text)});
    return messages;
}

std::vector<std::string> MysqlTable::schema_notes() const {
    std::vector<std::string> notes;
    const MysqlSchema& s = impl_->schema;
    const std::string& table = impl_->options.table;
    auto joined = [](const std::vector<std::string>& items) {
        std::string list;
        for (const auto& c : items) list += (list.empty() ? "" : ", ") + c;
        return list;
    };
    if (!s.extra_columns.empty())
        notes.push_back(
            fmt::format("{} has columns besides Django's three ({}): a custom AbstractBaseSession model; "
                        "sessionctl reads and deletes rows whole and leaves these columns alone",
                        table, joined(s.extra_columns)));
    if (!s.required_columns.empty())
        notes.push_back(
            fmt::format("{} is NOT NULL without a default: sessionctl cannot create sessions in {} (only "
                        "the model's create_model_instance() knows the value)",
                        joined(s.required_columns), table));
    if (s.engine != "InnoDB" && !s.engine.empty())
        notes.push_back(
            fmt::format("{} uses the {} storage engine, not InnoDB: no row locks, so clearsessions' "
                        "batches cannot skip rows a live request holds",
                        table, s.engine));
    for (const auto& ref : s.references) {
        if (ref.rejects_delete())
            notes.push_back(
                fmt::format("table {} references {} (column {}, foreign key {}): sessions it references "
                            "are never deleted by sessionctl (Django would apply the model's on_delete)",
                            ref.table, table, ref.column, ref.constraint));
        else
            notes.push_back(
                fmt::format("table {} references {} (column {}, foreign key {}) with ON DELETE {}: the "
                            "database updates its rows when a session is deleted",
                            ref.table, table, ref.column, ref.constraint, ref.delete_rule));
    }
    return notes;
}

// ---- One row at a time

bool MysqlTable::insert(const StoredSession& row) {
    if (!row.expire_date)
        throw StoreError(fmt::format("cannot insert session {}: expire_date is required", mysql_key_hint(row.key)));
    constexpr std::string_view what = "insert a session";
    MysqlResult r = impl_->conn->try_exec(fmt::format(
        "INSERT INTO {} (`session_key`, `session_data`, `expire_date`) VALUES ({}, {}, {})", impl_->t,
        impl_->conn->quote(row.key), impl_->conn->quote(row.data), impl_->datetime_literal(*row.expire_date)));
    if (r.ok()) return true;
    const MysqlFailure& failure = *r.failure();
    if (impl_->key_taken(failure)) return false;
    impl_->fail_write(failure, what);
}

bool MysqlTable::update(const StoredSession& row) {
    if (!row.expire_date)
        throw StoreError(fmt::format("cannot update session {}: expire_date is required", mysql_key_hint(row.key)));
    MysqlResult r =
        impl_->write(fmt::format("UPDATE {} SET `session_data` = {}, `expire_date` = {} WHERE `session_key` = {}",
                                 impl_->t, impl_->conn->quote(row.data), impl_->datetime_literal(*row.expire_date),
                                 impl_->conn->quote(row.key)),
                     "update a session");
    return r.affected() > 0;  // CLIENT_FOUND_ROWS: rows matched, as Django counts them
}

std::optional<StoredSession> MysqlTable::select_live(std::string_view key, const DateTime& now) {
    MysqlResult r =
        impl_->conn->exec(fmt::format("SELECT {} FROM {} WHERE (`expire_date` > {} AND `session_key` = {})",
                                      impl_->columns, impl_->t, impl_->datetime_literal(now), impl_->conn->quote(key)),
                          "read a session");
    if (r.rows() == 0) return std::nullopt;
    StoredSession row = impl_->session(r, 0);
    if (!row.expire_date) return std::nullopt;
    return row;
}

std::optional<StoredSession> MysqlTable::select(std::string_view key) {
    MysqlResult r = impl_->conn->exec(
        fmt::format("SELECT {} FROM {} WHERE `session_key` = {}", impl_->columns, impl_->t, impl_->conn->quote(key)),
        "read a session");
    if (r.rows() == 0) return std::nullopt;
    return impl_->session(r, 0);
}

bool MysqlTable::exists(std::string_view key) {
    MysqlResult r = impl_->conn->exec(
        fmt::format("SELECT 1 FROM {} WHERE `session_key` = {} LIMIT 1", impl_->t, impl_->conn->quote(key)),
        "look up a session key");
    return r.rows() > 0;
}

void MysqlTable::erase(std::string_view key) {
    constexpr std::string_view what = "delete a session";
    impl_->refuse_referenced({key}, what);
    impl_->write(fmt::format("DELETE FROM {} WHERE `session_key` = {}", impl_->t, impl_->conn->quote(key)), what);
}

}  // namespace sessionctl
