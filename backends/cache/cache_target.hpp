#pragma once

// CACHES[SESSION_CACHE_ALIAS] resolved into what the cache session engines
// need: a connected client, its value codec, and Django's default key function
// (KEY_PREFIX:VERSION:key).

#include <memory>
#include <string>
#include <string_view>

#include "backends/cache/cache_client.hpp"
#include "backends/cache/cache_codec.hpp"
#include "core/config.hpp"

namespace sessionctl {

struct CacheTarget {
    std::shared_ptr<CacheClient> client;
    CacheValueCodec codec;   // family, and django-redis's SERIALIZER / COMPRESSOR
    std::string backend;     // CACHES[alias]["BACKEND"]
    std::string key_prefix;  // KEY_PREFIX
    std::string version;     // VERSION as "%s" formats it

    // django.core.cache.backends.base.default_key_func
    [[nodiscard]] std::string make_key(std::string_view key) const {
        std::string out;
        out.reserve(key_prefix.size() + version.size() + key.size() + 2);
        out.append(key_prefix).append(":").append(version).append(":").append(key);
        return out;
    }
};

// The key settings only (no connection): for tests and for messages.
[[nodiscard]] CacheTarget cache_target_settings(const nlohmann::json& cache_config);

// How the backend of one CACHES entry stores values (django-redis's
// SERIALIZER, COMPRESSOR, PICKLE_VERSION); no connection. Throws ConfigError
// for a serializer or compressor sessionctl cannot reproduce (custom classes).
[[nodiscard]] CacheValueCodec cache_value_codec(const nlohmann::json& cache_config);

// Reads SESSION_CACHE_ALIAS and CACHES, connects. Throws ConfigError for a
// backend sessionctl cannot reach (LocMemCache lives inside each Django process),
// a custom KEY_FUNCTION or serializer; StoreUnavailable/StoreError when the
// server cannot be used.
[[nodiscard]] CacheTarget open_cache_target(const Config& config);

}  // namespace sessionctl
