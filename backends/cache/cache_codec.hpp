#pragma once

// Cache value bytes <-> Python values, per client family (docs/django-sessions.md §8.4, §8.5):
//   Redis (Django RedisCache, django-redis): an exact int is stored as bare
//     decimal digits, anything else as pickle.dumps(value, 5); a reader tries
//     int() first, then unpickles. No flags.
//   memcached (pymemcache / pylibmc / python-memcached): flags say the type:
//     0 bytes, 1 pickle, 2 int (pymemcache; pylibmc's bool), 4 int (pylibmc),
//     16 str; bit 8 = zlib-compressed payload (pylibmc).
// Sessions are always dicts, so writes are always pickle (flag 1 on memcached).

#include <cstdint>
#include <string>
#include <string_view>

#include "core/pyvalue.hpp"

namespace sessionctl {

enum class CacheFamily { redis, memcached };

struct EncodedCacheValue {
    std::string bytes;
    std::uint32_t flags = 0;
};

// Throws PickleError (incl. PickleRefusedError) / ZlibError for what Django
// could not read either, and StoreCorrupt for unknown memcached flags.
[[nodiscard]] PyValue decode_cache_value(CacheFamily family, std::string_view bytes, std::uint32_t flags);

[[nodiscard]] EncodedCacheValue encode_cache_value(CacheFamily family, const PyValue& value);

// "pickle", "pickle+zlib", "int", "str", "bytes": for inspect's "format".
[[nodiscard]] const char* cache_value_format(CacheFamily family, std::string_view bytes, std::uint32_t flags);

}  // namespace sessionctl
