#pragma once

// What Django's memcached cache backends and pymemcache decide before a byte
// reaches the server: which keys are allowed, how a timeout becomes an
// exptime, how LOCATION names servers and which server holds a key. Pure
// functions (no I/O), so each rule is tested against real Django/pymemcache.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace sessionctl {

// memcache_key_warnings (Django, CVE-2020-13254) plus what pymemcache and the
// server refuse: more than 250 characters, any character in \x00-\x20 or \x7f,
// more than 250 bytes once UTF-8 encoded, or text that is not UTF-8. Returns
// why the key must not be sent; nullopt for a good key.
[[nodiscard]] std::optional<std::string> memcached_key_problem(std::string_view key);

// Throws InvalidSessionKey (Django's InvalidCacheKey) for a key with a problem.
void validate_memcached_key(std::string_view key);

// BaseMemcachedCache.get_backend_timeout: Django timeout in seconds (nullopt =
// None) -> the exptime memcached receives. None -> 0 (never), 0 -> -1 (gone at
// once), more than 30 days -> the absolute Unix time now + timeout, else as is
// (negative values too: memcached treats them as already expired).
[[nodiscard]] std::int64_t memcached_exptime(std::optional<std::int64_t> timeout, std::int64_t now_seconds);

// The exptime we put on the wire for `exptime`. libmemcached prints exptime as
// an unsigned number, so -1 would arrive as 18446744073709551615 and be
// refused; memcached itself turns a negative exptime into the absolute time
// 30 days + 1 second after the epoch (long past), and so do we.
[[nodiscard]] std::int64_t memcached_wire_exptime(std::int64_t exptime);
inline constexpr std::int64_t kMemcachedExpiredExptime = 2592001;

// pymemcache.client.murmur3.murmur3_32(text, seed) for a Python str given as
// UTF-8: pure Python, it hashes each code point's low byte (ord(c) & 0xff) and
// uses the length in code points. Equal to MurmurHash3_x86_32 for ASCII.
[[nodiscard]] std::uint32_t pymemcache_murmur3_32(std::string_view utf8, std::uint32_t seed = 0);

// RendezvousHash.get_node (pymemcache's HashClient, Django's PyMemcacheCache):
// the node with the highest murmur3_32("<node>-<key>"); on a tie the larger
// name. Returns the index in `nodes` (which must not be empty).
[[nodiscard]] std::size_t pymemcache_rendezvous_pick(const std::vector<std::string>& nodes, std::string_view key);

// One server of LOCATION, as pymemcache's normalize_server_spec reads it.
struct MemcachedServerSpec {
    // HashClient's node name, which the rendezvous hash mixes into every key:
    // "host:port" (brackets of an IPv6 literal removed, port as a decimal
    // number) or the socket path.
    std::string node;
    std::string host;  // empty for a unix socket
    int port = 0;
    std::string socket_path;  // non-empty for a unix socket
    [[nodiscard]] bool is_socket() const { return !socket_path.empty(); }
    // How messages name it: "127.0.0.1:11211", "[::1]:11211", "unix:/run/mc.sock".
    [[nodiscard]] std::string display() const;
};

// CACHES[alias]["LOCATION"]: "host:port", "host" (port 11211), "[v6]:port",
// "unix:/path", "/path", several joined by ';' or ',' (Django splits them), or a
// JSON list of such strings or of [host, port] pairs. Duplicates collapse as in
// HashClient. Throws ConfigError (core/config.hpp) naming the bad entry.
[[nodiscard]] std::vector<MemcachedServerSpec> parse_memcached_location(const nlohmann::json& location);

// ---- PyLibMCCache: where pylibmc (libmemcached) places keys

// One server as pylibmc receives it: Django's PyLibMCCache.client_servers
// (LOCATION split on ';'/',', "unix:" removed) read by pylibmc's
// translate_server_spec: "host", "host:port", "host:port:weight",
// "[v6]:port[:weight]", "/socket". The host is kept as written: libmemcached's
// consistent hashing mixes the name (not the address) into its continuum.
struct PylibmcServer {
    std::string host;  // or the socket path
    int port = 11211;  // 0 for a socket
    int weight = 1;
    bool unix_socket = false;
};
// Throws ConfigError naming the bad entry (UDP servers are refused: Django
// cannot use them for sessions reliably and sessionctl does not speak UDP).
[[nodiscard]] std::vector<PylibmcServer> pylibmc_servers(const nlohmann::json& location);

// One of OPTIONS["behaviors"] that decides placement, as pylibmc passes it to
// memcached_behavior_set: `flag` is the memcached_behavior_t, `value` numeric
// (pylibmc's names "md5", "consistent ketama"... translated).
struct PylibmcBehavior {
    int flag = 0;
    std::uint64_t value = 0;
    std::string name;
};
// The placement behaviors of OPTIONS["behaviors"] in the order pylibmc sets
// them (its PylibMC_behaviors table, not the dict's order): hash, ketama_hash,
// ketama, ketama_weighted, distribution, _hash_with_prefix_key, _sort_hosts.
// The others only tune I/O and are left out. Refused (ConfigError), as pylibmc
// or sessionctl cannot honour them: unknown names (pylibmc's ValueError),
// non-integer values, the "namespace" callback (it changes every key),
// num_replicas > 0 (copies on other servers) and the random distribution.
[[nodiscard]] std::vector<PylibmcBehavior> pylibmc_placement_behaviors(const nlohmann::json& behaviors);

// One line of `lru_crawler metadump`: "key=<URI-encoded> exp=<unix time|-1> la=...".
struct MetadumpItem {
    std::string key;        // decoded
    std::int64_t exp = -1;  // absolute Unix time; -1 = never expires
};
// nullopt for a line that is not an item line (or cannot be decoded).
[[nodiscard]] std::optional<MetadumpItem> parse_metadump_line(std::string_view line);

}  // namespace sessionctl
