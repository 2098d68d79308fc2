#pragma once

// django.contrib.sessions.backends.cache over a CacheClient (docs/django-sessions.md §8): the
// cache holds pickle(session dict) under KEY_PREFIX:VERSION:
// django.contrib.sessions.cache<key>, with TTL = get_expiry_age() at save.
// Present in the cache = live (Django's load is a plain get); the TTL is the
// expiry. clear_expired is a no-op, as Django's: the server drops expired keys.

#include <memory>
#include <optional>
#include <string>

#include "backends/cache/cache_target.hpp"
#include "backends/store.hpp"

namespace sessionctl {

inline constexpr std::string_view kCacheEngine = "django.contrib.sessions.backends.cache";
inline constexpr std::string_view kCacheKeyPrefix = "django.contrib.sessions.cache";

// int(get_expiry_age()) as the cache backends take a timeout: int, float
// truncated, bool 0/1; clamped to int64.
[[nodiscard]] std::int64_t cache_timeout_seconds(const PyValue& age);

// The stored value as a DecodeResult for inspect: ok + verified with format
// cache_pickle / cache_json / cache_msgpack (the serializer's), or malformed
// ("pickle", "json", "msgpack", "zlib", a compressor's name) saying why.
[[nodiscard]] DecodeResult decode_cache_record(const CacheValueCodec& codec, const StoredSession& record);

class CacheStore final : public Store {
public:
    // `session_prefix`: what Django puts before the session key (the cached_db
    // engine reads its cache half through a CacheStore with kCachedDbKeyPrefix).
    CacheStore(std::shared_ptr<const SessionEnvironment> env, CacheTarget target,
               std::string_view session_prefix = kCacheKeyPrefix);

    [[nodiscard]] std::string_view engine() const override { return kCacheEngine; }
    [[nodiscard]] const SessionEnvironment& environment() const override { return *env_; }
    [[nodiscard]] std::unique_ptr<SessionBase> open(std::optional<std::string> session_key) override;
    [[nodiscard]] std::optional<StoredSession> fetch(std::string_view key) override;
    // SCAN of the prefix (exact on Redis, best effort on memcached: see
    // listing_is_exact()); order is the server's.
    void scan(const std::function<bool(const StoredSession&)>& visit) override;
    void scan_key_and_data(const std::function<bool(const StoredSession&)>& visit) override;
    // Present in the cache means live: Django's cache engine loads it.
    [[nodiscard]] bool is_expired(const StoredSession& record, const DateTime& now) const override;
    // No-op (Django's is too): expired entries are dropped by the cache server.
    BulkResult clear_expired(DryRun dry_run, bool want_keys) override;
    // Compare-and-delete per record (Redis: a Lua script, atomic), in batches.
    BulkResult remove(const std::vector<StoredSession>& records, bool want_keys) override;
    // pickle(data) with TTL = the whole seconds left (rounded down), through
    // add (SET NX) or a compare-and-set; under a second left: expired.
    std::vector<WriteOutcome> write_sessions(const std::vector<SessionWrite>& batch, WriteMode mode) override;
    [[nodiscard]] DecodeResult decode_record(const StoredSession& record) const override;
    [[nodiscard]] EncodedRecord encode_record(const PyValue& data) const override;
    // Compare-and-replace per record, the TTL kept (Redis KEEPTTL; memcached:
    // the remaining lifetime the scan saw).
    [[nodiscard]] bool can_rewrite() const override { return true; }
    RewriteResult rewrite_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) override;
    [[nodiscard]] bool records_are_signed_session_data() const override { return false; }  // pickles

    // take_listing_note() as a warning.
    [[nodiscard]] std::vector<StoreMessage> take_messages() override;

    [[nodiscard]] bool listing_is_exact() const { return target_.client->listing_is_exact(); }
    // A message for the user, once: after a scan on a server that cannot list
    // its keys exactly (memcached: "best effort"), or after clear_expired (a
    // no-op on a cache). nullopt when there is nothing to say.
    [[nodiscard]] std::optional<std::string> take_listing_note();
    [[nodiscard]] std::string cache_key(std::string_view session_key) const {
        return target_.make_key(session_prefix_ + std::string(session_key));
    }
    [[nodiscard]] CacheClient& client() { return *target_.client; }
    [[nodiscard]] const CacheTarget& target() const { return target_; }

private:
    StoredSession record_of(std::string key, CacheValue value) const;
    void scan_entries(const std::function<bool(const StoredSession&)>& visit, CacheClient::Ttl ttl);

    std::shared_ptr<const SessionEnvironment> env_;
    CacheTarget target_;
    std::string session_prefix_;
    std::optional<std::string> note_;
};

}  // namespace sessionctl
