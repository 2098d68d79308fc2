#pragma once

// Where and how to reach one Redis server, read from a CACHES entry as Django's
// RedisCache and django-redis read theirs (both hand LOCATION and their options
// to redis-py's ConnectionPool.from_url): LOCATION redis://[user:pass@]host
// [:port][/db], rediss://... (TLS) or unix://[user:pass@]/path[?db=N]; OPTIONS
// with password / db / timeouts / ssl_*; django-redis's Sentinel settings.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace sessionctl {

// redis-py's SSLConnection options (rediss://), with its defaults: the
// certificate is verified against the system's CAs plus ssl_ca_certs /
// ssl_ca_path / ssl_ca_data, and its name against the host (redis-py >= 6;
// set ssl_check_hostname False to skip only that). "optional" verifies as
// "required" does: for a client, Python's ssl module treats them alike.
struct RedisTls {
    bool enabled = false;                     // rediss://
    bool verify = true;                       // ssl_cert_reqs required/optional; false for none/null
    bool check_hostname = true;               // ssl_check_hostname (always false without verify)
    std::string ca_certs;                     // ssl_ca_certs: PEM file
    std::string ca_path;                      // ssl_ca_path: c_rehash'ed folder
    std::string ca_data;                      // ssl_ca_data: PEM text
    std::string certfile;                     // ssl_certfile: client certificate (chain)
    std::string keyfile;                      // ssl_keyfile: its key (default: in certfile)
    std::optional<std::string> key_password;  // ssl_password
    std::string ciphers;                      // ssl_ciphers (TLS <= 1.2 cipher list)
    int min_version = 0;  // ssl_min_version as ssl.TLSVersion (0x0303 = TLS 1.2); 0 = Python's default, TLS 1.2
};

struct RedisEndpoint {
    std::string host = "127.0.0.1";  // empty when unix_path is set
    int port = 6379;
    std::string unix_path;
    int db = 0;
    std::string username;  // Redis 6 ACL user; empty = AUTH with password only
    std::optional<std::string> password;
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds command_timeout{5000};
    RedisTls tls;
    // Sentinel: said in messages ("primary of 'mymaster' by sentinel
    // 10.0.0.1:26379"), and the server must answer ROLE with master.
    std::string via;

    // "redis://user:********@host:port/db", "rediss://host:port/db",
    // "unix:///path?db=N"
    [[nodiscard]] std::string description() const;
};

// django-redis's SentinelClient: LOCATION redis://SERVICE/DB names the
// monitored primary; OPTIONS.SENTINELS lists (host, port) of the sentinels,
// OPTIONS.SENTINEL_KWARGS how to talk to them (password, username, ssl_*).
struct RedisSentinelSettings {
    std::string service;
    std::vector<std::pair<std::string, int>> sentinels;
    RedisEndpoint sentinel_template;  // host/port filled per sentinel
};

// One CACHES entry resolved: the server (for Sentinel, everything but its
// host and port, which the sentinels give) and the sentinels if any.
struct RedisTarget {
    RedisEndpoint endpoint;
    std::optional<RedisSentinelSettings> sentinel;
};

// Parses one LOCATION URL (percent-decoding user and password as redis-py
// does) over `base` (TLS settings from OPTIONS: the URL's query wins, as in
// redis-py's from_url). Throws ConfigError naming what is wrong, never echoing
// a password.
[[nodiscard]] RedisEndpoint parse_redis_url(const std::string& url, const RedisEndpoint& base = {});

// Applies redis-py's ssl_* keyword arguments from `options` (an OPTIONS or
// CONNECTION_POOL_KWARGS object; other keys ignored) to `tls`. `where` names
// the object in errors ("CACHES OPTIONS").
void apply_tls_options(RedisTls& tls, const nlohmann::json& options, const char* where);

// One CACHES entry -> endpoint: the first LOCATION (list, or ';'/',' separated
// string), then OPTIONS: RedisCache's password/username/db/socket_timeout/
// socket_connect_timeout/ssl_*, django-redis's PASSWORD/SOCKET_TIMEOUT/
// SOCKET_CONNECT_TIMEOUT/DB and CONNECTION_POOL_KWARGS' ssl_*.
[[nodiscard]] RedisEndpoint redis_endpoint_from_cache_config(const nlohmann::json& cache_config);

// As above, plus django-redis's Sentinel settings (CLIENT_CLASS
// django_redis.client.SentinelClient or CONNECTION_FACTORY
// django_redis.pool.SentinelConnectionFactory).
[[nodiscard]] RedisTarget redis_target_from_cache_config(const nlohmann::json& cache_config);

}  // namespace sessionctl
