// rediss:// (TLS): the ssl_* settings as redis-py reads them (no server), then
// the verification failures on private TLS redis-servers that present the
// certificates scripts/test_certs.sh makes (SESSIONCTL_TEST_REDIS_TLS_CERTS,
// set by scripts/servers.sh): each is StoreUnavailable (exit 3) with a line
// saying which check failed, and nothing waits past its timeout.

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/redis/redis_client.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "tests/support/private_redis.hpp"
#include "tests/support/server_support.hpp"

using namespace sessionctl;
using namespace sessionctl::testing;
using nlohmann::json;

namespace {

constexpr const char* kRedisCache = "django.core.cache.backends.redis.RedisCache";
constexpr const char* kDjangoRedis = "django_redis.cache.RedisCache";

// The message of the StoreUnavailable that opening `ep` throws ("" if it
// connected).
std::string open_failure(const RedisEndpoint& ep) {
    try {
        auto client = open_redis_client(ep);
        (void)client->get("probe");
        return {};
    } catch (const StoreUnavailable& e) {
        return e.what();
    }
}

std::string contains(const std::string& text, const std::string& part) {
    INFO("message: " << text);
    CHECK(text.find(part) != std::string::npos);
    return text;
}

// A private TLS-only redis-server presenting certs/NAME.crt.
PrivateRedis tls_server(const std::string& certs, const std::string& name, const std::string& auth_clients = "no") {
    return PrivateRedis({"--tls-cert-file", certs + "/" + name + ".crt", "--tls-key-file", certs + "/" + name + ".key",
                         "--tls-ca-cert-file", certs + "/ca.crt", "--tls-auth-clients", auth_clients},
                        PrivateRedis::Mode::tls_only);
}

RedisEndpoint tls_endpoint(const std::string& host, int port, const std::string& ca) {
    RedisEndpoint ep = parse_redis_url(fmt::format("rediss://{}:{}/0", host, port));
    ep.tls.ca_certs = ca;
    ep.connect_timeout = std::chrono::milliseconds(3000);
    ep.command_timeout = std::chrono::milliseconds(3000);
    return ep;
}

}  // namespace

TEST_CASE("rediss:// settings: URL query, OPTIONS and CONNECTION_POOL_KWARGS as redis-py takes them", "[redis][tls]") {
    RedisEndpoint plain = parse_redis_url("redis://h:1/0");
    CHECK_FALSE(plain.tls.enabled);

    RedisEndpoint d = parse_redis_url("rediss://:pw@cache.example:6380/2");
    CHECK(d.tls.enabled);
    CHECK(d.tls.verify);  // verified by default, name included (redis-py >= 6)
    CHECK(d.tls.check_hostname);
    CHECK(d.tls.min_version == 0);
    CHECK(d.description() == "rediss://:********@cache.example:6380/2");

    RedisEndpoint q = parse_redis_url(
        "rediss://h:6380/"
        "0?ssl_cert_reqs=none&ssl_check_hostname=False&ssl_ca_certs=%2Fetc%2Fca.pem&ssl_min_version=772");
    CHECK_FALSE(q.tls.verify);
    CHECK_FALSE(q.tls.check_hostname);
    CHECK(q.tls.ca_certs == "/etc/ca.pem");
    CHECK(q.tls.min_version == 0x0304);

    json rc = {{"BACKEND", kRedisCache},
               {"LOCATION", "rediss://h:6380/1"},
               {"OPTIONS",
                {{"ssl_cert_reqs", "optional"},
                 {"ssl_ca_certs", "/ca.pem"},
                 {"ssl_certfile", "/c.pem"},
                 {"ssl_keyfile", "/k.pem"},
                 {"ssl_check_hostname", false},
                 {"ssl_min_version", "TLSv1_3"}}}};
    RedisEndpoint r = redis_endpoint_from_cache_config(rc);
    CHECK(r.tls.verify);  // "optional" verifies, as Python's ssl does for a client
    CHECK(r.tls.ca_certs == "/ca.pem");
    CHECK(r.tls.certfile == "/c.pem");
    CHECK(r.tls.keyfile == "/k.pem");
    CHECK_FALSE(r.tls.check_hostname);
    CHECK(r.tls.min_version == 0x0304);

    // django-redis hands CONNECTION_POOL_KWARGS to the pool; the URL's query wins.
    json pooled = {
        {"BACKEND", kDjangoRedis},
        {"LOCATION", "rediss://h:6380/1"},
        {"OPTIONS", {{"SOCKET_TIMEOUT", 9}, {"CONNECTION_POOL_KWARGS", {{"socket_connect_timeout", 0.25}}}}}};
    CHECK(redis_endpoint_from_cache_config(pooled).connect_timeout.count() == 250);
    CHECK(redis_endpoint_from_cache_config(pooled).command_timeout.count() == 9000);

    json dj = {{"BACKEND", kDjangoRedis},
               {"LOCATION", "rediss://h:6380/1?ssl_cert_reqs=required"},
               {"OPTIONS", {{"CONNECTION_POOL_KWARGS", {{"ssl_cert_reqs", nullptr}, {"ssl_ca_certs", "/x.pem"}}}}}};
    RedisEndpoint e = redis_endpoint_from_cache_config(dj);
    CHECK(e.tls.verify);
    CHECK(e.tls.ca_certs == "/x.pem");
    dj["LOCATION"] = "rediss://h:6380/1";
    CHECK_FALSE(redis_endpoint_from_cache_config(dj).tls.verify);  // None: CERT_NONE
    dj["OPTIONS"]["CONNECTION_POOL_KWARGS"]["ssl_cert_reqs"] = 0;  // json.dumps(ssl.CERT_NONE)
    CHECK_FALSE(redis_endpoint_from_cache_config(dj).tls.verify);

    json bad = rc;
    bad["OPTIONS"] = {{"ssl_cert_reqs", "sometimes"}};
    CHECK_THROWS_AS(redis_endpoint_from_cache_config(bad), ConfigError);
    bad["OPTIONS"] = {{"ssl_min_version", "SSLv2"}};
    CHECK_THROWS_AS(redis_endpoint_from_cache_config(bad), ConfigError);
    bad["OPTIONS"] = {{"ssl_validate_ocsp", true}};
    CHECK_THROWS_AS(redis_endpoint_from_cache_config(bad), ConfigError);
}

TEST_CASE("rediss:// verification failures say which, and nothing hangs", "[redis][tls][faults]") {
    auto certs_env = shared_server("SESSIONCTL_TEST_REDIS_TLS_CERTS", "TLS Redis");
    if (!certs_env) return;
    if (!have_redis_server()) {
        SESSIONCTL_SKIP_OR_FAIL("redis-server is not installed");
        return;
    }
    const std::string certs = *certs_env;
    const std::string ca = certs + "/ca.crt";

    SECTION("the right CA: connects, by name and by address") {
        PrivateRedis server = tls_server(certs, "server");
        CHECK(open_failure(tls_endpoint("localhost", server.port(), ca)).empty());
        CHECK(open_failure(tls_endpoint("127.0.0.1", server.port(), ca)).empty());
    }
    SECTION("a CA that did not sign the certificate: certificate not trusted") {
        PrivateRedis server = tls_server(certs, "server");
        contains(open_failure(tls_endpoint("localhost", server.port(), certs + "/other-ca.crt")),
                 "certificate not trusted");
        // ssl_cert_reqs none connects anyway, as redis-py does.
        RedisEndpoint none = tls_endpoint("localhost", server.port(), certs + "/other-ca.crt");
        none.tls.verify = false;
        CHECK(open_failure(none).empty());
    }
    SECTION("an expired certificate: certificate expired, with the date") {
        PrivateRedis server = tls_server(certs, "expired");
        const std::string why =
            contains(open_failure(tls_endpoint("localhost", server.port(), ca)), "certificate expired");
        contains(why, "2020");
    }
    SECTION("a certificate for another name: hostname mismatch; ssl_check_hostname false skips only that") {
        PrivateRedis server = tls_server(certs, "wronghost");
        contains(open_failure(tls_endpoint("localhost", server.port(), ca)), "hostname mismatch");
        contains(open_failure(tls_endpoint("127.0.0.1", server.port(), ca)), "hostname mismatch");
        RedisEndpoint unchecked = tls_endpoint("localhost", server.port(), ca);
        unchecked.tls.check_hostname = false;
        CHECK(open_failure(unchecked).empty());
    }
    SECTION("a server that wants a client certificate: refused without, served with one") {
        PrivateRedis server = tls_server(certs, "server", "yes");
        CHECK_FALSE(open_failure(tls_endpoint("localhost", server.port(), ca)).empty());
        RedisEndpoint with_cert = tls_endpoint("localhost", server.port(), ca);
        with_cert.tls.certfile = certs + "/client.crt";
        with_cert.tls.keyfile = certs + "/client.key";
        CHECK(open_failure(with_cert).empty());
        with_cert.tls.keyfile = certs + "/missing.key";
        CHECK_THROWS_AS(open_redis_client(with_cert), ConfigError);
    }
    SECTION("plain and TLS mixed up, or a server that never answers: an error within the timeouts") {
        PrivateRedis tls = tls_server(certs, "server");
        PrivateRedis plain;
        const auto start = std::chrono::steady_clock::now();
        RedisEndpoint to_plain = tls_endpoint("localhost", plain.port(), ca);
        contains(open_failure(to_plain), "TLS handshake");
        RedisEndpoint to_tls = parse_redis_url(fmt::format("redis://127.0.0.1:{}/0", tls.port()));
        to_tls.command_timeout = std::chrono::milliseconds(1000);
        CHECK_FALSE(open_failure(to_tls).empty());

        const int silent = socket(AF_INET, SOCK_STREAM, 0);  // accepts (backlog), never speaks
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(listen(silent, 4) == 0);
        socklen_t len = sizeof addr;
        getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len);
        RedisEndpoint mute = tls_endpoint("localhost", ntohs(addr.sin_port), ca);
        mute.connect_timeout = std::chrono::milliseconds(500);
        contains(open_failure(mute), "timed out");
        close(silent);
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(8));
    }
}
