#pragma once

// A django_session table in memory: the test double for the db engine, and
// the store the SessionBase conformance tests run against.

#include <map>
#include <memory>

#include "backends/sql/session_table.hpp"

namespace sessionctl {

class MemoryTable final : public SessionTable {
public:
    // Rows live in `rows`, so several tables (two "processes") can share them.
    using Rows = std::map<std::string, StoredSession, std::less<>>;
    explicit MemoryTable(std::shared_ptr<Rows> rows = std::make_shared<Rows>()) : rows_(std::move(rows)) {}

    [[nodiscard]] bool insert(const StoredSession& row) override;
    [[nodiscard]] bool update(const StoredSession& row) override;
    [[nodiscard]] std::optional<StoredSession> select_live(std::string_view key, const DateTime& now) override;
    [[nodiscard]] std::optional<StoredSession> select(std::string_view key) override;
    [[nodiscard]] bool exists(std::string_view key) override;
    void erase(std::string_view key) override;
    // One "batch": everything at once (there is no lock to share); honours
    // should_stop before it starts, and reports progress after it.
    BulkResult delete_expired(const DateTime& now, DryRun dry_run, bool want_keys,
                              const BulkOptions& options = {}) override;
    BulkResult delete_if_unchanged(const std::vector<StoredSession>& rows, bool want_keys) override;
    [[nodiscard]] std::vector<bool> write_rows(const std::vector<RowWrite>& writes) override;
    RewriteResult update_if_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) override;
    void scan(const std::function<bool(const StoredSession&)>& visit) override;

    [[nodiscard]] const std::shared_ptr<Rows>& rows() const { return rows_; }

private:
    std::shared_ptr<Rows> rows_;
};

}  // namespace sessionctl
