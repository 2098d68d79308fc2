#pragma once

// CacheClient over one Redis server (RESP through hiredis's reader and
// formatter, plain or TLS: redis_connection.hpp), configured as Django's
// RedisCache or django-redis configure theirs (redis_endpoint.hpp). Several
// LOCATIONs: RedisCache writes to the first and reads from replicas; an
// administrator's tool uses the first (the primary) only.

#include <memory>

#include "backends/cache/cache_client.hpp"
#include "backends/redis/redis_endpoint.hpp"

namespace sessionctl {

// Connects (AUTH, SELECT) at once, so a wrong password or an absent server is
// reported before any work: StoreUnavailable (unreachable) / StoreError
// (refused: wrong password, no such db).
[[nodiscard]] std::unique_ptr<CacheClient> open_redis_client(const RedisEndpoint& endpoint);

// As above; with Sentinel, the sentinels are asked for the primary first, and
// a server that is not (or no longer) the primary is not written to: asked
// again a few times while a failover settles, then StoreUnavailable.
[[nodiscard]] std::unique_ptr<CacheClient> open_redis_client(const RedisTarget& target);

}  // namespace sessionctl
