// signing.json: SessionStore.encode() / signing.dumps() outputs of real Django,
// byte for byte, with every intermediate step (JSON, zlib, payload, timestamp,
// derived key, signature), and decoding them back.

#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <string>

#include "backends/sql/db_engine.hpp"
#include "backends/sql/memory_table.hpp"
#include "core/base62.hpp"
#include "core/base64.hpp"
#include "core/clock.hpp"
#include "core/json_codec.hpp"
#include "core/salted_hmac.hpp"
#include "core/session_base.hpp"
#include "core/session_codec.hpp"
#include "core/signer.hpp"
#include "core/zlib_codec.hpp"
#include "tests/support/vector_support.hpp"

using namespace sessionctl;
using vectors::Json;

namespace {

std::string str(const Json& j) { return j.get<std::string>(); }

// SessionStore(...).encode(obj) through the store API: a db store over an
// in-memory table, clock frozen at the vector's time.time().
std::string encode_through_store(const std::string& secret, double time_time, const PyDict& data) {
    auto clock = std::make_shared<FakeClock>(static_cast<std::int64_t>(std::llround(time_time * 1e6)));
    SessionSettings settings;
    auto env = SessionEnvironment::make(settings, SecretKeys{secret, {}}, clock);
    DbStore store(env, std::make_unique<MemoryTable>());
    auto session = store.open(std::nullopt);
    return session->encode(data);
}

}  // namespace

TEST_CASE("signing.json: every case encodes to Django's bytes and decodes back", "[vectors][signing]") {
    for (const auto& dir : vectors::versions()) {
        const Json& doc = vectors::load(dir, "signing.json");
        for (const auto& c : doc["cases"]) {
            const std::string id = str(c["id"]);
            INFO(dir.name << " signing.json " << id);
            const std::string secret = vectors::secret_of(doc, c);
            const std::string salt = str(c["salt"]);
            const std::string json = str(c["json"]);
            const std::string encoded = str(c["encoded"]);
            const bool sha1 = str(c["algorithm"]) == "sha1";
            const HashAlgorithm algorithm = sha1 ? HashAlgorithm::sha1 : HashAlgorithm::sha256;
            const bool compress = c["compress"].get<bool>();
            const double time_time = c["time_time"].get<double>();
            const std::int64_t ts = c["timestamp"].get<std::int64_t>();
            const SecretKeys keys{secret, {}};

            // --- every intermediate field of the vector ---
            CHECK(ts == static_cast<std::int64_t>(std::floor(time_time)));
            CHECK(b62_encode(ts) == str(c["timestamp_b62"]));
            CHECK(json.size() == c["json_len"].get<std::size_t>());
            const std::string zlibbed = zlib_compress(json);
            CHECK(zlibbed.size() == c["zlib_len"].get<std::size_t>());
            // Django keeps zlib output only when it saves at least 2 bytes.
            const bool compressed = compress && zlibbed.size() + 1 < json.size();
            CHECK(compressed == c["compressed"].get<bool>());
            const std::string payload = compressed ? "." + b64url_encode_nopad(zlibbed) : b64url_encode_nopad(json);
            CHECK(payload == str(c["payload"]));
            const std::string signed_value = payload + ":" + b62_encode(ts);
            CHECK(signed_value == str(c["signed_value"]));
            const std::string hmac_key_salt = salt + "signer";
            CHECK(hmac_key_salt == str(c["hmac_key_salt"]));
            // salted_hmac: key = H(key_salt + secret) (plain hash), then HMAC-H.
            CHECK(vectors::plain_digest_hex(sha1, hmac_key_salt + secret) == str(c["derived_key_hex"]));
            const std::string mac = salted_hmac(hmac_key_salt, signed_value, secret, algorithm);
            CHECK(mac == vectors::plain_hmac(sha1, vectors::from_hex(str(c["derived_key_hex"])), signed_value));
            CHECK(SaltedHmac(hmac_key_salt, secret, algorithm).digest(signed_value) == mac);
            const std::string signature = b64url_encode_nopad(mac);
            CHECK(signature.size() == (sha1 ? 27u : 43u));
            CHECK(signature == str(c["signature"]));
            CHECK(signed_value + ":" + signature == encoded);

            // --- the library's encoders ---
            if (!c["object"].is_null()) CHECK(json_dumps(vectors::to_py(c["object"])) == json);
            if (!sha1) {
                if (compress) {
                    SessionCodec codec(keys, salt);
                    CHECK(codec.encode_json(json, ts) == encoded);
                    CHECK(codec.encode(json_loads_latin1(json), ts) == encoded);
                    if (!c["object"].is_null()) CHECK(codec.encode(vectors::to_py(c["object"]), ts) == encoded);
                } else {
                    // signing.dumps(compress=False): the plain payload, never zlib.
                    CHECK(Signer(keys, salt).sign_with_timestamp(b64url_encode_nopad(json), ts) == encoded);
                }
                CHECK(Signer(keys, salt).signature(signed_value) == signature);
            }
            if (str(c["via"]) == "SessionStore.encode") {
                CHECK(salt == session_key_salt("SessionStore"));
                PyValue obj = json_loads_latin1(json);
                REQUIRE(obj.is_dict());
                CHECK(encode_through_store(secret, time_time, obj.as_dict()) == encoded);
            }

            // --- decoding ---
            SessionCodec codec(keys, salt);
            DecodeResult r = codec.decode(encoded);
            CHECK(r.status == DecodeStatus::ok);
            CHECK(r.verified);
            CHECK(r.format == (sha1 ? PayloadFormat::signed_sha1 : PayloadFormat::signed_sha256));
            // 3.1/3.2 SHA-1 envelopes are "legacy" to us: Django >= 4.0 rejects them.
            CHECK(r.is_legacy() == sha1);
            CHECK(r.verified_with() == (sha1 ? "legacy" : "SECRET_KEY"));
            CHECK(r.key_index == std::optional<std::size_t>(0));
            CHECK(r.compressed == c["compressed"].get<bool>());
            CHECK(r.timestamp == std::optional<std::int64_t>(ts));
            CHECK(json_dumps(r.data) == json);
            CHECK(json_dumps(r.data) == vectors::expected_dumps(c["decoded_back"]));
            CHECK(r.is_object() == c["decoded_back"].is_object());
            // Verifying with another salt must fail: the salt is inside the key.
            SessionCodec other(keys, salt + "x");
            CHECK(other.decode(encoded).status == DecodeStatus::bad_signature);
            vectors::count_checked("signing");
        }
    }
}

TEST_CASE("signing.json: key salts per engine and base62 examples", "[vectors][signing]") {
    for (const auto& dir : vectors::versions()) {
        const Json& doc = vectors::load(dir, "signing.json");
        INFO(dir.name);
        for (auto it = doc["key_salt_by_engine"].begin(); it != doc["key_salt_by_engine"].end(); ++it) {
            INFO(it.key());
            // Every built-in engine class is named SessionStore.
            CHECK(session_key_salt("SessionStore") == str(it.value()));
            vectors::count_checked("signing");
        }
        CHECK(str(doc["base62_alphabet"]) == "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
        for (auto it = doc["b62_examples"].begin(); it != doc["b62_examples"].end(); ++it) {
            const std::int64_t n = std::stoll(it.key());
            INFO(n);
            CHECK(b62_encode(n) == str(it.value()));
            CHECK(b62_decode(str(it.value())) == n);
            vectors::count_checked("signing");
        }
    }
}

TEST_CASE("signing.json: 3.2 PickleSerializer envelopes verify; the payload is the pickle", "[vectors][signing]") {
    const auto& dir = vectors::version_3_2();
    const Json& doc = vectors::load(dir, "signing.json");
    const std::string secret = doc["meta"]["secret_key_used_unless_stated"].get<std::string>();
    const std::string salt = session_key_salt("SessionStore");
    for (const auto& p : doc["pickle_serializer_cases"]) {
        const std::string encoded = str(p["encoded"]);
        INFO(dir.name << " " << str(p["id"]));
        // Same envelope as JSON sessions: <payload>:<b62 ts>:<signature>.
        const auto sig_sep = encoded.rfind(':');
        REQUIRE(sig_sep != std::string::npos);
        const std::string value = encoded.substr(0, sig_sep);
        Signer signer(SecretKeys{secret, {}}, salt);
        auto match = signer.verify(value, encoded.substr(sig_sep + 1), false);
        REQUIRE(match.has_value());
        CHECK(match->key_index == 0u);
        const auto ts_sep = value.rfind(':');
        REQUIRE(ts_sep != std::string::npos);
        CHECK(b62_decode(value.substr(ts_sep + 1)) == 1700000000);
        std::string payload = value.substr(0, ts_sep);
        const bool compressed = !payload.empty() && payload[0] == '.';
        CHECK(compressed == p["compressed"].get<bool>());
        if (compressed) payload.erase(0, 1);
        std::string bytes = b64url_decode_django(payload);
        if (compressed) bytes = zlib_decompress(bytes, 1u << 20);
        CHECK(vectors::hex_of(bytes) == str(p["payload_pickle_hex"]));
        // Pickles are not JSON: a JSON-only decoder reports the payload, not {}.
        DecodeResult r = SessionCodec(SecretKeys{secret, {}}, salt).decode(encoded);
        CHECK(r.status == DecodeStatus::malformed);
        CHECK(r.malformed_part == "json");
        CHECK(r.verified);
        CHECK(r.compressed == compressed);
        vectors::count_checked("signing");
    }
}
