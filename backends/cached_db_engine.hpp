#pragma once

// django.contrib.sessions.backends.cached_db: the db engine's table (the
// authority: scan, fetch, expiry and clearsessions all use it) with a cache in
// front under KEY_PREFIX:VERSION:django.contrib.sessions.cached_db<key>.
// Deleting removes the cache entry, the row, then the cache entry again, so a
// request that refilled the cache from the row meanwhile cannot resurrect it.
// Django's load() reads the cache first, so a cached copy whose row is gone (a
// slow request wrote it back after a delete, or a site deleted rows directly)
// is still a live session: cache_copies() lists such copies for the scans of
// inspect and delete --user/--where, which the table alone cannot see.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/cache/cache_engine.hpp"
#include "backends/cache/cache_target.hpp"
#include "backends/sql/db_engine.hpp"

namespace sessionctl {

inline constexpr std::string_view kCachedDbEngine = "django.contrib.sessions.backends.cached_db";
inline constexpr std::string_view kCachedDbKeyPrefix = "django.contrib.sessions.cached_db";

class CachedDbStore final : public Store {
public:
    CachedDbStore(std::shared_ptr<const SessionEnvironment> env, std::unique_ptr<DbStore> db, CacheTarget cache);

    [[nodiscard]] std::string_view engine() const override { return kCachedDbEngine; }
    [[nodiscard]] const SessionEnvironment& environment() const override { return *env_; }
    [[nodiscard]] std::unique_ptr<SessionBase> open(std::optional<std::string> session_key) override;
    [[nodiscard]] std::optional<StoredSession> fetch(std::string_view key) override { return db_->fetch(key); }
    void scan(const std::function<bool(const StoredSession&)>& visit) override { db_->scan(visit); }
    [[nodiscard]] bool is_expired(const StoredSession& record, const DateTime& now) const override {
        return db_->is_expired(record, now);
    }
    // The db half (Django's): cache entries time out on their own.
    BulkResult clear_expired(DryRun dry_run, bool want_keys) override { return db_->clear_expired(dry_run, want_keys); }
    BulkResult clear_expired(DryRun dry_run, bool want_keys, const BulkOptions& options) override {
        return db_->clear_expired(dry_run, want_keys, options);
    }
    BulkResult remove(const std::vector<StoredSession>& records, bool want_keys) override;
    // The rows (the db engine's write), then, as Django's save() does, the
    // cache entry of each row written (cache.set, TTL the whole seconds left).
    std::vector<WriteOutcome> write_sessions(const std::vector<SessionWrite>& batch, WriteMode mode) override;
    // The rows (conditionally, as the db engine), then each rewritten row's
    // cached copy is dropped: Django's load() reads the cache first, and the
    // copy still holds the old data; without it Django reads the new row.
    [[nodiscard]] bool can_rewrite() const override { return db_->can_rewrite(); }
    RewriteResult rewrite_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) override;

    [[nodiscard]] std::string cache_key(std::string_view session_key) const {
        return cache_.make_key(std::string(kCachedDbKeyPrefix) + std::string(session_key));
    }
    [[nodiscard]] CacheClient& client() { return *cache_.client; }
    [[nodiscard]] const CacheTarget& cache() const { return cache_; }
    [[nodiscard]] DbStore& db() { return *db_; }

    // The cache half as a store of its own: scans every cached copy (pickled
    // dicts, expiry from the TTL), decodes them, and removes them only if
    // unchanged. Exact on Redis, best effort on memcached (take_messages()).
    [[nodiscard]] CacheStore& cache_copies() { return copies_; }
    // Django's load() reads the cache first: a cached copy whose row is gone
    // is still a live session, which the table's listing cannot show.
    [[nodiscard]] Store* shadow_records() override { return &copies_; }
    // Whether the session still has its row (expired or not).
    [[nodiscard]] bool has_main_record(std::string_view session_key) override {
        return db_->table().exists(session_key);
    }
    [[nodiscard]] ShadowTerms shadow_terms() const override {
        return {"only in the cache", "the database row is gone, but Django still serves the cached copy", "cached copy",
                "cached copies", "database row"};
    }
    // The table's messages, then (after a scan of the copies on a server that
    // cannot list its keys: memcached) that copies without a row may have
    // been missed.
    [[nodiscard]] std::vector<StoreMessage> take_messages() override;

private:
    std::shared_ptr<const SessionEnvironment> env_;
    std::unique_ptr<DbStore> db_;
    CacheTarget cache_;
    CacheStore copies_;  // shares cache_'s connection
};

}  // namespace sessionctl
