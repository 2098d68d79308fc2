// decode.json: SessionStore.decode() of real Django on ~45 valid and invalid
// inputs, in 3.2 and in main (6.1). Our decoder never collapses a failure into
// {}; vectors::check_decode_outcome (tests/vector_support.hpp) documents and
// applies the rule that maps each of Django's outcomes to our DecodeStatus.

#include <catch2/catch.hpp>

#include <string>

#include "core/base62.hpp"
#include "core/json_codec.hpp"
#include "core/session_codec.hpp"
#include "tests/support/vector_support.hpp"

using namespace sessionctl;
using vectors::Json;

namespace {

std::string str(const Json& j) { return j.get<std::string>(); }

// decode.json's description: salt = 'django.contrib.sessions.SessionStore'.
const std::string kSalt = session_key_salt("SessionStore");

}  // namespace

TEST_CASE("decode.json: every input decodes to Django's object or the right failure", "[vectors][decode]") {
    for (const auto& dir : vectors::versions()) {
        const Json& doc = vectors::load(dir, "decode.json");
        for (const auto& c : doc["cases"]) {
            const std::string id = str(c["id"]);
            INFO(dir.name << " decode.json " << id);
            const SecretKeys keys = vectors::keys_of(doc, c);
            const SessionCodec codec(keys, kSalt);

            if (id == "encode_always_uses_SECRET_KEY_not_fallback") {
                // Writing never uses a fallback: SECRET_KEY only.
                CHECK(codec.encode(vectors::to_py(c["object"]), 1700000000) == str(c["encoded"]));
                CHECK(c["identical_to_encoding_with_SECRET_KEY_alone"].get<bool>());
                CHECK(SessionCodec(SecretKeys{keys.secret_key, {}}, kSalt)
                          .encode(vectors::to_py(c["object"]), 1700000000) == str(c["encoded"]));
                vectors::count_checked("decode");
                continue;
            }
            if (!c.contains("input")) {
                // 3.2's wrong_secret_but_in_SECRET_KEY_FALLBACKS: only a note, "3.2
                // has no SECRET_KEY_FALLBACKS; same result as wrong_secret". Check
                // exactly that: the wrong_secret input, no fallbacks configured.
                REQUIRE(id == "wrong_secret_but_in_SECRET_KEY_FALLBACKS");
                const Json* wrong = vectors::find_by(doc["cases"], "id", "wrong_secret");
                REQUIRE(wrong != nullptr);
                const std::string input = str((*wrong)["input"]);
                vectors::check_decode_outcome(codec.decode(input), (*wrong)["decode"], keys, kSalt, input);
                CHECK(codec.decode(input).status == DecodeStatus::bad_signature);
                vectors::count_checked("decode");
                continue;
            }

            const std::string input = str(c["input"]);
            const Json& outcome = c["decode"];
            DecodeResult r = codec.decode(input);
            vectors::check_decode_outcome(r, outcome, keys, kSalt, input);

            // Details the generic rule does not pin.
            if (r.ok()) {
                CHECK(r.format == PayloadFormat::signed_sha256);
                const auto last = input.rfind(':');
                const auto ts_sep = input.rfind(':', last - 1);
                CHECK(r.timestamp ==
                      std::optional<std::int64_t>(b62_decode(input.substr(ts_sep + 1, last - ts_sep - 1))));
                CHECK(r.compressed == (input[0] == '.'));
                if (id == "wrong_secret_but_in_SECRET_KEY_FALLBACKS") {
                    CHECK(r.verified_with() == "SECRET_KEY_FALLBACKS[0]");
                } else if (id == "fallback_second_in_list") {
                    CHECK(r.verified_with() == "SECRET_KEY_FALLBACKS[1]");
                } else {
                    CHECK(r.verified_with() == "SECRET_KEY");
                }
            }
            if (id == "signed_negative_timestamp") CHECK(r.timestamp == std::optional<std::int64_t>(-1));
            if (id == "ancient_timestamp_2001_still_valid") {
                // SessionStore.decode passes no max_age.
                CHECK(*r.timestamp < 1000000000 + 86400 * 366);
            }
            if (id == "signed_json_list_not_dict" || id == "signed_json_string_not_dict" || id == "signed_json_null") {
                CHECK(r.ok());
                CHECK_FALSE(r.is_object());
            }
            if (id == "signed_raw_utf8_json") {
                // Payload bytes are read as latin-1: UTF-8 becomes mojibake.
                CHECK(r.data.as_dict().find("k")->as_str() == "\xc3\x83\xc2\xa9\xc3\xb0\xc2\x9f\xc2\x98\xc2\x80");
            }
            if (id == "signed_truncated_zlib" || id == "signed_bad_zlib") {
                CHECK(r.status == DecodeStatus::malformed);
                CHECK((r.malformed_part == "zlib" || r.malformed_part == "base64"));
            }
            if (id == "signed_bad_json" || id == "signed_trailing_garbage_json" ||
                id == "signed_invalid_data_django_test") {
                CHECK(r.malformed_part == "json");
            }
            if (id == "signed_bad_base62_timestamp" || id == "signed_no_timestamp_plain_signer")
                CHECK(r.malformed_part == "timestamp");
            if (id == "signed_invalid_base64_len_mod4_eq1" || id == "signed_base64_with_junk_chars")
                CHECK(r.malformed_part == "base64");
            // b64decode("") is b"", and json.loads("") fails.
            if (id == "signed_empty_payload") CHECK(r.malformed_part == "json");
            vectors::count_checked("decode");
        }
    }
}
