#pragma once

// Cache value bytes <-> Python values, per client family (docs/django-sessions.md §8.4, §8.5):
//   Redis, Django's RedisCache: an exact int is stored as bare decimal
//     digits, anything else as pickle.dumps(value, 5); a reader tries int()
//     first, then unpickles. No flags.
//   Redis, django-redis (DefaultClient.encode/decode): the same int rule;
//     anything else is SERIALIZER.dumps (pickle protocol 4 = Python's
//     DEFAULT_PROTOCOL, or PICKLE_VERSION; JSON; msgpack), then
//     COMPRESSOR.compress (backends/cache/value_compression.hpp). Reading
//     decompresses and, when the bytes are not in the compressor's format
//     (CompressorError), reads them as they are: values written before the
//     compressor was switched on, or too short to be compressed.
//   memcached (pymemcache / pylibmc / python-memcached): flags say the type:
//     0 bytes, 1 pickle, 2 int (pymemcache; pylibmc's bool), 4 int (pylibmc),
//     16 str; bit 8 = zlib-compressed payload (pylibmc).
// Sessions are always dicts, so writes are always serialized (flag 1 on memcached).

#include <cstdint>
#include <string>
#include <string_view>

#include "backends/cache/value_compression.hpp"
#include "core/pyvalue.hpp"

namespace sessionctl {

enum class CacheFamily { redis, memcached };

// django-redis's SERIALIZER (Django's own backends always pickle).
enum class CacheSerializer { pickle, json, msgpack };

// How one cache stores its values.
struct CacheValueCodec {
    CacheFamily family = CacheFamily::redis;
    CacheSerializer serializer = CacheSerializer::pickle;
    CacheCompressor compressor = CacheCompressor::identity;
    int pickle_protocol = 5;  // HIGHEST_PROTOCOL; django-redis: DEFAULT_PROTOCOL (4) or PICKLE_VERSION

    CacheValueCodec() = default;
    // Django's own backend of that family (pickle 5, no compressor).
    CacheValueCodec(CacheFamily f) : family(f) {}  // NOLINT(google-explicit-constructor)
};

struct EncodedCacheValue {
    std::string bytes;
    std::uint32_t flags = 0;
};

struct DecodedCacheValue {
    PyValue value;
    bool compressed = false;  // the bytes were compressed (and inflated for reading)
};

// Throws PickleError (incl. PickleRefusedError) / JsonDecodeError /
// MsgpackError / ZlibError / DecompressedTooLarge for what Django could not
// read either, and StoreCorrupt for unknown memcached flags.
[[nodiscard]] DecodedCacheValue decode_cache_value_ex(const CacheValueCodec& codec, std::string_view bytes,
                                                      std::uint32_t flags);
[[nodiscard]] PyValue decode_cache_value(const CacheValueCodec& codec, std::string_view bytes, std::uint32_t flags);

// Throws SerializationError when the serializer cannot write the value
// (JSON: a set, bytes; msgpack: a datetime, a Decimal), as Django would raise.
[[nodiscard]] EncodedCacheValue encode_cache_value(const CacheValueCodec& codec, const PyValue& value);

// "pickle", "pickle+zlib", "int", "str", "bytes": for inspect's "format".
[[nodiscard]] const char* cache_value_format(CacheFamily family, std::string_view bytes, std::uint32_t flags);

}  // namespace sessionctl
