// signed_cookie.json: the signed_cookies engine, whose cookie value is
// signing.dumps(session, salt="django.contrib.sessions.backends.signed_cookies",
// compress=True), loaded with max_age = SESSION_COOKIE_AGE.

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "core/base62.hpp"
#include "core/json_codec.hpp"
#include "core/session_codec.hpp"
#include "tests/support/vector_support.hpp"

using namespace sessionctl;
using vectors::Json;

namespace {

std::string str(const Json& j) { return j.get<std::string>(); }

DecodeResult load_at(const SessionCodec& codec, const std::string& cookie, double now, std::int64_t max_age) {
    DecodeOptions options;
    options.max_age = max_age;
    options.now = now;
    return codec.decode(cookie, options);
}

// The signing time (the b62 timestamp inside the cookie).
std::int64_t cookie_timestamp(const std::string& cookie) {
    const auto last = cookie.rfind(':');
    const auto ts_sep = cookie.rfind(':', last - 1);
    return b62_decode(cookie.substr(ts_sep + 1, last - ts_sep - 1));
}

}  // namespace

TEST_CASE("signed_cookie.json: cookie values and load() around max_age", "[vectors][signed_cookie]") {
    for (const auto& dir : vectors::versions()) {
        const Json& doc = vectors::load(dir, "signed_cookie.json");
        const std::string secret = doc["meta"]["secret_key_used_unless_stated"].get<std::string>();
        const std::int64_t cookie_age = doc["SESSION_COOKIE_AGE"].get<std::int64_t>();
        const SessionCodec codec(SecretKeys{secret, {}}, std::string(kSignedCookiesSalt));
        for (const auto& c : doc["cases"]) {
            const std::string id = str(c["id"]);
            INFO(dir.name << " signed_cookie.json " << id);
            const std::string cookie = str(c["cookie_value"]);

            if (!c.contains("load_at")) {
                // custom_expiry_ignored_by_load: SESSION_COOKIE_AGE = 60, loaded 120 s
                // after signing; _session_expiry (3600) is not consulted.
                REQUIRE(c.contains("load_120s_later"));
                CHECK(c["load_120s_later"]["result"].empty());
                const std::int64_t ts = cookie_timestamp(cookie);
                DecodeResult r = load_at(codec, cookie, static_cast<double>(ts) + 120, 60);
                CHECK(r.status == DecodeStatus::expired);
                CHECK(SessionBase::session_dict_from(r).empty());
                // Without max_age the same cookie is fine and carries the custom expiry.
                DecodeResult plain = codec.decode(cookie);
                CHECK(plain.ok());
                CHECK(plain.data.as_dict().find("_session_expiry")->as_int() == 3600);
                vectors::count_checked("signed_cookie");
                continue;
            }

            const double time_time = c["time_time"].get<double>();
            const auto ts = static_cast<std::int64_t>(std::floor(time_time));
            CHECK(codec.encode(vectors::to_py(c["object"]), ts) == cookie);
            CHECK(cookie.size() == c["cookie_len"].get<std::size_t>());
            // Not the session salt: a stored-session codec rejects the cookie.
            CHECK(SessionCodec(SecretKeys{secret, {}}, session_key_salt("SessionStore")).decode(cookie).status ==
                  DecodeStatus::bad_signature);

            for (auto it = c["load_at"].begin(); it != c["load_at"].end(); ++it) {
                const Json& at = it.value();
                const double now = at["time_time"].get<double>();
                INFO("load_at " << it.key() << " time " << now);
                CHECK(at["logs"].empty());  // load() never logs
                DecodeResult r = load_at(codec, cookie, now, cookie_age);
                // load() on failure calls create(), which sets modified.
                if (at["modified_after_load"].get<bool>()) {
                    CHECK(at["result"].empty());
                    CHECK(r.status == DecodeStatus::expired);
                    CHECK(r.verified);
                    CHECK(now - static_cast<double>(ts) > static_cast<double>(cookie_age));
                } else {
                    CHECK(r.status == DecodeStatus::ok);
                    CHECK(json_dumps(r.data) == vectors::expected_dumps(at["result"]));
                    // Valid up to and including ts + age.
                    CHECK(now - static_cast<double>(ts) <= static_cast<double>(cookie_age));
                }
                vectors::count_checked("signed_cookie");
            }
            vectors::count_checked("signed_cookie");
        }

        // SessionMiddleware's Set-Cookie headers: the HTTP formatting is not core's
        // business; the cookie value and Max-Age (= get_expiry_age()) are.
        for (auto it = doc["middleware_set_cookie_headers"].begin(); it != doc["middleware_set_cookie_headers"].end();
             ++it) {
            const std::string name = it.key();
            const Json& h = it.value();
            INFO(dir.name << " middleware " << name);
            const std::string header = str(h["set_cookie"]);
            if (!h.contains("settings")) {
                // flush_deletes_cookie: an HTTP-only deletion header.
                CHECK(header.find("Max-Age=0") != std::string::npos);
                vectors::count_skipped("signed_cookie", dir, "middleware/" + name,
                                       "cookie deletion header is HTTP-layer only (no session value in it)");
                continue;
            }
            const bool at_close = h["settings"].value("SESSION_EXPIRE_AT_BROWSER_CLOSE", false);
            if (at_close) {
                CHECK(header.find("Max-Age") == std::string::npos);
            } else {
                CHECK(header.find("; Max-Age=" + std::to_string(cookie_age) + ";") != std::string::npos);
            }
            if (name.rfind("signed_cookies/", 0) == 0) {
                const auto ts = static_cast<std::int64_t>(std::floor(h["time_time"].get<double>()));
                const std::string value = codec.encode(PyDict{{"foo", "bar"}}, ts);
                CHECK(header.rfind("sessionid=" + value + ";", 0) == 0);
            }
            vectors::count_checked("signed_cookie");
        }
    }
}
