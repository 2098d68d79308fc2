// legacy.json: the pre-3.1 session format, base64(hexHMAC-SHA1 ":" json),
// written by Django <= 3.0 and by 3.1.1-3.2 with DEFAULT_HASHING_ALGORITHM =
// 'sha1'. 3.2 encodes and decodes it; main returns {} and logs. Our decoder is a
// superset: it reads legacy strings (reporting is_legacy()), so where main says
// {} we assert the data 3.2 returned.

#include <catch2/catch.hpp>

#include <string>

#include "core/base64.hpp"
#include "core/json_codec.hpp"
#include "core/salted_hmac.hpp"
#include "core/session_codec.hpp"
#include "tests/support/vector_support.hpp"

using namespace sessionctl;
using vectors::Json;

namespace {

std::string str(const Json& j) { return j.get<std::string>(); }

const std::string kSalt = session_key_salt("SessionStore");

// The object a valid legacy case encodes, as Django's json.dumps bytes.
std::string canonical_object(const Json& c) {
    if (c.contains("serialized")) return str(c["serialized"]);
    return vectors::expected_dumps(c["object"]);
}

}  // namespace

TEST_CASE("legacy.json: pre-3.1 strings encode and decode like Django 3.2", "[vectors][legacy]") {
    for (const auto& dir : vectors::versions()) {
        const Json& doc = vectors::load(dir, "legacy.json");
        for (const auto& c : doc["cases"]) {
            const std::string id = str(c["id"]);
            INFO(dir.name << " legacy.json " << id);
            const SecretKeys keys = vectors::keys_of(doc, c);
            const SessionCodec codec(keys, kSalt);
            const std::string encoded = str(c["encoded"]);

            if (c.contains("serialized")) {
                // Every field of our own re-computation, against Django's output.
                const std::string serialized = str(c["serialized"]);
                CHECK(str(c["legacy_key_salt"]) == "django.contrib.sessionsSessionStore");  // no dot
                const std::string hash =
                    SaltedHmac(str(c["legacy_key_salt"]), keys.secret_key, HashAlgorithm::sha1).hexdigest(serialized);
                CHECK(hash.size() == 40u);
                CHECK(hash == str(c["hash_hex"]));
                CHECK(b64_encode(hash + ":" + serialized) == encoded);
                CHECK(json_dumps(vectors::to_py(c["object"])) == serialized);
                CHECK(codec.encode_legacy(json_loads_latin1(serialized)) == encoded);
            }
            if (c.contains("object") && !c.contains("serialized")) {
                // Django's own test vector and 3.2's encode() with DEFAULT_HASHING_ALGORITHM='sha1'.
                CHECK(codec.encode_legacy(vectors::to_py(c["object"])) == encoded);
            }

            DecodeResult r = codec.decode(encoded);
            if (c.contains("object")) {
                // A valid legacy string: we read it, whatever this Django does.
                CHECK(r.status == DecodeStatus::ok);
                CHECK(r.verified);
                CHECK(r.format == PayloadFormat::legacy);
                CHECK(r.is_legacy());
                CHECK(r.verified_with() == "legacy");
                CHECK_FALSE(r.timestamp.has_value());
                CHECK(json_dumps(r.data) == canonical_object(c));
                if (c.contains("decode_result_this_version")) {
                    const Json& outcome = c["decode_result_this_version"];
                    if (dir.is_3_2) {
                        // 3.2 returns exactly the object, silently.
                        CHECK(outcome["logs"].empty());
                        CHECK(vectors::expected_dumps(outcome["result"]) == canonical_object(c));
                    } else {
                        // main: {} and "Session data corrupted"; we are the superset.
                        CHECK(outcome["result"].empty());
                        CHECK(outcome["logs"].size() == 1u);
                    }
                }
            } else {
                // tampered_serialized, wrong_hash, no_colon: 3.2 returns {}.
                vectors::check_decode_outcome(r, c["decode_result_this_version"], keys, kSalt, encoded);
                if (id == "legacy/tampered_serialized" || id == "legacy/wrong_hash") {
                    CHECK(r.status == DecodeStatus::bad_signature);
                    CHECK(r.format == PayloadFormat::legacy);
                }
            }
            vectors::count_checked("legacy");
        }
    }
}
