// django-redis's serializers and compressors (backends/cache/cache_codec,
// msgpack_codec, value_compression, django_json_encoder): bytes Python 3.11
// wrote (msgpack 1.0.3, zlib, lzma, lz4.frame 4.0.2, zstandard 0.20 at
// level 3, DjangoJSONEncoder), the fallback to raw bytes, the int rule and the
// limits. The same pairs against real django-redis: tests/system/
// django_integration/test_django_redis_codecs.py.

#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "backends/cache/cache_codec.hpp"
#include "backends/cache/cache_engine.hpp"
#include "backends/cache/cache_target.hpp"
#include "backends/cache/django_json_encoder.hpp"
#include "backends/cache/msgpack_codec.hpp"
#include "backends/cache/value_compression.hpp"
#include "core/errors.hpp"
#include "core/json_codec.hpp"
#include "core/pickle_codec.hpp"
#include "tests/support/vector_support.hpp"

using namespace sessionctl;

namespace {

CacheValueCodec django_redis(CacheCompressor compressor, CacheSerializer serializer) {
    CacheValueCodec codec(CacheFamily::redis);
    codec.compressor = compressor;
    codec.serializer = serializer;
    codec.pickle_protocol = 4;
    return codec;
}

PyValue sample_value() {
    PyDict d;
    d.set("a", PyValue(1));
    PyList b{PyValue(true),
             PyValue(),
             PyValue(1.5),
             PyValue(std::string(40, 'x')),
             PyValue(-33),
             PyValue(PyBigInt{"9223372036854775808"}),
             PyValue(PyBytes{{'\0'}}),
             PyValue(std::int64_t{-1099511627776}),
             PyValue(300),
             PyValue("\xc3\xa9")};
    d.set("b", PyValue(std::move(b)));
    d.set("c", PyValue(PyDict{}));
    return PyValue(std::move(d));
}

// msgpack.dumps(sample_value()) by msgpack-python 1.0.3.
constexpr const char* kSampleMsgpack =
    "83a16101a1629ac3c0cb3ff8000000000000d92878787878787878787878787878787878787878787878787878787878787878787878"
    "787878787878d0dfcf8000000000000000c40100d3ffffff0000000000cd012ca2c3a9a16380";

const std::string kData = [] {
    std::string s;
    for (int i = 0; i < 12; ++i) s += "session-data ";
    return s;
}();

}  // namespace

TEST_CASE("msgpack: msgpack-python's bytes both ways, and its refusals", "[cache][msgpack]") {
    CHECK(vectors::hex_of(msgpack_dumps(sample_value())) == kSampleMsgpack);
    CHECK(msgpack_loads(vectors::from_hex(kSampleMsgpack)) == sample_value());
    CHECK(msgpack_loads(vectors::from_hex("ca3f800000")) == PyValue(1.0));
    CHECK(msgpack_loads(vectors::from_hex("cfffffffffffffffff")) == PyValue(PyBigInt{"18446744073709551615"}));
    CHECK(msgpack_loads(vectors::from_hex("82a16101a16102")).as_dict().find("a")->as_int() == 2);  // last wins

    CHECK_THROWS_WITH(msgpack_loads(vectors::from_hex("810102")), Catch::Contains("int is not allowed for map key"));
    CHECK_THROWS_AS(msgpack_loads(vectors::from_hex("81c4016102")), MsgpackError);  // bytes key
    CHECK_THROWS_WITH(msgpack_loads(vectors::from_hex("d6ff00000001")), Catch::Contains("Timestamp"));
    CHECK_THROWS_WITH(msgpack_loads(vectors::from_hex("a1ff")), Catch::Contains("utf-8"));
    CHECK_THROWS_WITH(msgpack_loads(vectors::from_hex("0102")), Catch::Contains("extra data"));
    CHECK_THROWS_AS(msgpack_loads(vectors::from_hex("c1")), MsgpackError);
    CHECK_THROWS_AS(msgpack_loads(vectors::from_hex("dd7fffffff")), MsgpackError);  // count beyond the input
    CHECK_THROWS_AS(msgpack_loads(vectors::from_hex("a5616263")), MsgpackError);    // truncated str

    // Nesting: msgpack-python reads 1024 levels, not 1025, and writes 511.
    auto nested = [](std::size_t levels) { return std::string(levels - 1, '\x91') + '\x90'; };
    CHECK_NOTHROW(msgpack_loads(nested(1024)));
    CHECK_THROWS_AS(msgpack_loads(nested(1025)), MsgpackError);

    CHECK_THROWS_AS(msgpack_dumps(PyValue(PyDecimal{"1.10"})), MsgpackEncodeError);
    CHECK_THROWS_AS(msgpack_dumps(PyValue(PyBigInt{"18446744073709551616"})), MsgpackEncodeError);
    CHECK_THROWS_AS(msgpack_dumps(PyValue(PyBigInt{"-9223372036854775809"})), MsgpackEncodeError);
    CHECK_THROWS_AS(msgpack_dumps(PyValue("\xed\xa0\x80")), MsgpackEncodeError);  // a lone surrogate
}

TEST_CASE("compressors: Python's bytes, the min_length rule, decompression limits", "[cache][compress]") {
    CHECK(vectors::hex_of(compress_value(CacheCompressor::zlib, kData)) ==
          "789c2b4e2d2ececccfd34d492c4954281e5c1c0038943b05");
    CHECK(vectors::hex_of(compress_value(CacheCompressor::lzma, kData)) ==
          "fd377a585a000004e6d6b4460200210114000000ffe7ec09e0009b00145d0039994adff463cfe2f3696eb8b3c524a0bda000000"
          "08bac225ba971bc950001309c01000000047e656bb1c467fb020000000004595a");
    CHECK(vectors::hex_of(compress_value(CacheCompressor::lz4, kData)) ==
          "04224d1868409c000000000000000517000000df73657373696f6e2d64617461200d007750646174612000000000");
    CHECK(vectors::hex_of(compress_value(CacheCompressor::zstd, kData)) ==
          "28b52ffd209ca500006873657373696f6e2d646174612001000ca0e617");
    // gzip.compress: the header's time is the clock's; the rest is fixed.
    const std::string gz = compress_value(CacheCompressor::gzip, kData);
    CHECK(vectors::hex_of(gz.substr(0, 4)) == "1f8b0800");
    CHECK(vectors::hex_of(gz.substr(8, 2)) == "02ff");

    for (auto c : {CacheCompressor::zlib, CacheCompressor::gzip, CacheCompressor::lzma, CacheCompressor::lz4,
                   CacheCompressor::zstd}) {
        INFO(compressor_name(c));
        CHECK(decompress_value(c, compress_value(c, kData), 1 << 20) == kData);
        // Not in the format: CompressorError, which makes the reader use the raw bytes.
        CHECK_THROWS_AS(decompress_value(c, "\x80\x04}\x94.", 1 << 20), CompressorError);
        // Past the limit: refused, not read raw.
        const std::string big(1 << 20, 'z');
        CHECK_THROWS_AS(decompress_value(c, compress_value(c, big), 1000), DecompressedTooLarge);
        // Truncated: not a complete value either.
        const std::string whole = compress_value(c, kData);
        CHECK_THROWS_AS(decompress_value(c, whole.substr(0, whole.size() - 5), 1 << 20), CompressorError);
    }
    // min_length: 15 bytes stay as they are (lzma: 100).
    const std::string fifteen(15, 'q');
    CHECK(compress_value(CacheCompressor::zlib, fifteen) == fifteen);
    CHECK(compress_value(CacheCompressor::zlib, fifteen + "q") != fifteen + "q");
    CHECK(compress_value(CacheCompressor::lzma, std::string(100, 'q')) == std::string(100, 'q'));
    CHECK(compress_value(CacheCompressor::lzma, std::string(101, 'q')) != std::string(101, 'q'));
}

TEST_CASE("django-redis values: every serializer x compressor, old uncompressed values, ints", "[cache][compress]") {
    PyDict session;
    session.set("_auth_user_id", PyValue("7"));
    session.set("pad", PyValue(std::string(200, 'p')));
    for (auto s : {CacheSerializer::pickle, CacheSerializer::json, CacheSerializer::msgpack}) {
        for (auto c : {CacheCompressor::identity, CacheCompressor::zlib, CacheCompressor::gzip, CacheCompressor::lzma,
                       CacheCompressor::lz4, CacheCompressor::zstd}) {
            INFO(compressor_name(c) << " " << static_cast<int>(s));
            const CacheValueCodec codec = django_redis(c, s);
            const EncodedCacheValue e = encode_cache_value(codec, PyValue(session));
            const DecodedCacheValue d = decode_cache_value_ex(codec, e.bytes, 0);
            CHECK(d.value == PyValue(session));
            CHECK(d.compressed == (c != CacheCompressor::identity));
            // Written before the compressor was switched on: read as it is.
            const EncodedCacheValue plain = encode_cache_value(django_redis(CacheCompressor::identity, s), session);
            const DecodedCacheValue old = decode_cache_value_ex(codec, plain.bytes, 0);
            CHECK(old.value == PyValue(session));
            CHECK_FALSE(old.compressed);
            const DecodeResult r = decode_cache_record(codec, StoredSession{"k", e.bytes, std::nullopt});
            REQUIRE(r.ok());
            CHECK(std::string(r.format_name()) == (s == CacheSerializer::pickle ? "pickle"
                                                   : s == CacheSerializer::json ? "json"
                                                                                : "msgpack"));
        }
    }
    // Exact ints are stored as digits, whatever the serializer; int() rules on read.
    const CacheValueCodec json_zlib = django_redis(CacheCompressor::zlib, CacheSerializer::json);
    CHECK(encode_cache_value(json_zlib, PyValue(42)).bytes == "42");
    CHECK(encode_cache_value(json_zlib, PyValue(true)).bytes == "true");  // a bool is serialized
    CHECK(decode_cache_value(json_zlib, " 1_000 ", 0) == PyValue(1000));
    CHECK(decode_cache_value(json_zlib, "-00012", 0) == PyValue(-12));
    CHECK_THROWS_AS(decode_cache_value(json_zlib, "1__0", 0), JsonDecodeError);

    // The serializers' formats: json.dumps' default separators, protocol 4.
    PyDict small;
    small.set("a", PyValue(PyList{PyValue(1), PyValue("\xc3\xa9")}));
    CHECK(encode_cache_value(django_redis(CacheCompressor::identity, CacheSerializer::json), small).bytes ==
          "{\"a\": [1, \"\\u00e9\"]}");
    CHECK(encode_cache_value(django_redis(CacheCompressor::identity, CacheSerializer::pickle), small)
              .bytes.substr(0, 2) == "\x80\x04");
    // json.loads(bytes.decode()): UTF-8, not latin-1; invalid UTF-8 is refused.
    CHECK(decode_cache_value(django_redis(CacheCompressor::identity, CacheSerializer::json), "{\"a\": \"\xc3\xa9\"}",
                             0) == PyValue(PyDict{{"a", PyValue("\xc3\xa9")}}));
    const DecodeResult bad = decode_cache_record(django_redis(CacheCompressor::identity, CacheSerializer::json),
                                                 StoredSession{"k", "{\"a\": \"\xff\"}", std::nullopt});
    CHECK(bad.malformed_part == "json");
    // What a serializer cannot write is refused before anything is stored.
    PyDict with_set;
    with_set.set("s", PyValue(PySet{}));
    CHECK_THROWS_AS(encode_cache_value(django_redis(CacheCompressor::zlib, CacheSerializer::json), with_set),
                    SerializationError);
    PyDateTime when;
    when.year = 2024;
    with_set.set("s", PyValue(when));
    CHECK_THROWS_AS(encode_cache_value(django_redis(CacheCompressor::zlib, CacheSerializer::msgpack), with_set),
                    SerializationError);
}

TEST_CASE("DjangoJSONEncoder: datetimes, times, timedeltas and Decimals as Django writes them", "[cache]") {
    auto utc = std::make_shared<PyTzInfo>();
    PyDateTime d;
    d.year = 2024, d.month = 1, d.day = 2, d.hour = 3, d.minute = 4, d.second = 5, d.microsecond = 678901;
    d.tzinfo = utc;
    PyDateTime t;
    t.kind = PyDateTime::Kind::time, t.hour = 1, t.minute = 2, t.second = 3, t.microsecond = 456789;
    PyDict v;
    v.set("d", PyValue(d));
    v.set("t", PyValue(t));
    v.set("td", PyValue(PyTimeDelta{-2, 86394, 999997}));
    v.set("dec", PyValue(PyDecimal{"1.10"}));
    v.set("l", PyValue(PyTuple{{PyValue(1), PyValue(2)}}));
    // json.dumps(..., cls=DjangoJSONEncoder) by Django 5.2.
    CHECK(json_dumps(django_json_encodable(PyValue(v)), JsonSeparators::python_default) ==
          R"({"d": "2024-01-02T03:04:05.678Z", "t": "01:02:03.456", "td": "-P1DT00H00M05.000003S", )"
          R"("dec": "1.10", "l": [1, 2]})");
    t.tzinfo = utc;
    CHECK_THROWS_AS(django_json_encodable(PyValue(t)), SerializationError);
}

TEST_CASE("pickle protocol 4: django-redis's default", "[cache]") {
    PyDict d;
    d.set("k", PyValue(PyByteArray{"ab"}));
    d.set("e", PyValue(PyByteArray{}));
    // pickle.dumps({"k": bytearray(b"ab"), "e": bytearray()}, 4)
    CHECK(vectors::hex_of(pickle_dumps(PyValue(d), 4)) ==
          "80049534000000000000007d94288c016b948c086275696c74696e73948c096279746561727261799493944302616294859452"
          "948c0165946804295294752e");
    CHECK_THROWS_AS(pickle_dumps(PyValue(d), 3), PickleError);
}

TEST_CASE("django-redis OPTIONS: SERIALIZER, COMPRESSOR, PICKLE_VERSION", "[cache]") {
    using nlohmann::json;
    auto codec_of = [](json options) {
        return cache_value_codec(json{
            {"BACKEND", "django_redis.cache.RedisCache"}, {"LOCATION", "redis://127.0.0.1:1/0"}, {"OPTIONS", options}});
    };
    const CacheValueCodec plain = codec_of(json::object());
    CHECK((plain.serializer == CacheSerializer::pickle && plain.compressor == CacheCompressor::identity &&
           plain.pickle_protocol == 4));
    const CacheValueCodec lz4_json = codec_of(json{{"COMPRESSOR", "django_redis.compressors.lz4.Lz4Compressor"},
                                                   {"SERIALIZER", "django_redis.serializers.json.JSONSerializer"}});
    CHECK((lz4_json.compressor == CacheCompressor::lz4 && lz4_json.serializer == CacheSerializer::json));
    CHECK(codec_of(json{{"PICKLE_VERSION", -1}}).pickle_protocol == 5);
    CHECK(codec_of(json{{"PICKLE_VERSION", "5"}}).pickle_protocol == 5);
    CHECK_THROWS_WITH(codec_of(json{{"SERIALIZER", "myapp.Custom"}}), Catch::Contains("SERIALIZER"));
    CHECK_THROWS_WITH(codec_of(json{{"COMPRESSOR", "myapp.Brotli"}}), Catch::Contains("COMPRESSOR"));
    CHECK_THROWS_WITH(codec_of(json{{"PICKLE_VERSION", 2}}), Catch::Contains("PICKLE_VERSION"));
    // Django's RedisCache always pickles with protocol 5.
    CHECK(cache_value_codec(json{{"BACKEND", "django.core.cache.backends.redis.RedisCache"}}).pickle_protocol == 5);
}
