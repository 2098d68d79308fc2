// auth.json: _auth_user_hash (salted HMAC of the password field) and the
// session row a real Client.force_login() wrote.

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "core/auth_hash.hpp"
#include "core/datetime.hpp"
#include "core/json_codec.hpp"
#include "core/salted_hmac.hpp"
#include "core/session_codec.hpp"
#include "core/session_key.hpp"
#include "tests/support/vector_support.hpp"

using namespace sessionctl;
using vectors::Json;

namespace {

std::string str(const Json& j) { return j.get<std::string>(); }

// decode.json's SECRET_KEY_FALLBACKS entry; the generator used the same old
// secret for auth.json's fallback_hashes_for_SECRET_KEY_FALLBACKS.
const std::string kFallbackSecret = "old-secret-key-used-for-fallback-tests-0123456789abcdefghijkl";

}  // namespace

TEST_CASE("auth.json: session_auth_hash matches get_session_auth_hash", "[vectors][auth]") {
    for (const auto& dir : vectors::versions()) {
        const Json& doc = vectors::load(dir, "auth.json");
        CHECK(str(doc["key_salt"]) == "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash");
        for (const auto& c : doc["cases"]) {
            const std::string secret = vectors::secret_of(doc, c);
            const std::string password = str(c["password_field"]);
            INFO(dir.name << " auth.json password=" << password << " secret=" << secret);
            const std::string hash = session_auth_hash(password, secret);
            CHECK(hash.size() == 64u);
            CHECK(hash == str(c["session_auth_hash"]));
            CHECK(hash == to_hex(salted_hmac(str(doc["key_salt"]), password, secret, HashAlgorithm::sha256)));
            // 3.x with DEFAULT_HASHING_ALGORITHM='sha1' (Django's value on 3.2;
            // the generator's recomputation on main, where Django has no sha1).
            const std::string sha1 = session_auth_hash(password, secret, HashAlgorithm::sha1);
            CHECK(sha1.size() == 40u);
            CHECK(sha1 == str(c["legacy_recomputed"]));
            if (dir.is_3_2) CHECK(sha1 == str(c["legacy_sha1_hash_3x"]));
            vectors::count_checked("auth");
        }
        if (doc.contains("fallback_hashes_for_SECRET_KEY_FALLBACKS")) {
            const std::string password = str(doc["cases"][0]["password_field"]);
            for (const auto& h : doc["fallback_hashes_for_SECRET_KEY_FALLBACKS"]) {
                INFO(dir.name << " fallback hash");
                CHECK(session_auth_hash(password, kFallbackSecret) == str(h));
                vectors::count_checked("auth");
            }
        }
    }
}

TEST_CASE("auth.json: the force_login() row decodes to the login keys", "[vectors][auth]") {
    for (const auto& dir : vectors::versions()) {
        const Json& doc = vectors::load(dir, "auth.json");
        INFO(dir.name << " auth.json force_login");
        const Json& row = doc["force_login_db_row"];
        const std::string secret = doc["meta"]["secret_key_used_unless_stated"].get<std::string>();
        SessionCodec codec(SecretKeys{secret, {}}, session_key_salt("SessionStore"));
        DecodeResult r = codec.decode(str(row[1]));
        CHECK(r.status == DecodeStatus::ok);
        CHECK(r.verified_with() == "SECRET_KEY");
        CHECK(r.compressed);
        CHECK(json_dumps(r.data) == vectors::expected_dumps(doc["force_login_decoded"]));
        REQUIRE(r.is_object());
        const PyDict& d = r.data.as_dict();
        REQUIRE(d.find(SESSION_KEY) != nullptr);
        CHECK(d.find(SESSION_KEY)->as_str() == "42");  // the pk as a string
        CHECK(d.find(BACKEND_SESSION_KEY)->as_str() == DEFAULT_AUTH_BACKEND);
        // The user's password is the first case's.
        CHECK(d.find(HASH_SESSION_KEY)->as_str() == session_auth_hash(str(doc["cases"][0]["password_field"]), secret));
        // Re-encoding the decoded dict at the signing time gives the row back.
        CHECK(codec.encode(r.data, *r.timestamp) == str(row[1]));
        // expire_date = now + SESSION_COOKIE_AGE, Django's SQLite text (USE_TZ, UTC).
        const std::string expire = str(row[2]);
        auto parsed = parse_django_datetime(expire);
        REQUIRE(parsed.has_value());
        CHECK(parsed->str_naive() == expire);
        CHECK(DateTime{1700000000'750000 + 1209600LL * 1'000'000, std::nullopt}.str_naive() == expire);
        CHECK(is_valid_session_key(str(row[0])));
        vectors::count_checked("auth");
    }
}
