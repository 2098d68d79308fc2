// MysqlTable's batched writes: copy's creates and conditional replaces
// (write_rows) and rekey's conditional rewrites (update_if_unchanged).
//
// Creates: INSERT ... ON DUPLICATE KEY UPDATE session_key = session_key
// cannot tell a taken key from a new row here: the connection uses
// CLIENT_FOUND_ROWS (as Django's does, so an UPDATE counts the rows it
// matched), and with it a no-op "update" of a duplicate counts 1, the same as
// an insert. INSERT IGNORE would also swallow every other error (a NOT NULL
// extra column, truncation) as a warning. What InnoDB gives instead: a
// duplicate-key error rolls back the failed statement only, never the
// transaction. So a chunk is one multi-row INSERT, the common case on a fresh
// target; when a key in it is taken, the chunk is redone row by row, each
// taken key's own INSERT failing alone.
//
// Replaces and rewrites: the rows are locked (SELECT ... FOR UPDATE), their
// data compared here byte for byte, as the conditional deletes do (the
// column's collation would call "a" and "A" equal, and PAD SPACE collations
// "a" and "a "), and only the rows that still hold what was read are updated,
// by one UPDATE with CASE per chunk. The lock keeps them as compared.

#include <algorithm>

#include <fmt/format.h>

#include "backends/mysql/mysql_table.hpp"
#include "backends/mysql/mysql_table_impl.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

// Statement text per chunk, well under max_allowed_packet (16 MiB by
// default on MariaDB and MySQL 8; 4 MiB on MySQL 5.7).
constexpr std::size_t kChunkBytes = 3 * 1024 * 1024;

// Where the next chunk of [start, size) ends: at most `max_rows` rows and
// about kChunkBytes of `bytes(i)`, at least one row.
template <class Bytes>
std::size_t chunk_end(std::size_t start, std::size_t size, std::size_t max_rows, Bytes bytes) {
    std::size_t end = start;
    std::size_t total = 0;
    while (end < size && end - start < max_rows && (end == start || total + bytes(end) <= kChunkBytes))
        total += bytes(end++);
    return end;
}

}  // namespace

bool MysqlTable::Impl::key_taken(const MysqlFailure& failure) const {
    if (failure.code != mysql_error::kDuplicateKey) return false;
    std::string index;
    const auto at = failure.message.rfind("for key '");
    if (at != std::string::npos) {
        index = failure.message.substr(at + 9);
        if (!index.empty() && index.back() == '\'') index.pop_back();
        if (auto dot = index.rfind('.'); dot != std::string::npos) index = index.substr(dot + 1);  // MySQL 8.0.19+
    }
    if (std::find(schema.key_indexes.begin(), schema.key_indexes.end(), index) != schema.key_indexes.end()) return true;
    // Only the key's own unique index is Django's CreateError; any other
    // violation would make create() retry forever.
    throw StoreError(fmt::format("cannot write a session: unique index {} of {} rejected it (a custom session model?)",
                                 index, options.table));
}

std::string MysqlTable::Impl::values_tuple(const StoredSession& row) const {
    return fmt::format("({}, {}, {})", conn->quote(row.key), conn->quote(row.data), datetime_literal(*row.expire_date));
}

std::vector<std::string_view> MysqlTable::Impl::update_unchanged(const std::vector<UnchangedUpdate>& updates,
                                                                 std::string_view what) {
    std::vector<std::string_view> keys;
    keys.reserve(updates.size());
    for (const auto& u : updates) keys.push_back(u.key);
    MysqlResult current =
        conn->exec(fmt::format("SELECT `session_key`, `session_data` FROM {} WHERE `session_key` IN ({}) FOR UPDATE", t,
                               quoted_list(keys)),
                   what);
    std::vector<const UnchangedUpdate*> unchanged;
    for (const auto& u : updates)
        for (std::size_t j = 0; j < current.rows(); ++j)
            if (current.text(j, 0) == u.key && current.text(j, 1) == u.expected) {
                unchanged.push_back(&u);
                break;
            }
    std::vector<std::string_view> updated;
    if (unchanged.empty()) return updated;
    std::string data_case = "CASE `session_key`";
    std::string expire_case = "CASE `session_key`";
    for (const UnchangedUpdate* u : unchanged) {
        const std::string key = conn->quote(u->key);
        data_case += fmt::format(" WHEN {} THEN {}", key, conn->quote(u->data));
        if (u->expire_date) expire_case += fmt::format(" WHEN {} THEN {}", key, datetime_literal(*u->expire_date));
        updated.push_back(u->key);
    }
    data_case += " END";
    expire_case += " ELSE `expire_date` END";
    const bool sets_expiry = std::any_of(unchanged.begin(), unchanged.end(),
                                         [](const UnchangedUpdate* u) { return u->expire_date.has_value(); });
    write(fmt::format("UPDATE {} SET `session_data` = {}{} WHERE `session_key` IN ({})", t, data_case,
                      sets_expiry ? ", `expire_date` = " + expire_case : std::string(), quoted_list(updated)),
          what);
    return updated;
}

std::vector<bool> MysqlTable::write_rows(const std::vector<RowWrite>& writes) {
    constexpr std::string_view what = "write sessions";
    Impl& impl = *impl_;
    for (const auto& w : writes)
        if (!w.row.expire_date)
            throw StoreError(
                fmt::format("cannot write session {}: expire_date is required", mysql_key_hint(w.row.key)));
    std::vector<bool> written(writes.size(), false);
    auto bytes = [&](std::size_t i) { return writes[i].row.key.size() * 2 + writes[i].row.data.size() * 2 + 64; };

    Impl::Transaction tx(impl, what);
    std::size_t start = 0;
    while (start < writes.size()) {
        // A run of creates or of replaces, in the caller's order.
        const bool replace = writes[start].expected_data.has_value();
        std::size_t run = start;
        while (run < writes.size() && writes[run].expected_data.has_value() == replace) ++run;
        const std::size_t end = chunk_end(start, run, kUnchangedBatchRows, bytes);

        if (replace) {
            std::vector<Impl::UnchangedUpdate> updates;
            for (std::size_t i = start; i < end; ++i)
                updates.push_back(
                    {writes[i].row.key, *writes[i].expected_data, writes[i].row.data, writes[i].row.expire_date});
            const auto updated = impl.update_unchanged(updates, what);
            for (std::size_t i = start; i < end; ++i)
                written[i] = std::find(updated.begin(), updated.end(), writes[i].row.key) != updated.end();
        } else {
            std::string values;
            for (std::size_t i = start; i < end; ++i)
                values += (i == start ? "" : ", ") + impl.values_tuple(writes[i].row);
            const std::string insert = fmt::format("INSERT INTO {} ({}) VALUES ", impl.t, impl.columns);
            MysqlResult all = impl.conn->try_exec(insert + values);
            if (all.ok()) {
                std::fill(written.begin() + static_cast<std::ptrdiff_t>(start),
                          written.begin() + static_cast<std::ptrdiff_t>(end), true);
            } else {
                if (!impl.key_taken(*all.failure())) impl.fail_write(*all.failure(), what);
                // The whole statement was rolled back; the transaction goes on.
                for (std::size_t i = start; i < end; ++i) {
                    MysqlResult one = impl.conn->try_exec(insert + impl.values_tuple(writes[i].row));
                    if (one.ok()) written[i] = true;
                    else if (!impl.key_taken(*one.failure())) impl.fail_write(*one.failure(), what);
                }
            }
        }
        start = end;
    }
    tx.commit();
    return written;
}

RewriteResult MysqlTable::update_if_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) {
    constexpr std::string_view what = "rewrite sessions";
    Impl& impl = *impl_;
    RewriteResult result;
    auto bytes = [&](std::size_t i) {
        return rewrites[i].record.key.size() * 3 + rewrites[i].record.data.size() + rewrites[i].data.size() * 2 + 64;
    };
    std::size_t start = 0;
    while (start < rewrites.size()) {
        const std::size_t end = chunk_end(start, rewrites.size(), kUnchangedBatchRows, bytes);
        std::vector<Impl::UnchangedUpdate> updates;
        for (std::size_t i = start; i < end; ++i)
            updates.push_back({rewrites[i].record.key, rewrites[i].record.data, rewrites[i].data, std::nullopt});
        // Short transactions, one per chunk: a live request waits for at most
        // one chunk's rows.
        Impl::Transaction tx(impl, what);
        const auto updated = impl.update_unchanged(updates, what);
        tx.commit();
        result.rewritten += updated.size();
        if (want_keys)
            for (auto key : updated) result.keys.emplace_back(key);
        start = end;
    }
    return result;
}

}  // namespace sessionctl
