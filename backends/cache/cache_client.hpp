#pragma once

// Raw operations on one cache server (or server set), as Django's cache
// backends use it. The cache session engine (backends/cache_engine.*) builds
// on this; one implementation per client family:
//   RedisClient      backends/redis_client.{hpp,cpp}      (hiredis)
//   MemcachedClient  backends/memcached_client.{hpp,cpp}  (libmemcached)
//
// CONTRACT for implementers (memcached helper, read this):
// * Keys are FULL cache-level keys ("KEY_PREFIX:VERSION:django.contrib.
//   sessions.cache<session key>"), already built by the engine. The client does
//   not add prefixes. Key validation that the server needs (memcached: > 250
//   bytes or chars \x00-\x20\x7f -> Django's InvalidCacheKey) is the client's:
//   throw InvalidSessionKey (core/errors.hpp) before any I/O.
// * Values are raw bytes plus a uint32 `flags`. The client does NOT pickle or
//   compress: the engine's codec (backends/cache_codec.*) turns flags+bytes into
//   a Python value and back (memcached: pickle flag 1, zlib bit 8, int 2/4,
//   str 16, bytes 0; Redis: flags always 0, bare decimal = int, else pickle).
//   Redis ignores `flags` on write and returns 0 on read.
// * TTLs are Django's engine timeouts in seconds (get_expiry_age()), passed as
//   given: the client translates them as the Django cache backend does
//   (docs/django-sessions.md §8.3): Redis: <= 0 -> the value must not survive (set: DEL; add:
//   SET NX then DEL); memcached: 0 -> -1, > 30 days -> absolute time.
//   std::nullopt = no expiry (Django timeout=None).
// * Errors: server unreachable / timed out / went away -> StoreUnavailable with
//   a message that names description() (never a password); the server answered
//   with an error (e.g. wrong password -> "authentication failed", wrong type)
//   -> StoreError. Nothing ever printed or thrown contains a password.
// * scan_prefix() streams every key starting with `prefix` in batches; `visit`
//   receives a batch of fetched entries (key, value, flags, ttl) and returns
//   false to stop. Entries that vanish between listing and fetching are simply
//   not reported. listing_is_exact() says whether the listing is complete
//   (Redis SCAN: true; memcached lru_crawler metadump: false, best effort).
// * Not thread-safe; one connection per client object.
// * memcached: backends/memcached/memcached_client.hpp declares
//     std::unique_ptr<CacheClient> open_memcached_client(const nlohmann::json& cache_config);
//   taking one CACHES entry ({"BACKEND": ..., "LOCATION": ..., "OPTIONS": ...})
//   and throwing ConfigError (core/config.hpp) for a bad LOCATION. The cache
//   engine calls it for BACKEND django.core.cache.backends.memcached.
//   PyMemcacheCache / PyLibMCCache / MemcachedCache.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/errors.hpp"

namespace sessionctl {

struct CacheValue {
    std::string bytes;        // the stored payload, exactly as on the server
    std::uint32_t flags = 0;  // memcached client flags; 0 for Redis
    // Remaining lifetime in seconds when the server reports it (Redis TTL);
    // nullopt when unknown, or when the key never expires (see `persistent`).
    std::optional<std::int64_t> ttl_seconds;
    // The same in milliseconds when the server reports them (Redis PTTL);
    // ttl_seconds is then their floor.
    std::optional<std::int64_t> ttl_millis;
    bool persistent = false;  // the server says the key has no expiry
};

struct CacheEntry {
    std::string key;
    CacheValue value;
};

class CacheClient {
public:
    virtual ~CacheClient() = default;

    // "redis://:***@127.0.0.1:6379/1", "memcached 127.0.0.1:11211": for
    // messages; any password redacted.
    [[nodiscard]] virtual std::string description() const = 0;

    // Django's cache.get: nullopt on a miss.
    [[nodiscard]] virtual std::optional<CacheValue> get(std::string_view key) = 0;

    // cache.add: stores only if absent; returns false when the key was taken.
    virtual bool add(std::string_view key, std::string_view bytes, std::uint32_t flags,
                     std::optional<std::int64_t> ttl_seconds) = 0;

    // add() for many entries, in order; returns which were stored. Redis
    // pipelines it; the default loops.
    struct Write {
        std::string key;
        std::string bytes;
        std::uint32_t flags = 0;
        std::optional<std::int64_t> ttl_seconds;
    };
    virtual std::vector<bool> add_many(const std::vector<Write>& writes) {
        std::vector<bool> stored;
        stored.reserve(writes.size());
        for (const auto& w : writes) stored.push_back(add(w.key, w.bytes, w.flags, w.ttl_seconds));
        return stored;
    }

    // Stores `write` only while its key still holds exactly `expected` bytes
    // (a compare-and-set: a session a live request rewrote or deleted
    // meanwhile is kept). Returns true when stored. Redis: atomic (Lua);
    // memcached: gets + cas.
    virtual bool replace_if_unchanged(const Write& write, std::string_view expected) = 0;

    // cache.set: stores unconditionally.
    virtual void set(std::string_view key, std::string_view bytes, std::uint32_t flags,
                     std::optional<std::int64_t> ttl_seconds) = 0;

    // cache.delete: true when a value was removed.
    virtual bool remove(std::string_view key) = 0;

    // Removes `key` only if it still holds exactly `expected` bytes (a session
    // a live request rewrote meanwhile is kept). Returns true when removed.
    // Redis: atomic (Lua compare-and-delete). memcached: gets + CAS-guarded
    // delete if available, else get-compare-delete (documented race).
    virtual bool remove_if_unchanged(std::string_view key, std::string_view expected) = 0;

    // remove_if_unchanged for many (key, expected bytes) pairs; returns which
    // were removed (same order). Redis pipelines it; the default loops. The
    // engine calls it in batches of a few hundred, so a StoreUnavailable part
    // way loses at most one batch's count.
    virtual std::vector<bool> remove_many_if_unchanged(const std::vector<std::pair<std::string, std::string>>& items) {
        std::vector<bool> removed;
        removed.reserve(items.size());
        for (const auto& [key, expected] : items) removed.push_back(remove_if_unchanged(key, expected));
        return removed;
    }

    // Replaces the value of `key` by `bytes`/`flags` only if it still holds
    // exactly `expected`, keeping its expiry (rekey). Redis: atomic (Lua,
    // SET KEEPTTL). memcached: gets + cas with `ttl_seconds` (the remaining
    // lifetime the scan reported) as the new exptime. Returns true when replaced.
    virtual bool replace_keeping_expiry_if_unchanged(std::string_view key, std::string_view expected,
                                                     std::string_view bytes, std::uint32_t flags,
                                                     std::optional<std::int64_t> ttl_seconds);
    // cache.delete_many; returns how many were removed (best effort count when
    // the server does not say).
    virtual std::uint64_t remove_many(const std::vector<std::string>& keys) = 0;

    // Streams the entries whose key starts with `prefix` (see the contract).
    // With Ttl::not_needed an entry's ttl_seconds may be left unset: a caller
    // that only matches values spares Redis one TTL command per key.
    enum class Ttl { wanted, not_needed };
    virtual void scan_prefix(std::string_view prefix, const std::function<bool(std::vector<CacheEntry>&)>& visit,
                             Ttl ttl) = 0;
    void scan_prefix(std::string_view prefix, const std::function<bool(std::vector<CacheEntry>&)>& visit) {
        scan_prefix(prefix, visit, Ttl::wanted);
    }

    // true when scan_prefix sees every key (Redis); false for best effort.
    [[nodiscard]] virtual bool listing_is_exact() const = 0;
};

inline bool CacheClient::replace_keeping_expiry_if_unchanged(std::string_view, std::string_view, std::string_view,
                                                             std::uint32_t, std::optional<std::int64_t>) {
    throw StoreError(description() + " cannot replace values conditionally");
}

}  // namespace sessionctl
