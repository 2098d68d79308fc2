#include "backends/cache/cache_codec.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "backends/cache/django_json_encoder.hpp"
#include "backends/cache/msgpack_codec.hpp"
#include "core/errors.hpp"
#include "core/json_codec.hpp"
#include "core/pickle_codec.hpp"
#include "core/zlib_codec.hpp"

namespace sessionctl {
namespace {

constexpr std::uint32_t kFlagBytes = 0, kFlagPickle = 1, kFlagInt = 2, kFlagLong = 4, kFlagZlib = 8, kFlagText = 16;
constexpr std::size_t kMaxInflated = 64u << 20;

// int(data) as RedisSerializer.loads and django-redis's decode() try it:
// optional sign, ASCII digits with single underscores between them (PEP 515),
// surrounding whitespace allowed. A pickle never parses (it starts with 0x80),
// nor do JSON objects, msgpack maps or compressed data.
bool parse_python_int(std::string_view text, PyValue& out) {
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    bool negative = false;
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
        negative = text.front() == '-';
        text.remove_prefix(1);
    }
    auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    if (text.empty() || !is_digit(text.front()) || !is_digit(text.back())) return false;
    std::string digits;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (is_digit(text[i])) digits.push_back(text[i]);
        else if (text[i] != '_' || !is_digit(text[i + 1])) return false;  // text ends with a digit: i + 1 exists
    }
    std::string_view d(digits);
    while (d.size() > 1 && d.front() == '0') d.remove_prefix(1);
    if (d.size() <= 18) {
        std::int64_t v = 0;
        for (char c : d) v = v * 10 + (c - '0');
        out = PyValue(negative ? -v : v);
    } else {
        out = PyValue(PyBigInt{(negative && d != "0" ? "-" : "") + std::string(d)});
    }
    return true;
}

PyValue deserialize(CacheSerializer serializer, std::string_view bytes) {
    switch (serializer) {
        case CacheSerializer::pickle: return pickle_loads(bytes);
        case CacheSerializer::json: return json_loads_utf8(bytes);
        case CacheSerializer::msgpack: return msgpack_loads(bytes);
    }
    return pickle_loads(bytes);
}

std::string serialize(const CacheValueCodec& codec, const PyValue& value) {
    switch (codec.serializer) {
        case CacheSerializer::pickle: return pickle_dumps(value, codec.pickle_protocol);
        case CacheSerializer::json:
            try {
                return json_dumps(django_json_encodable(value), JsonSeparators::python_default);
            } catch (const JsonEncodeError& e) {
                throw SerializationError(
                    fmt::format("django-redis's JSONSerializer cannot write this session: {}", e.what()));
            }
        case CacheSerializer::msgpack: try { return msgpack_dumps(value);
            } catch (const MsgpackEncodeError& e) {
                throw SerializationError(
                    fmt::format("django-redis's MSGPackSerializer cannot write this session: {}", e.what()));
            }
    }
    return pickle_dumps(value, codec.pickle_protocol);
}

// str(int) as redis-py sends an int django-redis or RedisSerializer left as it is.
bool python_int_text(const PyValue& value, std::string& out) {
    if (value.is_int()) out = std::to_string(value.as_int());
    else if (value.is_bigint()) out = value.as_bigint().decimal;
    else return false;
    return true;
}

}  // namespace

DecodedCacheValue decode_cache_value_ex(const CacheValueCodec& codec, std::string_view bytes, std::uint32_t flags) {
    DecodedCacheValue out;
    if (codec.family == CacheFamily::redis) {
        if (parse_python_int(bytes, out.value)) return out;
        std::string inflated;
        if (codec.compressor != CacheCompressor::identity) {
            try {
                inflated = decompress_value(codec.compressor, bytes, kMaxInflated);
                bytes = inflated;
                out.compressed = true;
            } catch (const CompressorError&) {
                // Not compressed: written before the compressor was switched
                // on, or short enough to be stored as it is. django-redis reads
                // the raw bytes then, and so does this.
            }
        }
        out.value = deserialize(codec.serializer, bytes);
        return out;
    }
    std::string inflated;
    if (flags & kFlagZlib) {
        inflated = zlib_decompress(bytes, kMaxInflated);
        bytes = inflated;
        out.compressed = true;
    }
    switch (flags & ~kFlagZlib) {
        case kFlagPickle: out.value = pickle_loads(bytes); return out;
        case kFlagInt:
        case kFlagLong:
            if (!parse_python_int(bytes, out.value)) throw StoreCorrupt("memcached value flagged int is not a number");
            return out;
        case kFlagText: out.value = PyValue(std::string(bytes)); return out;
        case kFlagBytes: out.value = PyValue(PyBytes{std::string(bytes)}); return out;
        default: throw StoreCorrupt(fmt::format("memcached value has unknown flags {}", flags));
    }
}

PyValue decode_cache_value(const CacheValueCodec& codec, std::string_view bytes, std::uint32_t flags) {
    return decode_cache_value_ex(codec, bytes, flags).value;
}

EncodedCacheValue encode_cache_value(const CacheValueCodec& codec, const PyValue& value) {
    if (codec.family == CacheFamily::memcached) return {pickle_dumps(value, 5), kFlagPickle};
    // An int (not a bool) is stored as its digits by both Redis backends.
    if (std::string digits; !value.is_bool() && python_int_text(value, digits)) return {digits, 0};
    return {compress_value(codec.compressor, serialize(codec, value)), 0};
}

const char* cache_value_format(CacheFamily family, std::string_view bytes, std::uint32_t flags) {
    if (family == CacheFamily::redis) {
        PyValue ignored;
        return parse_python_int(bytes, ignored) ? "int" : "pickle";
    }
    bool z = flags & kFlagZlib;
    switch (flags & ~kFlagZlib) {
        case kFlagPickle: return z ? "pickle+zlib" : "pickle";
        case kFlagInt:
        case kFlagLong: return "int";
        case kFlagText: return "str";
        case kFlagBytes: return "bytes";
        default: return "unknown";
    }
}

}  // namespace sessionctl
