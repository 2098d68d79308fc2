#pragma once

// CacheClient over memcached (libmemcached), for Django's memcached cache
// backends: PyMemcacheCache (pymemcache HashClient), PyLibMCCache (pylibmc) and
// the old MemcachedCache (python-memcached). Keys, values and flags go to the
// server exactly as those clients send them; TTLs are translated as
// BaseMemcachedCache.get_backend_timeout does (backends/memcached_rules.hpp).
//
// Several servers: PyMemcacheCache places every key on the server pymemcache's
// rendezvous hash picks, and so does this client (one libmemcached handle per
// server, chosen by us; libmemcached's own distribution differs). pylibmc and
// python-memcached hash differently; with several servers they are refused.
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
    std::string backend = "PyMemcacheCache";  // the class name from BACKEND
    std::vector<MemcachedServerSpec> servers;
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
