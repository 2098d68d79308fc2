#include "backends/cache/cache_codec.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/pickle_codec.hpp"
#include "core/zlib_codec.hpp"

namespace sessionctl {
namespace {

constexpr std::uint32_t kFlagBytes = 0, kFlagPickle = 1, kFlagInt = 2, kFlagLong = 4, kFlagZlib = 8, kFlagText = 16;
constexpr std::size_t kMaxInflated = 64u << 20;

// int(data) as RedisSerializer.loads tries it: optional sign, ASCII digits,
// surrounding whitespace allowed. A pickle never parses (it starts with 0x80).
bool parse_python_int(std::string_view text, PyValue& out) {
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    bool negative = false;
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
        negative = text.front() == '-';
        text.remove_prefix(1);
    }
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    while (text.size() > 1 && text.front() == '0') text.remove_prefix(1);
    if (text.size() <= 18) {
        std::int64_t v = 0;
        for (char c : text) v = v * 10 + (c - '0');
        out = PyValue(negative ? -v : v);
    } else {
        out = PyValue(PyBigInt{(negative && text != "0" ? "-" : "") + std::string(text)});
    }
    return true;
}

}  // namespace

PyValue decode_cache_value(CacheFamily family, std::string_view bytes, std::uint32_t flags) {
    if (family == CacheFamily::redis) {
        PyValue number;
        if (parse_python_int(bytes, number)) return number;
        return pickle_loads(bytes);
    }
    std::string inflated;
    if (flags & kFlagZlib) {
        inflated = zlib_decompress(bytes, kMaxInflated);
        bytes = inflated;
    }
    switch (flags & ~kFlagZlib) {
        case kFlagPickle: return pickle_loads(bytes);
        case kFlagInt:
        case kFlagLong: {
            PyValue number;
            if (!parse_python_int(bytes, number)) throw StoreCorrupt("memcached value flagged int is not a number");
            return number;
        }
        case kFlagText: return PyValue(std::string(bytes));
        case kFlagBytes: return PyValue(PyBytes{std::string(bytes)});
        default: throw StoreCorrupt(fmt::format("memcached value has unknown flags {}", flags));
    }
}

EncodedCacheValue encode_cache_value(CacheFamily family, const PyValue& value) {
    return {pickle_dumps(value), family == CacheFamily::redis ? 0u : kFlagPickle};
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
