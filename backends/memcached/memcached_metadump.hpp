#pragma once

// memcached cannot list its keys; `lru_crawler metadump` (memcached >= 1.4.31)
// is the closest thing: the LRU crawler walks the items and prints one line per
// live item. It is BEST EFFORT: items written while it runs may be missed, and
// with "all" (the fallback when "hash" is unknown) items moved between LRUs may
// be missed too. libmemcached has no call for it, so this speaks the text
// protocol on a socket of its own.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "backends/memcached/memcached_rules.hpp"

namespace sessionctl {

struct MetadumpTimeouts {
    std::chrono::milliseconds connect{1000};
    std::chrono::milliseconds io{3000};
};

// Streams every item line of `lru_crawler metadump hash` (or `all` when the
// server does not know "hash") from one server; `visit` returns false to stop
// (the connection is then dropped, which ends the crawl). A crawler busy with
// another request is retried for up to `timeouts.io`. Throws StoreUnavailable
// naming the server when it cannot be reached or stops answering, StoreError
// when it refuses (crawler disabled, command unknown).
void memcached_metadump(const MemcachedServerSpec& server, const MetadumpTimeouts& timeouts,
                        const std::function<bool(const MetadumpItem&)>& visit);

// The remaining lifetime of `key` on `server`, by the meta command
// `mg <key> t` (memcached >= 1.6; libmemcached has no call for it): seconds,
// or -1 when the key never expires. nullopt when the key is absent or the
// server does not know meta commands. Throws StoreUnavailable like
// memcached_metadump.
[[nodiscard]] std::optional<std::int64_t> memcached_remaining_ttl(const MemcachedServerSpec& server,
                                                                  const MetadumpTimeouts& timeouts,
                                                                  std::string_view key);

}  // namespace sessionctl
