#include "backends/sql/memory_table.hpp"

namespace sessionctl {

bool MemoryTable::insert(const StoredSession& row) { return rows_->emplace(row.key, row).second; }

bool MemoryTable::update(const StoredSession& row) {
    auto it = rows_->find(row.key);
    if (it == rows_->end()) return false;
    it->second = row;
    return true;
}

std::optional<StoredSession> MemoryTable::select_live(std::string_view key, const DateTime& now) {
    auto it = rows_->find(key);
    if (it == rows_->end() || !it->second.expire_date || !(it->second.expire_date->wall_micros > now.wall_micros))
        return std::nullopt;
    return it->second;
}

std::optional<StoredSession> MemoryTable::select(std::string_view key) {
    auto it = rows_->find(key);
    if (it == rows_->end()) return std::nullopt;
    return it->second;
}

bool MemoryTable::exists(std::string_view key) { return rows_->find(key) != rows_->end(); }

void MemoryTable::erase(std::string_view key) {
    auto it = rows_->find(key);
    if (it != rows_->end()) rows_->erase(it);
}

BulkResult MemoryTable::delete_expired(const DateTime& now, DryRun dry_run, bool want_keys,
                                       const BulkOptions& options) {
    BulkResult result;
    if (dry_run == DryRun::no && options.should_stop && options.should_stop()) {
        result.end = BulkEnd::stopped;
        return result;
    }
    for (auto it = rows_->begin(); it != rows_->end();) {
        bool expired = it->second.expire_date && it->second.expire_date->wall_micros < now.wall_micros;
        if (!expired) {
            ++it;
            continue;
        }
        ++result.matched;
        if (want_keys) result.keys.push_back(it->first);
        if (dry_run == DryRun::yes) {
            ++it;
        } else {
            it = rows_->erase(it);
            ++result.removed;
        }
    }
    if (dry_run == DryRun::no) {
        result.batches = 1;
        if (options.progress) options.progress(result.removed, result.removed);
    }
    return result;
}

BulkResult MemoryTable::delete_if_unchanged(const std::vector<StoredSession>& rows, bool want_keys) {
    BulkResult result;
    for (const auto& row : rows) {
        ++result.matched;
        auto it = rows_->find(row.key);
        if (it == rows_->end() || it->second.data != row.data) continue;
        rows_->erase(it);
        ++result.removed;
        if (want_keys) result.keys.push_back(row.key);
    }
    return result;
}

std::vector<bool> MemoryTable::write_rows(const std::vector<RowWrite>& writes) {
    std::vector<bool> written;
    written.reserve(writes.size());
    for (const auto& w : writes) {
        if (!w.expected_data) {
            written.push_back(rows_->emplace(w.row.key, w.row).second);
            continue;
        }
        auto it = rows_->find(w.row.key);
        const bool unchanged = it != rows_->end() && it->second.data == *w.expected_data;
        if (unchanged) it->second = w.row;
        written.push_back(unchanged);
    }
    return written;
}

RewriteResult MemoryTable::update_if_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) {
    RewriteResult result;
    for (const auto& rewrite : rewrites) {
        auto it = rows_->find(rewrite.record.key);
        if (it == rows_->end() || it->second.data != rewrite.record.data) continue;
        it->second.data = rewrite.data;
        ++result.rewritten;
        if (want_keys) result.keys.push_back(rewrite.record.key);
    }
    return result;
}

void MemoryTable::scan(const std::function<bool(const StoredSession&)>& visit) {
    for (const auto& [key, row] : *rows_)
        if (!visit(row)) return;
}

}  // namespace sessionctl
