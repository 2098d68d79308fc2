// cross_decode.json: each Django decoding both versions' encoded strings
// (signing.json, legacy.json, file_backend.json). We reproduce every result;
// where main rejects a legacy/SHA-1 string that 3.2 reads, we (a superset)
// decode it as legacy with the data 3.2 returned.

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "core/json_codec.hpp"
#include "core/session_codec.hpp"
#include "tests/support/vector_support.hpp"

using namespace sessionctl;
using vectors::Json;

namespace {

std::string str(const Json& j) { return j.get<std::string>(); }

struct Source {
    std::string input;
    SecretKeys keys;
    std::string salt;
    bool valid = false;     // a genuine encoding of `canonical`
    std::string canonical;  // json.dumps of the encoded object (when valid)
    PayloadFormat format = PayloadFormat::signed_sha256;
    std::optional<double> time;  // signed_cookies load time
};

Source find_source(const Json& entry) {
    const auto& dir = vectors::version_by_source(str(entry["source_version"]));
    const std::string file = str(entry["file"]);
    const std::string id = str(entry["id"]);
    const Json& doc = vectors::load(dir, file);
    Source s;
    s.salt = session_key_salt("SessionStore");
    if (file == "signing.json") {
        const Json* c = vectors::find_by(doc["cases"], "id", id);
        REQUIRE(c != nullptr);
        s.input = str((*c)["encoded"]);
        s.keys = vectors::keys_of(doc, *c);
        s.salt = str((*c)["salt"]);
        s.valid = true;
        s.canonical = str((*c)["json"]);
        s.format = str((*c)["algorithm"]) == "sha1" ? PayloadFormat::signed_sha1 : PayloadFormat::signed_sha256;
        s.time = (*c)["time_time"].get<double>();
    } else if (file == "legacy.json") {
        const Json* c = vectors::find_by(doc["cases"], "id", id);
        REQUIRE(c != nullptr);
        s.input = str((*c)["encoded"]);
        s.keys = vectors::keys_of(doc, *c);
        s.valid = c->contains("object");
        if (s.valid)
            s.canonical = c->contains("serialized") ? str((*c)["serialized"]) : vectors::expected_dumps((*c)["object"]);
        s.format = PayloadFormat::legacy;
    } else if (file == "file_backend.json") {
        const Json* f = vectors::find_by(doc["files"], "file_name", id);
        REQUIRE(f != nullptr);
        s.input = str((*f)["content"]);
        s.keys = SecretKeys{str(doc["meta"]["secret_key_used_unless_stated"]), {}};
        s.valid = (*f)["content_equals_encode"].get<bool>();
        // The file holds encode() of signing.json's session/<payload> object.
        const Json* c =
            vectors::find_by(vectors::load(dir, "signing.json")["cases"], "id", "session/" + str((*f)["payload"]));
        REQUIRE(c != nullptr);
        s.canonical = str((*c)["json"]);
    } else {
        FAIL("unknown source file " << file);
    }
    return s;
}

}  // namespace

TEST_CASE("cross_decode.json: each version's decoding of both versions' strings", "[vectors][cross_decode]") {
    for (const auto& dir : vectors::versions()) {
        const Json& doc = vectors::load(dir, "cross_decode.json");
        for (const auto& e : doc["results"]) {
            const std::string how = str(e["how"]);
            INFO(dir.name << " decoding " << str(e["source_version"]) << " " << str(e["file"]) << " " << str(e["id"])
                          << " via " << how);
            Source src = find_source(e);
            DecodeOptions options;
            if (how == "signing.loads") {
                CHECK(src.salt == "django.core.signing");
            } else if (how.rfind("signed_cookies.SessionStore.load", 0) == 0) {
                CHECK(src.salt == kSignedCookiesSalt);
                REQUIRE(src.time.has_value());
                options.max_age = 1209600;  // SESSION_COOKIE_AGE, loaded at signing time
                options.now = *src.time;
            } else {
                CHECK((how == "SessionStore.decode" || how == "SessionStore.decode(file content)"));
                CHECK(src.salt == session_key_salt("SessionStore"));
            }
            const SessionCodec codec(src.keys, src.salt);
            const DecodeResult r = codec.decode(src.input, options);
            const bool django_rejected = !e["logged"].empty();

            if (src.valid && django_rejected) {
                // Only main on 3.2's legacy / SHA-1 strings: {} + "Session data corrupted".
                CHECK_FALSE(dir.is_3_2);
                CHECK(src.format != PayloadFormat::signed_sha256);
                CHECK(e["result"].empty());
                CHECK(r.status == DecodeStatus::ok);
                CHECK(r.is_legacy());
                CHECK(r.format == src.format);
                CHECK(json_dumps(r.data) == src.canonical);
            } else if (src.valid) {
                CHECK(r.status == DecodeStatus::ok);
                CHECK(r.verified);
                CHECK(r.format == src.format);
                CHECK(json_dumps(r.data) == vectors::expected_dumps(e["result"]));
                CHECK(json_dumps(r.data) == src.canonical);
                if (e.contains("matches_source_object") && e["matches_source_object"].is_boolean())
                    CHECK(e["matches_source_object"].get<bool>());
            } else {
                // tampered_serialized, wrong_hash, no_colon: never ok.
                Json outcome = Json::object();
                outcome["result"] = e["result"];
                vectors::check_decode_outcome(r, outcome, src.keys, src.salt, src.input);
            }
            vectors::count_checked("cross_decode");
        }
    }
}
