#pragma once

// CacheClient over memcached (libmemcached), for Django's memcached cache
// backends: PyMemcacheCache (pymemcache HashClient), PyLibMCCache (pylibmc) and
// the old MemcachedCache (python-memcached). Keys, values and flags go to the
// server exactly as those clients send them; TTLs are translated as
// BaseMemcachedCache.get_backend_timeout does (backends/memcached_rules.hpp).
//
// Several servers: PyMemcacheCache places every key on the server pymemcache's
// rendezvous hash picks, and so does this client (one libmemcached handle per
// server, chosen by us). PyLibMCCache's pylibmc is libmemcached itself: a
// second handle holds all its servers, added as pylibmc adds them after the
// placement behaviors of OPTIONS["behaviors"], and libmemcached says which
// server holds a key (memcached_server_by_key). python-memcached hashes
// differently; with several servers it is refused.
//
// libmemcached is dlopen'ed when the first client is opened (backends/
// libmemcached_api.hpp); without it, opening one is a StoreUnavailable.
//
// Listing keys (scan_prefix) uses `lru_crawler metadump`: best effort, see
// listing_is_exact() and backends/memcached_metadump.hpp.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/cache/cache_client.hpp"
#include "backends/memcached/memcached_rules.hpp"
#include "core/clock.hpp"

namespace sessionctl {

struct MemcachedClientOptions {
    std::string backend = "PyMemcacheCache";   // the class name from BACKEND
    std::vector<MemcachedServerSpec> servers;  // each server once, in LOCATION order
    // PyLibMCCache: the servers as pylibmc adds them (duplicates and weights
    // kept) and the behaviors that decide placement; empty otherwise.
    std::vector<PylibmcServer> pylibmc_servers;
    std::vector<PylibmcBehavior> pylibmc_behaviors;
    bool pylibmc_binary = false;  // OPTIONS["binary"]
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds io_timeout{3000};
    // For timeouts over 30 days (absolute exptimes) and the remaining TTLs of
    // listed keys; the system clock when null.
    std::shared_ptr<const Clock> clock;
};

// One CACHES entry ({"BACKEND", "LOCATION", "OPTIONS"}) -> options. OPTIONS
// are the Python client's keyword arguments: PyMemcacheCache's connect_timeout
// and timeout (seconds) set ours; those that would change the stored keys or
// bytes (key_prefix, serde, serializer, deserializer, hasher) and SASL
// (PyLibMCCache username/password) are refused; the rest only tune the Python
// client and are ignored. Throws ConfigError naming the problem.
[[nodiscard]] MemcachedClientOptions memcached_options_from_cache_config(const nlohmann::json& cache_config);

// Connects lazily: the first operation reports an absent server
// (StoreUnavailable naming it).
[[nodiscard]] std::unique_ptr<CacheClient> open_memcached_client(const MemcachedClientOptions& options);
[[nodiscard]] std::unique_ptr<CacheClient> open_memcached_client(const nlohmann::json& cache_config);

}  // namespace sessionctl
