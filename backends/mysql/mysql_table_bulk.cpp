// MysqlTable's statements over many rows: clearsessions in keyed batches,
// conditional deletes, keyset scans.

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "backends/bulk_pacer.hpp"
#include "backends/mysql/mysql_key_windows.hpp"
#include "backends/mysql/mysql_table.hpp"
#include "backends/mysql/mysql_table_impl.hpp"
#include "core/errors.hpp"

namespace sessionctl {

namespace {

// A statement of ours gave up on a row a live request holds:
// ER_LOCK_WAIT_TIMEOUT (innodb_lock_wait_timeout passed) or ER_LOCK_DEADLOCK
// (MySQL's 1 s wait can close a cycle with a request; ours is rolled back).
bool waited_for_a_row(const MysqlFailure& failure) { return failure.code == 1205 || failure.code == 1213; }

}  // namespace

BulkResult MysqlTable::delete_expired(const DateTime& now, DryRun dry_run, bool want_keys, const BulkOptions& options) {
    constexpr std::string_view what = "delete expired sessions";
    Impl& impl = *impl_;
    MysqlConnection& conn = *impl.conn;
    BulkResult result;
    const std::string cutoff = impl.datetime_literal(now);
    const std::string& t = impl.t;
    const std::string count_sql = fmt::format("SELECT COUNT(*) FROM {} WHERE `expire_date` < {}", t, cutoff);
    if (dry_run == DryRun::yes) {
        if (want_keys) {
            MysqlResult r = conn.exec(fmt::format("SELECT `session_key` FROM {} WHERE `expire_date` < {}", t, cutoff),
                                      "list expired sessions");
            for (std::size_t i = 0; i < r.rows(); ++i) result.keys.push_back(r.text(i, 0));
            std::sort(result.keys.begin(), result.keys.end());
            result.matched = result.keys.size();
        } else {
            result.matched = std::stoull(conn.exec(count_sql, "count expired sessions").text(0, 0));
        }
        return result;
    }
    std::uint64_t total = 0;
    if (options.progress) total = std::stoull(conn.exec(count_sql, "count expired sessions").text(0, 0));
    const std::string unreferenced = impl.unreferenced_condition("s");

    // Gap locks (REPEATABLE READ) would lock the index gaps the batches scan,
    // where the site inserts; READ COMMITTED locks only the rows taken.
    const std::string isolation = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED";

    if (options.batch_size == BulkOptions::kOneTransaction) {
        // --one-transaction: Django's own statement, in one transaction.
        conn.exec(isolation, what);
        Impl::Transaction tx(impl, what);
        if (want_keys) {
            MysqlResult keys =
                conn.exec(fmt::format("SELECT s.`session_key` FROM {} s WHERE s.`expire_date` < {}{} FOR "
                                      "UPDATE",
                                      t, cutoff, unreferenced),
                          what);
            for (std::size_t i = 0; i < keys.rows(); ++i) result.keys.push_back(keys.text(i, 0));
        }
        // No alias: MariaDB before 11.6 takes none in a single-table DELETE.
        MysqlResult deleted = impl.write(
            fmt::format("DELETE FROM {0} WHERE {0}.`expire_date` < {1}{2}", t, cutoff, impl.unreferenced_condition(t)),
            what);
        tx.commit();
        result.batches = 1;
        result.matched = result.removed = deleted.affected();
        std::sort(result.keys.begin(), result.keys.end());
        if (options.progress) options.progress(result.removed, std::max(total, result.removed));
        impl.refuse_kept_by_references(cutoff, result.removed);
        return result;
    }

    // Batches walk the primary key, InnoDB's clustered index, in order: each
    // covers the next window of keys and is one DELETE of the expired rows in
    // that key range, in its own transaction (mysql_key_windows.hpp: where a
    // window ends). The job thus reads the table once, in sequence, as
    // Django's single DELETE does; batches over the
    // expire_date index visit rows at random and measured 2.9x Django's time
    // on a table not written in expiry order. Explicit key bounds, never
    // LIMIT: the DELETE means the same on a replica replaying the statement.
    //
    // The DELETE waits for a row only while a live request holds it, which
    // lasts milliseconds. So it runs under a near-zero innodb_lock_wait_timeout;
    // a window whose DELETE did hit a held row is done again with SELECT ...
    // FOR UPDATE SKIP LOCKED and a DELETE of exactly those keys: what a live
    // request holds stays for the next run. Where the server has no SKIP
    // LOCKED, the DELETE waits as any of our writes does.
    const bool skip_locked = impl.has_skip_locked();
    // The held path deletes its keys through the key's index: on a small
    // table the optimizer would scan every row, locking (and waiting for) the
    // held ones it passes over. Index hints need the multi-table form.
    const std::string key_index =
        impl.schema.key_indexes.empty()
            ? ""
            : fmt::format(" FORCE INDEX ({})", quote_mysql_identifier(impl.schema.key_indexes.front()));
    const std::string expired = fmt::format("`expire_date` < {}{}", cutoff, impl.unreferenced_condition(t));
    // Restored afterwards: ours (MysqlOptions) or what init_command set.
    const std::string own_wait = conn.exec("SELECT @@SESSION.innodb_lock_wait_timeout", what).text(0, 0);
    // MariaDB takes 0 (fail at once); MySQL's least is 1 second.
    const int quick_wait = conn.is_mariadb() ? 0 : 1;
    MysqlKeyWindows windows(impl, cutoff, what);
    if (skip_locked) conn.exec(fmt::format("SET SESSION innodb_lock_wait_timeout = {}", quick_wait), what);

    BulkPacer pacer(options, kBulkDefaults);
    try {
        while (pacer.may_start(result)) {
            const auto started = BulkPacer::Clock::now();
            const std::optional<KeyWindow> next = windows.next(pacer.batch_size());
            if (!next) break;
            const std::string& window = next->range;

            std::uint64_t removed = 0;
            std::vector<std::string> keys;
            bool held = false;
            conn.exec(isolation, what);
            {
                Impl::Transaction tx(impl, what);
                MysqlResult listed;
                if (want_keys)
                    listed = conn.try_exec(
                        fmt::format("SELECT `session_key` FROM {} WHERE {} AND {} FOR UPDATE", t, window, expired));
                if (listed.ok()) {
                    MysqlResult deleted =
                        conn.try_exec(fmt::format("DELETE FROM {} WHERE {} AND {}", t, window, expired));
                    if (deleted.ok()) {
                        tx.commit();
                        removed = deleted.affected();
                        for (std::size_t i = 0; i < listed.rows(); ++i) keys.push_back(listed.text(i, 0));
                    } else if (skip_locked && waited_for_a_row(*deleted.failure())) {
                        held = true;
                    } else {
                        impl.fail_write(*deleted.failure(), what);
                    }
                } else if (skip_locked && waited_for_a_row(*listed.failure())) {
                    held = true;
                } else {
                    impl.fail_write(*listed.failure(), what);
                }
            }
            if (held) {  // a live request held a row: this window again, passing over what is locked
                // SKIP LOCKED never waits; under a zero wait MariaDB 10.11 fails
                // the SELECT ("Got error 1 ... during COMMIT"), so our own wait meanwhile.
                conn.exec(fmt::format("SET SESSION innodb_lock_wait_timeout = {}", own_wait), what);
                conn.exec(isolation, what);
                Impl::Transaction tx(impl, what);
                MysqlResult free =
                    conn.exec(fmt::format("SELECT `session_key` FROM {} WHERE {} AND {} FOR UPDATE SKIP LOCKED", t,
                                          window, expired),
                              what);
                std::vector<std::string_view> free_keys;
                for (std::size_t i = 0; i < free.rows(); ++i) free_keys.push_back(free.text(i, 0));
                if (!free_keys.empty()) {
                    MysqlResult deleted = impl.write(
                        fmt::format("DELETE {0} FROM {0}{1} WHERE `session_key` IN ({2}) AND `expire_date` < {3}", t,
                                    key_index, impl.quoted_list(free_keys), cutoff),
                        what);
                    removed = deleted.affected();
                }
                tx.commit();
                conn.exec(fmt::format("SET SESSION innodb_lock_wait_timeout = {}", quick_wait), what);
                if (want_keys)
                    for (auto key : free_keys) keys.emplace_back(key);
            }
            pacer.finished(BulkPacer::Clock::now() - started);

            result.batches += 1;
            result.matched += removed;
            result.removed += removed;
            std::move(keys.begin(), keys.end(), std::back_inserter(result.keys));
            if (options.progress) options.progress(result.removed, std::max(total, result.removed));
            if (next->last) break;
            pacer.pause();
        }
    } catch (...) {
        if (skip_locked) (void)conn.try_exec(fmt::format("SET SESSION innodb_lock_wait_timeout = {}", own_wait));
        throw;
    }
    if (skip_locked) conn.exec(fmt::format("SET SESSION innodb_lock_wait_timeout = {}", own_wait), what);
    std::sort(result.keys.begin(), result.keys.end());
    impl.refuse_kept_by_references(cutoff, result.removed);
    return result;
}

BulkResult MysqlTable::delete_if_unchanged(const std::vector<StoredSession>& rows, bool want_keys) {
    constexpr std::string_view what = "delete sessions";
    Impl& impl = *impl_;
    BulkResult result;
    {
        std::vector<std::string_view> keys;
        keys.reserve(rows.size());
        for (const auto& row : rows) keys.push_back(row.key);
        impl.refuse_referenced(keys, what);
    }
    // Per batch: lock the rows by key, compare their data here byte for byte
    // (the column's collation would call "a" and "A" equal), delete the ones
    // that still hold what was read. The lock keeps them as compared.
    std::size_t start = 0;
    while (start < rows.size()) {
        std::size_t end = start;
        std::size_t bytes = 0;
        while (end < rows.size() && end - start < kUnchangedBatchRows &&
               (end == start || bytes + rows[end].key.size() < kUnchangedBatchBytes))
            bytes += rows[end++].key.size() + 3;
        std::vector<std::string_view> keys;
        for (std::size_t i = start; i < end; ++i) keys.push_back(rows[i].key);

        Impl::Transaction tx(impl, what);
        MysqlResult current = impl.conn->exec(fmt::format("SELECT `session_key`, `session_data` FROM {} WHERE "
                                                          "`session_key` IN ({}) FOR UPDATE",
                                                          impl.t, impl.quoted_list(keys)),
                                              what);
        std::vector<std::string_view> unchanged;
        for (std::size_t i = start; i < end; ++i)
            for (std::size_t j = 0; j < current.rows(); ++j)
                if (current.text(j, 0) == rows[i].key && current.text(j, 1) == rows[i].data) {
                    unchanged.push_back(rows[i].key);
                    break;
                }
        if (!unchanged.empty())
            impl.write(fmt::format("DELETE FROM {} WHERE `session_key` IN ({})", impl.t, impl.quoted_list(unchanged)),
                       what);
        tx.commit();
        result.matched += end - start;
        result.removed += unchanged.size();
        result.batches += 1;
        if (want_keys)
            for (auto key : unchanged) result.keys.emplace_back(key);
        start = end;
    }
    return result;
}

void MysqlTable::scan(const std::function<bool(const StoredSession&)>& visit) {
    // Keyset pages: each page one short autocommit read, so no transaction
    // stays open while the caller decodes, and `visit` may write to the table.
    Impl& impl = *impl_;
    std::optional<std::string> after;
    for (;;) {
        const std::string sql =
            after
                ? fmt::format("SELECT {} FROM {} WHERE `session_key` > {} ORDER BY `session_key` LIMIT {}",
                              impl.columns, impl.t, impl.conn->quote(*after), kScanPageRows)
                : fmt::format("SELECT {} FROM {} ORDER BY `session_key` LIMIT {}", impl.columns, impl.t, kScanPageRows);
        MysqlResult page = impl.conn->exec(sql, "scan sessions");
        for (std::size_t i = 0; i < page.rows(); ++i)
            if (!visit(impl.session(page, i))) return;
        if (page.rows() < kScanPageRows) return;
        after = page.text(page.rows() - 1, 0);
    }
}

}  // namespace sessionctl
