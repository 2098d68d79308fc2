#include "backends/memcached/memcached_rules.hpp"

#include <libmemcached/memcached.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/errors.hpp"
#include "util/text.hpp"
#include "util/utf8.hpp"

namespace sessionctl {
namespace {

constexpr std::size_t kMaxKeyLength = 250;  // Django's MEMCACHE_MAX_KEY_LENGTH
constexpr std::int64_t kThirtyDays = 60 * 60 * 24 * 30;

// Decodes UTF-8 into code points; nullopt for malformed text. Strict: a lone
// surrogate is malformed too, as Python's str.encode("utf-8") refuses one.
std::optional<std::vector<std::uint32_t>> code_points(std::string_view text) {
    std::vector<std::uint32_t> out;
    out.reserve(text.size());
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* const end = p + text.size();
    while (p < end) {
        std::uint32_t cp = *p;
        const std::size_t n = cp < 0x80 ? 1 : utf8_sequence_strict(p, end, cp);
        if (n == 0) return std::nullopt;
        out.push_back(cp);
        p += n;
    }
    return out;
}

std::uint32_t rotl32(std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// Keys are shown in messages as Python would show them, shortened: they are
// not secret (the caller typed or listed them) but may be long.
std::string shown_key(std::string_view key) {
    std::string out;
    for (char c : key.substr(0, 80)) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) out += fmt::format("\\x{:02x}", u);
        else out += c;
    }
    if (key.size() > 80) out += "...";
    return out;
}

MemcachedServerSpec parse_one_server(const nlohmann::json& entry) {
    MemcachedServerSpec spec;
    if (entry.is_array()) {
        // pymemcache: a [host, port] list is taken as the (host, port) tuple.
        if (entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number_integer())
            throw ConfigError(
                fmt::format("CACHES LOCATION entry {} must be \"host:port\" or [host, port]", entry.dump()));
        spec.host = entry[0].get<std::string>();
        spec.port = entry[1].get<int>();
    } else if (entry.is_string()) {
        std::string s = entry.get<std::string>();
        if (s.empty())
            throw ConfigError("CACHES LOCATION is empty: name the memcached server, e.g. \"127.0.0.1:11211\"");
        if (std::any_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }))
            throw ConfigError(
                fmt::format("CACHES LOCATION entry '{}' contains whitespace, which Django passes on "
                            "as part of the server name; remove it",
                            s));
        if (s.rfind("unix:", 0) == 0 || s.rfind('/', 0) == 0) {
            spec.socket_path = s.rfind("unix:", 0) == 0 ? s.substr(5) : s;
            if (spec.socket_path.empty()) throw ConfigError("CACHES LOCATION 'unix:' names no socket path");
            spec.node = spec.socket_path;
            return spec;
        }
        std::string host = s;
        std::string port = "11211";
        if (s.find(':') != std::string::npos && s.back() != ']') {
            auto colon = s.rfind(':');
            host = s.substr(0, colon);
            port = s.substr(colon + 1);
        }
        int value = -1;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc() || end != port.data() + port.size())
            throw ConfigError(fmt::format("CACHES LOCATION entry '{}': port '{}' is not a number", s, port));
        if (!host.empty() && host.front() == '[') {
            // Python's host.strip('[]')
            auto first = host.find_first_not_of("[]");
            auto last = host.find_last_not_of("[]");
            host = first == std::string::npos ? std::string() : host.substr(first, last - first + 1);
        }
        spec.host = host;
        spec.port = value;
    } else {
        throw ConfigError(fmt::format("CACHES LOCATION entry {} must be a string", entry.dump()));
    }
    if (spec.host.empty()) throw ConfigError("CACHES LOCATION names no host");
    if (spec.port <= 0 || spec.port > 65535)
        throw ConfigError(fmt::format("CACHES LOCATION port {} is out of range", spec.port));
    spec.node = fmt::format("{}:{}", spec.host, spec.port);
    return spec;
}

}  // namespace

std::optional<std::string> memcached_key_problem(std::string_view key) {
    auto cps = code_points(key);
    if (!cps) return fmt::format("cache key '{}' is not valid UTF-8", shown_key(key));
    if (cps->size() > kMaxKeyLength || key.size() > kMaxKeyLength)
        return fmt::format("cache key '{}' is longer than {} {} and memcached refuses it", shown_key(key),
                           kMaxKeyLength, cps->size() > kMaxKeyLength ? "characters" : "bytes");
    for (std::uint32_t cp : *cps)
        if (cp < 33 || cp == 127)
            return fmt::format("cache key '{}' contains characters that memcached refuses (controls or spaces)",
                               shown_key(key));
    return std::nullopt;
}

void validate_memcached_key(std::string_view key) {
    if (auto problem = memcached_key_problem(key)) throw InvalidSessionKey(*problem);
}

std::int64_t memcached_exptime(std::optional<std::int64_t> timeout, std::int64_t now_seconds) {
    if (!timeout) return 0;
    std::int64_t t = *timeout == 0 ? -1 : *timeout;
    if (t > kThirtyDays) t += now_seconds;
    return t;
}

std::int64_t memcached_wire_exptime(std::int64_t exptime) { return exptime < 0 ? kMemcachedExpiredExptime : exptime; }

std::uint32_t pymemcache_murmur3_32(std::string_view utf8, std::uint32_t seed) {
    auto cps = code_points(utf8);
    std::vector<std::uint8_t> data;
    if (cps) {
        data.reserve(cps->size());
        for (std::uint32_t cp : *cps) data.push_back(static_cast<std::uint8_t>(cp & 0xffu));
    } else {
        data.assign(utf8.begin(), utf8.end());  // callers validate first; hash the bytes anyway
    }
    constexpr std::uint32_t c1 = 0xcc9e2d51u;
    constexpr std::uint32_t c2 = 0x1b873593u;
    const std::size_t length = data.size();
    std::uint32_t h1 = seed;
    const std::size_t rounded_end = length & ~std::size_t{3};
    for (std::size_t i = 0; i < rounded_end; i += 4) {
        std::uint32_t k1 = data[i] | (std::uint32_t{data[i + 1]} << 8) | (std::uint32_t{data[i + 2]} << 16) |
                           (std::uint32_t{data[i + 3]} << 24);
        k1 *= c1;
        k1 = rotl32(k1, 15);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl32(h1, 13);
        h1 = h1 * 5 + 0xe6546b64u;
    }
    std::uint32_t k1 = 0;
    switch (length & 3) {
        case 3: k1 = std::uint32_t{data[rounded_end + 2]} << 16; [[fallthrough]];
        case 2: k1 |= std::uint32_t{data[rounded_end + 1]} << 8; [[fallthrough]];
        case 1:
            k1 |= data[rounded_end];
            k1 *= c1;
            k1 = rotl32(k1, 15);
            k1 *= c2;
            h1 ^= k1;
            break;
        default: break;
    }
    h1 ^= static_cast<std::uint32_t>(length);
    h1 ^= h1 >> 16;
    h1 *= 0x85ebca6bu;
    h1 ^= h1 >> 13;
    h1 *= 0xc2b2ae35u;
    h1 ^= h1 >> 16;
    return h1;
}

std::size_t pymemcache_rendezvous_pick(const std::vector<std::string>& nodes, std::string_view key) {
    std::size_t winner = 0;
    std::int64_t high_score = -1;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        std::string joined = nodes[i];
        joined += '-';
        joined += key;
        std::int64_t score = pymemcache_murmur3_32(joined);
        if (score > high_score) {
            high_score = score;
            winner = i;
        } else if (score == high_score && nodes[i] > nodes[winner]) {
            // max(str(node), str(winner)); Python compares code points, and
            // UTF-8 byte order is code point order.
            winner = i;
        }
    }
    return winner;
}

std::string MemcachedServerSpec::display() const {
    if (is_socket()) return "unix:" + socket_path;
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

std::vector<MemcachedServerSpec> parse_memcached_location(const nlohmann::json& location) {
    std::vector<nlohmann::json> entries;
    if (location.is_null()) {
        throw ConfigError("CACHES LOCATION is missing: name the memcached server, e.g. \"127.0.0.1:11211\"");
    } else if (location.is_string()) {
        // Django: re.split('[;,]', LOCATION)
        std::string s = location.get<std::string>();
        std::size_t start = 0;
        for (;;) {
            auto sep = s.find_first_of(";,", start);
            entries.emplace_back(s.substr(start, sep == std::string::npos ? std::string::npos : sep - start));
            if (sep == std::string::npos) break;
            start = sep + 1;
        }
    } else if (location.is_array()) {
        if (location.empty()) throw ConfigError("CACHES LOCATION is an empty list");
        for (const auto& e : location) entries.push_back(e);
    } else {
        throw ConfigError("CACHES LOCATION must be a string or a list of strings");
    }
    std::vector<MemcachedServerSpec> servers;
    for (const auto& e : entries) {
        MemcachedServerSpec spec = parse_one_server(e);
        bool seen = std::any_of(servers.begin(), servers.end(), [&](const auto& s) { return s.node == spec.node; });
        if (!seen) servers.push_back(std::move(spec));
    }
    return servers;
}

namespace {

// int(text) for pylibmc's port and weight fields.
int pylibmc_number(const std::string& text, const std::string& entry, const char* what) {
    int value = -1;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        throw ConfigError(fmt::format("CACHES LOCATION entry '{}': {} '{}' is not a number", entry, what, text));
    return value;
}

PylibmcServer pylibmc_server(std::string spec) {
    const std::string entry = spec;
    PylibmcServer server;
    if (spec.rfind("unix:", 0) == 0) spec = spec.substr(5);  // Django's client_servers
    if (spec.empty()) throw ConfigError("CACHES LOCATION names no memcached server");
    if (std::any_of(spec.begin(), spec.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }))
        throw ConfigError(fmt::format("CACHES LOCATION entry '{}' contains whitespace; remove it", entry));
    if (spec.front() == '/') {
        server.host = spec;
        server.port = 0;
        server.unix_socket = true;
        return server;
    }
    if (spec.rfind("udp:", 0) == 0)
        throw ConfigError(fmt::format("CACHES LOCATION entry '{}': memcached over UDP is not supported", entry));
    std::string port;
    // pylibmc's _unpack_addr: "[v6]" or "[v6]:port[:weight]", else split at the first ':'.
    if (spec.front() == '[') {
        const auto close = spec.find(']');
        if (close == std::string::npos)
            throw ConfigError(fmt::format("CACHES LOCATION entry '{}': unclosed '['", entry));
        server.host = spec.substr(1, close - 1);
        if (close + 1 < spec.size()) {
            if (spec.compare(close + 1, 1, ":") != 0)
                throw ConfigError(fmt::format("CACHES LOCATION entry '{}' is not [address]:port", entry));
            port = spec.substr(close + 2);
        }
    } else if (const auto colon = spec.find(':'); colon != std::string::npos) {
        server.host = spec.substr(0, colon);
        port = spec.substr(colon + 1);
    } else {
        server.host = spec;
    }
    if (const auto colon = port.find(':'); colon != std::string::npos) {
        server.weight = pylibmc_number(port.substr(colon + 1), entry, "weight");
        port = port.substr(0, colon);
    }
    if (!port.empty() || spec.back() == ':') server.port = pylibmc_number(port, entry, "port");
    if (server.host.empty()) throw ConfigError(fmt::format("CACHES LOCATION entry '{}' names no host", entry));
    if (server.port <= 0 || server.port > 65535)
        throw ConfigError(fmt::format("CACHES LOCATION entry '{}': port {} is out of range", entry, server.port));
    if (server.weight < 0 || server.weight > 65535)
        throw ConfigError(fmt::format("CACHES LOCATION entry '{}': weight {} is out of range", entry, server.weight));
    return server;
}

// pylibmc's hashers and distributions (PylibMC_hashers, PylibMC_distributions;
// the Python names have ' ' for '_').
constexpr std::pair<std::string_view, memcached_hash_t> kPylibmcHashers[] = {
    {"default", MEMCACHED_HASH_DEFAULT},   {"md5", MEMCACHED_HASH_MD5},           {"crc", MEMCACHED_HASH_CRC},
    {"fnv1_64", MEMCACHED_HASH_FNV1_64},   {"fnv1a_64", MEMCACHED_HASH_FNV1A_64}, {"fnv1_32", MEMCACHED_HASH_FNV1_32},
    {"fnv1a_32", MEMCACHED_HASH_FNV1A_32}, {"murmur", MEMCACHED_HASH_MURMUR},     {"hsieh", MEMCACHED_HASH_HSIEH},
    {"jenkins", MEMCACHED_HASH_JENKINS},
};
constexpr std::pair<std::string_view, memcached_server_distribution_t> kPylibmcDistributions[] = {
    {"modula", MEMCACHED_DISTRIBUTION_MODULA},
    {"consistent", MEMCACHED_DISTRIBUTION_CONSISTENT},
    {"random", MEMCACHED_DISTRIBUTION_RANDOM},
    {"consistent ketama", MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA},
    {"consistent ketama spy", MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA_SPY},
    {"consistent weighted", MEMCACHED_DISTRIBUTION_CONSISTENT_WEIGHTED},
    {"virtual bucket", MEMCACHED_DISTRIBUTION_VIRTUAL_BUCKET},
    {"consistent max", MEMCACHED_DISTRIBUTION_CONSISTENT_MAX},
};

// pylibmc's PylibMC_behaviors, in its order; `placement` marks those that
// decide which server holds a key.
struct PylibmcBehaviorName {
    std::string_view name;
    int flag;
    bool placement;
};
constexpr PylibmcBehaviorName kPylibmcBehaviors[] = {
    {"no_block", MEMCACHED_BEHAVIOR_NO_BLOCK, false},
    {"tcp_nodelay", MEMCACHED_BEHAVIOR_TCP_NODELAY, false},
    {"tcp_keepalive", MEMCACHED_BEHAVIOR_TCP_KEEPALIVE, false},
    {"hash", MEMCACHED_BEHAVIOR_HASH, true},
    {"ketama_hash", MEMCACHED_BEHAVIOR_KETAMA_HASH, true},
    {"ketama", MEMCACHED_BEHAVIOR_KETAMA, true},
    {"ketama_weighted", MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, true},
    {"distribution", MEMCACHED_BEHAVIOR_DISTRIBUTION, true},
    {"cas", MEMCACHED_BEHAVIOR_SUPPORT_CAS, false},
    {"buffer_requests", MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, false},
    {"verify_keys", MEMCACHED_BEHAVIOR_VERIFY_KEY, false},
    {"connect_timeout", MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, false},
    {"send_timeout", MEMCACHED_BEHAVIOR_SND_TIMEOUT, false},
    {"receive_timeout", MEMCACHED_BEHAVIOR_RCV_TIMEOUT, false},
    {"num_replicas", MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS, false},
    {"auto_eject", MEMCACHED_BEHAVIOR_AUTO_EJECT_HOSTS, false},
    {"retry_timeout", MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, false},
    {"remove_failed", MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, false},
    {"failure_limit", MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, false},
    {"_io_msg_watermark", MEMCACHED_BEHAVIOR_IO_MSG_WATERMARK, false},
    {"_io_bytes_watermark", MEMCACHED_BEHAVIOR_IO_BYTES_WATERMARK, false},
    {"_io_key_prefetch", MEMCACHED_BEHAVIOR_IO_KEY_PREFETCH, false},
    {"_hash_with_prefix_key", MEMCACHED_BEHAVIOR_HASH_WITH_PREFIX_KEY, true},
    {"_noreply", MEMCACHED_BEHAVIOR_NOREPLY, false},
    {"_sort_hosts", MEMCACHED_BEHAVIOR_SORT_HOSTS, true},
    {"_poll_timeout", MEMCACHED_BEHAVIOR_POLL_TIMEOUT, false},
    {"_socket_send_size", MEMCACHED_BEHAVIOR_SOCKET_SEND_SIZE, false},
    {"_socket_recv_size", MEMCACHED_BEHAVIOR_SOCKET_RECV_SIZE, false},
    {"dead_timeout", MEMCACHED_BEHAVIOR_DEAD_TIMEOUT, false},
    {"pickle_protocol", -1, false},
};

template <class Table>
std::optional<std::uint64_t> symbolic_value(const Table& table, const nlohmann::json& v) {
    if (!v.is_string()) return std::nullopt;
    for (const auto& [name, value] : table)
        if (name == v.get<std::string>()) return static_cast<std::uint64_t>(value);
    return std::nullopt;
}

}  // namespace

std::vector<PylibmcServer> pylibmc_servers(const nlohmann::json& location) {
    std::vector<PylibmcServer> out;
    if (location.is_string()) {
        const std::string s = location.get<std::string>();
        std::size_t start = 0;
        for (;;) {
            const auto sep = s.find_first_of(";,", start);
            out.push_back(pylibmc_server(s.substr(start, sep == std::string::npos ? std::string::npos : sep - start)));
            if (sep == std::string::npos) break;
            start = sep + 1;
        }
    } else if (location.is_array() && !location.empty()) {
        for (const auto& e : location) {
            if (!e.is_string())
                throw ConfigError(fmt::format("CACHES LOCATION entry {} must be a \"host:port\" string", e.dump()));
            out.push_back(pylibmc_server(e.get<std::string>()));
        }
    } else {
        throw ConfigError("CACHES LOCATION must name the memcached servers (a string or a list of strings)");
    }
    return out;
}

std::vector<PylibmcBehavior> pylibmc_placement_behaviors(const nlohmann::json& behaviors) {
    std::vector<PylibmcBehavior> out;
    if (behaviors.is_null()) return out;
    if (!behaviors.is_object()) throw ConfigError("CACHES OPTIONS behaviors must be an object");
    for (auto it = behaviors.begin(); it != behaviors.end(); ++it) {
        const std::string& name = it.key();
        if (name == "namespace")
            throw ConfigError(
                "CACHES OPTIONS behaviors namespace: pylibmc puts it before every key; sessionctl supports "
                "Django's keys only");
        const bool known =
            name == "_retry_timeout" || std::any_of(std::begin(kPylibmcBehaviors), std::end(kPylibmcBehaviors),
                                                    [&](const auto& b) { return b.name == name; });
        if (!known) throw ConfigError(fmt::format("CACHES OPTIONS behaviors: unknown behavior name '{}'", name));
    }
    for (const auto& b : kPylibmcBehaviors) {
        if (!behaviors.contains(b.name)) continue;
        const nlohmann::json& v = behaviors[std::string(b.name)];
        std::optional<std::uint64_t> value;
        if (b.name == "hash" || b.name == "ketama_hash") value = symbolic_value(kPylibmcHashers, v);
        else if (b.name == "distribution") value = symbolic_value(kPylibmcDistributions, v);
        if (!value && v.is_boolean()) value = v.get<bool>() ? 1 : 0;
        if (!value && v.is_number_integer()) value = static_cast<std::uint64_t>(v.get<std::int64_t>());
        if (!value && (b.name == "hash" || b.name == "distribution") && v.is_null()) continue;
        if (!value)
            throw ConfigError(
                fmt::format("CACHES OPTIONS behaviors {}: {} is not one pylibmc accepts", b.name, v.dump()));
        if (b.name == "num_replicas" && *value != 0)
            throw ConfigError(
                "CACHES OPTIONS behaviors num_replicas: copies of each key on other servers are not supported");
        if (b.name == "distribution" && *value == MEMCACHED_DISTRIBUTION_RANDOM)
            throw ConfigError(
                "CACHES OPTIONS behaviors distribution 'random' puts each key on any server: nobody can find a "
                "session again");
        if (b.placement) out.push_back({b.flag, *value, std::string(b.name)});
    }
    return out;
}

std::optional<MetadumpItem> parse_metadump_line(std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    if (line.rfind("key=", 0) != 0) return std::nullopt;
    MetadumpItem item;
    bool have_exp = false;
    std::size_t pos = 0;
    while (pos < line.size()) {
        std::size_t end = line.find(' ', pos);
        std::string_view field = line.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        pos = end == std::string_view::npos ? line.size() : end + 1;
        if (field.rfind("key=", 0) == 0) {
            std::string_view enc = field.substr(4);
            for (std::size_t i = 0; i < enc.size(); ++i) {
                if (enc[i] == '%') {
                    if (i + 2 >= enc.size()) return std::nullopt;
                    int hi = hex_value(enc[i + 1]);
                    int lo = hex_value(enc[i + 2]);
                    if (hi < 0 || lo < 0) return std::nullopt;
                    item.key += static_cast<char>(hi * 16 + lo);
                    i += 2;
                } else {
                    item.key += enc[i];
                }
            }
        } else if (field.rfind("exp=", 0) == 0) {
            std::string_view v = field.substr(4);
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), item.exp);
            if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
            have_exp = true;
        }
    }
    if (item.key.empty() || !have_exp) return std::nullopt;
    return item;
}

}  // namespace sessionctl
