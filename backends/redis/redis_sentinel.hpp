#pragma once

// django-redis's SentinelClient / SentinelConnectionFactory: the primary of a
// Sentinel-monitored service, asked of the sentinels in the order given
// (SENTINEL get-master-addr-by-name), the next one tried when one is down or
// does not answer, as redis-py's Sentinel.discover_master does.

#include <string>

#include "backends/redis/redis_endpoint.hpp"

namespace sessionctl {

struct SentinelAnswer {
    RedisEndpoint primary;  // `server` with the host and port a sentinel gave
    std::string sentinel;   // "127.0.0.1:26379", the one that answered
};

// Throws StoreUnavailable when no sentinel answers (each one's reason in the
// message) and StoreError when those that answer do not know the service.
[[nodiscard]] SentinelAnswer ask_sentinels_for_primary(const RedisSentinelSettings& settings,
                                                       const RedisEndpoint& server);

}  // namespace sessionctl
