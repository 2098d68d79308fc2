#pragma once

// Cache targets on the test servers (server_support.hpp), as the cache and
// cached_db engines open them from Django's CACHES settings.

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "backends/cache/cache_target.hpp"
#include "backends/memcached/memcached_client.hpp"
#include "backends/redis/redis_client.hpp"

namespace sessionctl::testing {

inline nlohmann::json redis_cache(const std::string& url, const std::string& prefix,
                                  const std::string& backend = "django.core.cache.backends.redis.RedisCache") {
    return nlohmann::json{{"BACKEND", backend}, {"LOCATION", url + "/7"}, {"KEY_PREFIX", prefix}, {"VERSION", 3}};
}

inline CacheTarget open_target(const nlohmann::json& cache) {
    CacheTarget t = cache_target_settings(cache);
    t.codec = CacheValueCodec(CacheFamily::redis);
    t.client = open_redis_client(redis_endpoint_from_cache_config(cache));
    return t;
}

// One cache server a contract runs on: opens a target under a KEY_PREFIX.
struct CacheServer {
    std::string name;  // "Redis", "memcached"
    CacheFamily family;
    bool exact_listing;  // SCAN is exact; memcached's metadump is best effort
    std::function<CacheTarget(const std::string& prefix)> open;
};

inline CacheServer redis_server(const std::string& url) {
    return {"Redis", CacheFamily::redis, true,
            [url](const std::string& prefix) { return open_target(redis_cache(url, prefix)); }};
}

// rediss:// trusting the test CA in `certs` (scripts/test_certs.sh).
inline CacheServer redis_tls_server(const std::string& url, const std::string& certs) {
    return {"TLS Redis", CacheFamily::redis, true, [url, certs](const std::string& prefix) {
                nlohmann::json cache = redis_cache(url, prefix);
                cache["OPTIONS"] = {{"ssl_ca_certs", certs + "/ca.crt"}};
                return open_target(cache);
            }};
}

inline CacheServer memcached_server(const std::string& location) {
    return {"memcached", CacheFamily::memcached, false, [location](const std::string& prefix) {
                nlohmann::json cache{{"BACKEND", "django.core.cache.backends.memcached.PyMemcacheCache"},
                                     {"LOCATION", location},
                                     {"KEY_PREFIX", prefix},
                                     {"VERSION", 3}};
                CacheTarget t = cache_target_settings(cache);
                t.codec = CacheValueCodec(CacheFamily::memcached);
                t.client = open_memcached_client(cache);
                return t;
            }};
}

}  // namespace sessionctl::testing
