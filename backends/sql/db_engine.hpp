#pragma once

// django.contrib.sessions.backends.db over any SessionTable.

#include <memory>

#include "backends/sql/session_table.hpp"
#include "backends/store.hpp"

namespace sessionctl {

inline constexpr std::string_view kDbEngine = "django.contrib.sessions.backends.db";

class DbStore final : public Store {
public:
    DbStore(std::shared_ptr<const SessionEnvironment> env, std::unique_ptr<SessionTable> table);

    [[nodiscard]] std::string_view engine() const override { return kDbEngine; }
    [[nodiscard]] const SessionEnvironment& environment() const override { return *env_; }
    [[nodiscard]] std::unique_ptr<SessionBase> open(std::optional<std::string> session_key) override;
    [[nodiscard]] std::optional<StoredSession> fetch(std::string_view key) override;
    void scan(const std::function<bool(const StoredSession&)>& visit) override;
    [[nodiscard]] bool is_expired(const StoredSession& record, const DateTime& now) const override;
    BulkResult clear_expired(DryRun dry_run, bool want_keys) override;
    BulkResult clear_expired(DryRun dry_run, bool want_keys, const BulkOptions& options) override;
    BulkResult remove(const std::vector<StoredSession>& records, bool want_keys) override;
    // Rows with expire_date = the expiry (in the database's terms), in one
    // transaction (SessionTable::write_rows).
    std::vector<WriteOutcome> write_sessions(const std::vector<SessionWrite>& batch, WriteMode mode) override;
    [[nodiscard]] std::vector<StoreMessage> take_messages() override { return table_->take_messages(); }
    // Every SQL table rewrites conditionally (SessionTable::update_if_unchanged).
    [[nodiscard]] bool can_rewrite() const override { return true; }
    RewriteResult rewrite_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) override {
        return table_->update_if_unchanged(rewrites, want_keys);
    }

    [[nodiscard]] SessionTable& table() { return *table_; }

private:
    std::shared_ptr<const SessionEnvironment> env_;
    std::unique_ptr<SessionTable> table_;
};

}  // namespace sessionctl
