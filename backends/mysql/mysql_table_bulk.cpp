// MysqlTable's statements over many rows: clearsessions in keyed batches,
// conditional deletes, keyset scans.

#include <algorithm>

#include <fmt/format.h>

#include "backends/bulk_pacer.hpp"
#include "backends/mysql/mysql_table.hpp"
#include "backends/mysql/mysql_table_impl.hpp"
#include "core/errors.hpp"

namespace sessionctl {

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

    // Keyed batches over (expire_date, session_key), the expire_date index's
    // own order (InnoDB appends the primary key to it): each batch locks the
    // next rows (skipping those a live request holds), deletes them by key
    // with the expiry condition repeated, and commits. The keyset starts each
    // batch where the last ended, however many rows before it were skipped.
    const std::string lock = impl.has_skip_locked() ? " FOR UPDATE SKIP LOCKED" : " FOR UPDATE";
    const std::string select_head = fmt::format(
        "SELECT s.`session_key`, s.`expire_date`, LENGTH(s.`session_data`) FROM {} s WHERE s.`expire_date` "
        "< {}{}",
        t, cutoff, unreferenced);
    BulkPacer pacer(options, kBulkDefaults);
    std::optional<std::pair<std::string, std::string>> last;  // (expire_date, key) as stored
    while (pacer.may_start(result)) {
        const std::size_t limit = std::min(pacer.batch_size(), kMaxBatchRows);
        std::string select = select_head;
        if (last) {
            const std::string e = conn.quote(last->first);
            select += fmt::format(" AND s.`expire_date` >= {0} AND (s.`expire_date` > {0} OR s.`session_key` > {1})", e,
                                  conn.quote(last->second));
        }
        select += fmt::format(" ORDER BY s.`expire_date`, s.`session_key` LIMIT {}{}", limit, lock);

        const auto started = BulkPacer::Clock::now();
        conn.exec(isolation, what);
        Impl::Transaction tx(impl, what);
        MysqlResult batch = conn.exec(select, what);
        if (batch.rows() == 0) break;
        // The write set's bytes: stop the batch where it would pass the bound
        // (the rows past it stay locked until COMMIT, then come next).
        std::vector<std::string_view> keys;
        std::size_t bytes = 0;
        for (std::size_t i = 0; i < batch.rows(); ++i) {
            const std::size_t size =
                batch.text(i, 0).size() + std::stoull(batch.is_null(i, 2) ? "0" : batch.text(i, 2));
            if (!keys.empty() && bytes + size > kMaxBatchBytes) break;
            bytes += size;
            keys.push_back(batch.text(i, 0));
        }
        MysqlResult deleted =
            impl.write(fmt::format("DELETE FROM {} WHERE `session_key` IN ({}) AND `expire_date` < {}", t,
                                   impl.quoted_list(keys), cutoff),
                       what);
        tx.commit();
        pacer.finished(BulkPacer::Clock::now() - started);

        result.batches += 1;
        result.matched += keys.size();
        result.removed += deleted.affected();
        if (want_keys)
            for (auto key : keys) result.keys.emplace_back(key);
        const std::size_t taken = keys.size();
        last.emplace(batch.text(taken - 1, 1), batch.text(taken - 1, 0));
        if (options.progress) options.progress(result.removed, std::max(total, result.removed));
        if (batch.rows() < limit && taken == batch.rows()) break;
        pacer.pause();
    }
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
            if (!visit(Impl::session(page, i))) return;
        if (page.rows() < kScanPageRows) return;
        after = page.text(page.rows() - 1, 0);
    }
}

}  // namespace sessionctl
