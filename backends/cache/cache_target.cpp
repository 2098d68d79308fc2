#include "backends/cache/cache_target.hpp"

#include <cmath>

#include <fmt/format.h>

#include "backends/memcached/memcached_client.hpp"
#include "backends/redis/redis_client.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

constexpr std::string_view kRedisCache = "django.core.cache.backends.redis.RedisCache";
constexpr std::string_view kDjangoRedis = "django_redis.cache.RedisCache";

bool is_memcached(std::string_view backend) {
    return backend == "django.core.cache.backends.memcached.PyMemcacheCache" ||
           backend == "django.core.cache.backends.memcached.PyLibMCCache" ||
           backend == "django.core.cache.backends.memcached.MemcachedCache";
}

// An OPTIONS entry that changes how values are stored must be the default one:
// sessionctl writes pickles exactly as that default writes them.
void require_default(const nlohmann::json& options, const char* name, std::string_view expected) {
    if (!options.contains(name) || options[name].is_null()) return;
    if (options[name].is_string() && options[name].get<std::string>() == expected) return;
    throw ConfigError(
        fmt::format("CACHES OPTIONS {} {} is not supported (only {})", name, options[name].dump(), expected));
}

void check_redis_options(const nlohmann::json& cache, std::string_view backend) {
    nlohmann::json options = cache.value("OPTIONS", nlohmann::json::object());
    if (!options.is_object()) throw ConfigError("CACHES OPTIONS must be an object");
    if (backend == kDjangoRedis) {
        // SentinelClient is DefaultClient reaching its primary through Sentinel
        // (backends/redis/redis_sentinel.hpp).
        if (options.value("CLIENT_CLASS", nlohmann::json()) != "django_redis.client.SentinelClient")
            require_default(options, "CLIENT_CLASS", "django_redis.client.DefaultClient");
        require_default(options, "SERIALIZER", "django_redis.serializers.pickle.PickleSerializer");
        require_default(options, "COMPRESSOR", "django_redis.compressors.identity.IdentityCompressor");
    } else {
        require_default(options, "serializer", "django.core.cache.backends.redis.RedisSerializer");
    }
}

}  // namespace

CacheTarget cache_target_settings(const nlohmann::json& cache) {
    CacheTarget t;
    if (!cache.is_object()) throw ConfigError("a CACHES entry must be an object");
    t.backend = cache.value("BACKEND", "");
    const nlohmann::json prefix = cache.value("KEY_PREFIX", nlohmann::json(""));
    if (!prefix.is_string()) throw ConfigError("CACHES KEY_PREFIX must be a string");
    t.key_prefix = prefix.get<std::string>();
    const nlohmann::json version = cache.value("VERSION", nlohmann::json(1));
    if (version.is_number_integer()) t.version = std::to_string(version.get<std::int64_t>());
    else if (version.is_string()) t.version = version.get<std::string>();
    else throw ConfigError("CACHES VERSION must be an integer or a string");
    const nlohmann::json key_function = cache.value("KEY_FUNCTION", nlohmann::json());
    if (!key_function.is_null() &&
        !(key_function.is_string() &&
          key_function.get<std::string>() == "django.core.cache.backends.base.default_key_func"))
        throw ConfigError(
            "CACHES KEY_FUNCTION: custom key functions are Python code sessionctl cannot run; only the default "
            "(KEY_PREFIX:VERSION:key) is supported");
    return t;
}

CacheTarget open_cache_target(const Config& config) {
    const nlohmann::json& alias_json = config.get("SESSION_CACHE_ALIAS");
    std::string alias = alias_json.is_string() ? alias_json.get<std::string>() : "default";
    const nlohmann::json& caches = config.get("CACHES");
    if (!caches.is_object() || !caches.contains(alias))
        throw ConfigError(fmt::format("CACHES has no '{}' entry (SESSION_CACHE_ALIAS)", alias));
    const nlohmann::json& cache = caches[alias];
    CacheTarget t = cache_target_settings(cache);
    if (t.backend == kRedisCache || t.backend == kDjangoRedis) {
        check_redis_options(cache, t.backend);
        t.family = CacheFamily::redis;
        t.client = open_redis_client(redis_target_from_cache_config(cache));
    } else if (is_memcached(t.backend)) {
        t.family = CacheFamily::memcached;
        t.client = open_memcached_client(cache);
    } else if (t.backend.find("locmem") != std::string::npos || t.backend.find("dummy") != std::string::npos) {
        throw ConfigError(
            fmt::format("CACHES['{}'] BACKEND {} lives inside each Django process; sessionctl "
                        "cannot reach it (use Redis or memcached)",
                        alias, t.backend));
    } else {
        throw ConfigError(fmt::format("CACHES['{}'] BACKEND '{}' is not supported (Redis: {} or {})", alias, t.backend,
                                      kRedisCache, kDjangoRedis));
    }
    return t;
}

}  // namespace sessionctl
