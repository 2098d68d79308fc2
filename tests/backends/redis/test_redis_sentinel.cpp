// django-redis's Sentinel settings (no server), then on a private primary,
// replica and two sentinels: the primary is found with the first sentinel
// down, writes stop (StoreUnavailable, exit 3) at the first batch after a
// failover instead of going to the demoted server, and a new client follows it.

#include <catch2/catch.hpp>

#include <string>
#include <thread>

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

constexpr const char* kService = "sctl-svc";

json sentinel_cache(const std::vector<int>& sentinel_ports, const json& extra_options = json::object()) {
    json sentinels = json::array();
    for (int port : sentinel_ports) sentinels.push_back(json::array({"127.0.0.1", port}));
    json options = {{"CLIENT_CLASS", "django_redis.client.SentinelClient"},
                    {"CONNECTION_FACTORY", "django_redis.pool.SentinelConnectionFactory"},
                    {"SENTINELS", sentinels},
                    {"SOCKET_CONNECT_TIMEOUT", 0.5}};
    options.update(extra_options);
    return {{"BACKEND", "django_redis.cache.RedisCache"},
            {"LOCATION", fmt::format("redis://{}/3", kService)},
            {"OPTIONS", options}};
}

}  // namespace

TEST_CASE("Sentinel settings as django-redis reads them", "[redis][sentinel]") {
    json cache = sentinel_cache(
        {26379, 26380},
        {{"PASSWORD", "primary-pw"}, {"SENTINEL_KWARGS", {{"password", "sentinel-pw"}, {"socket_timeout", 0.25}}}});
    RedisTarget t = redis_target_from_cache_config(cache);
    REQUIRE(t.sentinel);
    CHECK(t.sentinel->service == kService);
    CHECK(t.sentinel->sentinels ==
          std::vector<std::pair<std::string, int>>{{"127.0.0.1", 26379}, {"127.0.0.1", 26380}});
    CHECK(t.endpoint.db == 3);
    CHECK(t.endpoint.password == "primary-pw");
    CHECK(t.sentinel->sentinel_template.password == "sentinel-pw");
    CHECK(t.sentinel->sentinel_template.command_timeout.count() == 250);

    // Without SENTINEL_KWARGS the sentinels get only the socket settings (redis-py).
    RedisTarget plain = redis_target_from_cache_config(sentinel_cache({26379}, {{"PASSWORD", "primary-pw"}}));
    CHECK_FALSE(plain.sentinel->sentinel_template.password);
    CHECK(plain.sentinel->sentinel_template.connect_timeout.count() == 500);

    CHECK_FALSE(redis_target_from_cache_config(
                    json{{"BACKEND", "django_redis.cache.RedisCache"}, {"LOCATION", "redis://h:1/0"}})
                    .sentinel);
    json bad = sentinel_cache({});
    CHECK_THROWS_AS(redis_target_from_cache_config(bad), ConfigError);
    bad["OPTIONS"]["SENTINELS"] = json::array({"no-port"});
    CHECK_THROWS_AS(redis_target_from_cache_config(bad), ConfigError);
    json rediscache = sentinel_cache({26379});
    rediscache["BACKEND"] = "django.core.cache.backends.redis.RedisCache";
    CHECK_THROWS_AS(redis_target_from_cache_config(rediscache), ConfigError);
}

TEST_CASE("Sentinel: first sentinel down, a failover mid-job stops writes, a new client follows",
          "[redis][sentinel][faults]") {
    if (!have_redis_server() || std::system("command -v redis-sentinel >/dev/null 2>&1") != 0) {
        SESSIONCTL_SKIP_OR_FAIL("redis-server or redis-sentinel is not installed");
        return;
    }
    PrivateRedis primary;
    PrivateRedis replica({"--replicaof", "127.0.0.1", std::to_string(primary.port())});
    REQUIRE(eventually([&] {
        return redis_cli(replica.port(), "INFO replication").find("master_link_status:up") != std::string::npos;
    }));
    PrivateSentinel down(kService, primary.port());
    PrivateSentinel sentinel(kService, primary.port());
    down.stop();  // listed first: every lookup has to move on to the next
    const std::string replica_port = std::to_string(replica.port());
    REQUIRE(eventually([&] {
        const std::string replicas = redis_cli(sentinel.port(), fmt::format("SENTINEL replicas {}", kService));
        return replicas.find(replica_port) != std::string::npos && replicas.find("disconnected") == std::string::npos;
    }));

    const json cache = sentinel_cache({down.port(), sentinel.port()});
    auto client = open_redis_client(redis_target_from_cache_config(cache));
    CHECK(client->description().find(fmt::format("by sentinel 127.0.0.1:{}", sentinel.port())) != std::string::npos);
    client->set("k1", "v1", 0, 600);
    client->set("k2", "v2", 0, 600);
    CHECK(redis_cli(primary.port(), "-n 3 GET k1") == "v1\n");

    REQUIRE(eventually(
        [&] { return redis_cli(sentinel.port(), fmt::format("SENTINEL failover {}", kService)).starts_with("OK"); }));
    REQUIRE(eventually([&] {
        return redis_cli(sentinel.port(), fmt::format("SENTINEL get-master-addr-by-name {}", kService))
                   .find(replica_port) != std::string::npos;
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));  // past the client's check interval
    try {
        (void)client->remove_many_if_unchanged({{"k1", "v1"}});
        FAIL("wrote to the old primary after the failover");
    } catch (const StoreUnavailable& e) {
        CHECK(std::string(e.what()).find("failover") != std::string::npos);
    }
    REQUIRE(eventually([&] { return redis_cli(replica.port(), "ROLE").starts_with("master"); }));
    auto after = open_redis_client(redis_target_from_cache_config(cache));
    CHECK(after->description().find(replica_port) != std::string::npos);
    CHECK(after->remove_many_if_unchanged({{"k1", "v1"}, {"k2", "changed"}}) == std::vector<bool>{true, false});
    CHECK(redis_cli(replica.port(), "-n 3 EXISTS k1") == "0\n");
}

TEST_CASE("Sentinel over TLS: SENTINEL_KWARGS ssl and ssl_ca_certs", "[redis][sentinel][tls]") {
    auto certs = shared_server("SESSIONCTL_TEST_REDIS_TLS_CERTS", "TLS Redis");
    if (!certs) return;
    if (!have_redis_server() || std::system("command -v redis-sentinel >/dev/null 2>&1") != 0) {
        SESSIONCTL_SKIP_OR_FAIL("redis-server or redis-sentinel is not installed");
        return;
    }
    PrivateRedis primary;
    PrivateSentinel sentinel(kService, primary.port(),
                             fmt::format("port 0\ntls-port {{port}}\ntls-cert-file {0}/server.crt\n"
                                         "tls-key-file {0}/server.key\ntls-ca-cert-file {0}/ca.crt\n"
                                         "tls-auth-clients no",
                                         *certs));
    json cache =
        sentinel_cache({sentinel.port()}, {{"SENTINEL_KWARGS", {{"ssl", true}, {"ssl_ca_certs", *certs + "/ca.crt"}}}});
    std::unique_ptr<CacheClient> client;
    REQUIRE(eventually([&] {
        try {
            client = open_redis_client(redis_target_from_cache_config(cache));
            return true;
        } catch (const StoreUnavailable&) {
            return false;  // not listening yet
        }
    }));
    client->set("over-tls", "v", 0, 60);
    CHECK(redis_cli(primary.port(), "-n 3 GET over-tls") == "v\n");
    // Plain to a TLS-only sentinel: no answer, exit 3 naming the sentinel.
    cache["OPTIONS"]["SENTINEL_KWARGS"] = json::object();
    try {
        (void)open_redis_client(redis_target_from_cache_config(cache));
        FAIL("asked a TLS sentinel in plain text");
    } catch (const StoreUnavailable& e) {
        CHECK(std::string(e.what()).find(fmt::format("127.0.0.1:{}", sentinel.port())) != std::string::npos);
    }
}
