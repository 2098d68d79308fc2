#include "backends/cache/cache_target.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

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

// A class path from OPTIONS, or nullopt when absent/None.
std::optional<std::string> class_option(const nlohmann::json& options, const char* name) {
    if (!options.contains(name) || options[name].is_null()) return std::nullopt;
    if (!options[name].is_string())
        throw ConfigError(fmt::format("CACHES OPTIONS {} must be a class path string", name));
    return options[name].get<std::string>();
}

// django-redis's SERIALIZER, COMPRESSOR and PICKLE_VERSION (DefaultClient).
CacheValueCodec django_redis_codec(const nlohmann::json& options) {
    static const std::pair<std::string_view, CacheSerializer> serializers[] = {
        {"django_redis.serializers.pickle.PickleSerializer", CacheSerializer::pickle},
        {"django_redis.serializers.json.JSONSerializer", CacheSerializer::json},
        {"django_redis.serializers.msgpack.MSGPackSerializer", CacheSerializer::msgpack},
    };
    static const std::pair<std::string_view, CacheCompressor> compressors[] = {
        {"django_redis.compressors.identity.IdentityCompressor", CacheCompressor::identity},
        {"django_redis.compressors.zlib.ZlibCompressor", CacheCompressor::zlib},
        {"django_redis.compressors.gzip.GzipCompressor", CacheCompressor::gzip},
        {"django_redis.compressors.lzma.LzmaCompressor", CacheCompressor::lzma},
        {"django_redis.compressors.lz4.Lz4Compressor", CacheCompressor::lz4},
        {"django_redis.compressors.zstd.ZStdCompressor", CacheCompressor::zstd},
    };
    CacheValueCodec codec(CacheFamily::redis);
    // pickle.DEFAULT_PROTOCOL of Python 3.8 to 3.13 (Debian 11 to 13).
    codec.pickle_protocol = 4;
    if (auto name = class_option(options, "SERIALIZER")) {
        auto it = std::find_if(std::begin(serializers), std::end(serializers),
                               [&](const auto& s) { return s.first == *name; });
        if (it == std::end(serializers))
            throw ConfigError(
                fmt::format("CACHES OPTIONS SERIALIZER '{}' is not supported (django-redis's pickle, json or msgpack "
                            "serializer; a custom class is Python code sessionctl cannot run)",
                            *name));
        codec.serializer = it->second;
    }
    if (auto name = class_option(options, "COMPRESSOR")) {
        auto it = std::find_if(std::begin(compressors), std::end(compressors),
                               [&](const auto& c) { return c.first == *name; });
        if (it == std::end(compressors))
            throw ConfigError(fmt::format(
                "CACHES OPTIONS COMPRESSOR '{}' is not supported (django-redis's identity, zlib, gzip, lzma, lz4 "
                "or zstd compressor; a custom class is Python code sessionctl cannot run)",
                *name));
        codec.compressor = it->second;
    }
    if (options.contains("PICKLE_VERSION") && codec.serializer == CacheSerializer::pickle) {
        const nlohmann::json& v = options["PICKLE_VERSION"];
        std::optional<std::int64_t> protocol;
        if (v.is_number_integer()) protocol = v.get<std::int64_t>();
        else if (v.is_string() && !v.get<std::string>().empty() &&
                 v.get<std::string>().find_first_not_of("-0123456789") == std::string::npos)
            protocol = std::stoll(v.get<std::string>());
        if (!protocol || (*protocol != 4 && *protocol != 5 && *protocol != -1))
            throw ConfigError(fmt::format("CACHES OPTIONS PICKLE_VERSION {} is not supported (4, 5 or -1)", v.dump()));
        codec.pickle_protocol = *protocol == -1 ? 5 : static_cast<int>(*protocol);
    }
    return codec;
}

CacheValueCodec redis_codec_of(const nlohmann::json& cache, std::string_view backend) {
    nlohmann::json options = cache.value("OPTIONS", nlohmann::json::object());
    if (!options.is_object()) throw ConfigError("CACHES OPTIONS must be an object");
    if (backend == kDjangoRedis) {
        // SentinelClient is DefaultClient reaching its primary through Sentinel
        // (backends/redis/redis_sentinel.hpp): the same encode/decode.
        if (options.value("CLIENT_CLASS", nlohmann::json()) != "django_redis.client.SentinelClient")
            require_default(options, "CLIENT_CLASS", "django_redis.client.DefaultClient");
        return django_redis_codec(options);
    }
    require_default(options, "serializer", "django.core.cache.backends.redis.RedisSerializer");
    return CacheValueCodec(CacheFamily::redis);
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

CacheValueCodec cache_value_codec(const nlohmann::json& cache) {
    const std::string backend = cache.is_object() ? cache.value("BACKEND", "") : "";
    if (is_memcached(backend)) return CacheValueCodec(CacheFamily::memcached);
    return redis_codec_of(cache, backend);
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
        t.codec = cache_value_codec(cache);
        t.client = open_redis_client(redis_target_from_cache_config(cache));
    } else if (is_memcached(t.backend)) {
        t.codec = cache_value_codec(cache);
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
