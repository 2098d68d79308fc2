#pragma once

// CacheClient over one Redis server (hiredis), configured as Django's
// RedisCache or django-redis configure theirs: LOCATION redis://[user:pass@]
// host[:port][/db] or unix://[user:pass@]/path[?db=N], OPTIONS with password /
// db / timeouts. Several LOCATIONs: RedisCache writes to the first and reads
// from replicas; an administrator's tool uses the first (the primary) only.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "backends/cache/cache_client.hpp"

namespace sessionctl {

struct RedisEndpoint {
    std::string host = "127.0.0.1";  // empty when unix_path is set
    int port = 6379;
    std::string unix_path;
    int db = 0;
    std::string username;  // Redis 6 ACL user; empty = AUTH with password only
    std::optional<std::string> password;
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds command_timeout{5000};

    // "redis://user:********@host:port/db", "unix:///path?db=N"
    [[nodiscard]] std::string description() const;
};

// Parses one LOCATION URL (percent-decoding user and password as redis-py
// does). Throws ConfigError naming what is wrong, never echoing a password.
[[nodiscard]] RedisEndpoint parse_redis_url(const std::string& url);

// One CACHES entry -> endpoint: the first LOCATION (list, or ';'/',' separated
// string), then OPTIONS: RedisCache's password/username/db/socket_timeout/
// socket_connect_timeout, django-redis's PASSWORD/SOCKET_TIMEOUT/
// SOCKET_CONNECT_TIMEOUT/DB.
[[nodiscard]] RedisEndpoint redis_endpoint_from_cache_config(const nlohmann::json& cache_config);

// Connects (AUTH, SELECT) at once, so a wrong password or an absent server is
// reported before any work: StoreUnavailable (unreachable) / StoreError
// (refused: wrong password, no such db).
[[nodiscard]] std::unique_ptr<CacheClient> open_redis_client(const RedisEndpoint& endpoint);

}  // namespace sessionctl
