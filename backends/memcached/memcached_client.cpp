#include "backends/memcached/memcached_client.hpp"

#include "backends/memcached/libmemcached_api.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "backends/memcached/memcached_metadump.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

struct MemcachedFree {
    void operator()(memcached_st* m) const { libmemcached().memcached_free(m); }
};
using Handle = std::unique_ptr<memcached_st, MemcachedFree>;

// A result on the stack: memcached_fetch_result frees a heap-allocated result
// itself when the fetch ends, so a heap one cannot be owned by us.
class Result {
public:
    explicit Result(memcached_st* h) { libmemcached().memcached_result_create(h, &result_); }
    ~Result() { libmemcached().memcached_result_free(&result_); }
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;
    memcached_result_st* get() { return &result_; }

private:
    memcached_result_st result_{};
};

struct ValueFree {
    void operator()(char* p) const { std::free(p); }
};

// How many keys one multi-get asks for while listing.
constexpr std::size_t kFetchBatch = 200;

bool is_outage(memcached_return_t rc) {
    switch (rc) {
        case MEMCACHED_CONNECTION_FAILURE:
        case MEMCACHED_CONNECTION_SOCKET_CREATE_FAILURE:
        case MEMCACHED_CONNECTION_BIND_FAILURE:
        case MEMCACHED_HOST_LOOKUP_FAILURE:
        case MEMCACHED_TIMEOUT:
        case MEMCACHED_ERRNO:
        case MEMCACHED_SERVER_MARKED_DEAD:
        case MEMCACHED_SERVER_TEMPORARILY_DISABLED:
        case MEMCACHED_UNKNOWN_READ_FAILURE:
        case MEMCACHED_READ_FAILURE:
        case MEMCACHED_WRITE_FAILURE:
        case MEMCACHED_NO_SERVERS:
        case MEMCACHED_IN_PROGRESS:
        case MEMCACHED_FAIL_UNIX_SOCKET:
        case MEMCACHED_PARTIAL_READ: return true;
        default: return false;
    }
}

std::string short_backend(const std::string& backend) {
    auto dot = backend.rfind('.');
    return dot == std::string::npos ? backend : backend.substr(dot + 1);
}

std::chrono::milliseconds seconds_option(const nlohmann::json& options, const char* name,
                                         std::chrono::milliseconds fallback) {
    if (!options.contains(name) || options[name].is_null()) return fallback;
    const auto& v = options[name];
    if (!v.is_number() || v.get<double>() <= 0)
        throw ConfigError(fmt::format("CACHES OPTIONS {} must be a positive number of seconds", name));
    return std::chrono::milliseconds(std::max<long long>(1, std::llround(v.get<double>() * 1000)));
}

class MemcachedClient final : public CacheClient {
public:
    explicit MemcachedClient(MemcachedClientOptions options) : options_(std::move(options)) {
        if (!options_.clock) options_.clock = std::make_shared<SystemClock>();
        for (const auto& server : options_.servers) {
            nodes_.push_back(server.node);
            Handle h(mc_.memcached_create(nullptr));
            if (!h) throw StoreError("memcached: out of memory creating a client");
            auto connect_ms = static_cast<uint64_t>(options_.connect_timeout.count());
            auto io_ms = static_cast<uint64_t>(options_.io_timeout.count());
            mc_.memcached_behavior_set(h.get(), MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, connect_ms);
            mc_.memcached_behavior_set(h.get(), MEMCACHED_BEHAVIOR_POLL_TIMEOUT, io_ms);
            mc_.memcached_behavior_set(h.get(), MEMCACHED_BEHAVIOR_RCV_TIMEOUT, io_ms * 1000);
            mc_.memcached_behavior_set(h.get(), MEMCACHED_BEHAVIOR_SND_TIMEOUT, io_ms * 1000);
            mc_.memcached_behavior_set(h.get(), MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
            mc_.memcached_behavior_set(h.get(), MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
            memcached_return_t rc =
                server.is_socket()
                    ? mc_.memcached_server_add_unix_socket(h.get(), server.socket_path.c_str())
                    : mc_.memcached_server_add(h.get(), server.host.c_str(), static_cast<in_port_t>(server.port));
            if (rc != MEMCACHED_SUCCESS)
                throw ConfigError(
                    fmt::format("CACHES LOCATION {}: {}", server.display(), mc_.memcached_strerror(h.get(), rc)));
            handles_.push_back(std::move(h));
        }
        if (!options_.pylibmc_servers.empty() && options_.servers.size() > 1) placement_ = pylibmc_placement();
    }

    [[nodiscard]] std::string description() const override {
        std::string out = "memcached ";
        for (std::size_t i = 0; i < options_.servers.size(); ++i)
            out += (i ? ", " : "") + options_.servers[i].display();
        return out;
    }

    std::optional<CacheValue> get(std::string_view key) override {
        validate_memcached_key(key);
        std::size_t s = server_for(key);
        size_t length = 0;
        uint32_t flags = 0;
        memcached_return_t rc = MEMCACHED_SUCCESS;
        std::unique_ptr<char, ValueFree> value(
            mc_.memcached_get(handles_[s].get(), key.data(), key.size(), &length, &flags, &rc));
        if (rc == MEMCACHED_NOTFOUND) return std::nullopt;
        if (rc != MEMCACHED_SUCCESS) fail(s, rc, "get");
        CacheValue out;
        if (value) out.bytes.assign(value.get(), length);
        out.flags = flags;
        // The TTL is not part of a get; the meta command tells it (best
        // effort: unknown on servers before 1.6).
        const MetadumpTimeouts timeouts{options_.connect_timeout, options_.io_timeout};
        if (auto ttl = memcached_remaining_ttl(options_.servers[s], timeouts, key)) {
            if (*ttl < 0) out.persistent = true;
            else out.ttl_seconds = *ttl;
        }
        return out;
    }

    bool add(std::string_view key, std::string_view bytes, std::uint32_t flags,
             std::optional<std::int64_t> ttl_seconds) override {
        validate_memcached_key(key);
        std::size_t s = server_for(key);
        memcached_return_t rc = mc_.memcached_add(handles_[s].get(), key.data(), key.size(), bytes.data(), bytes.size(),
                                                  wire_exptime(ttl_seconds), flags);
        if (rc == MEMCACHED_SUCCESS) return true;
        if (rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS) return false;
        fail(s, rc, "add");
    }

    void set(std::string_view key, std::string_view bytes, std::uint32_t flags,
             std::optional<std::int64_t> ttl_seconds) override {
        validate_memcached_key(key);
        std::size_t s = server_for(key);
        memcached_return_t rc = mc_.memcached_set(handles_[s].get(), key.data(), key.size(), bytes.data(), bytes.size(),
                                                  wire_exptime(ttl_seconds), flags);
        if (rc == MEMCACHED_SUCCESS) return;
        if (!is_outage(rc)) {
            // As BaseMemcachedCache.set: a value the server would not take
            // (over its item size limit) must not leave the old one behind.
            mc_.memcached_delete(handles_[s].get(), key.data(), key.size(), 0);
        }
        fail(s, rc, "set");
    }

    bool remove(std::string_view key) override {
        validate_memcached_key(key);
        std::size_t s = server_for(key);
        memcached_return_t rc = mc_.memcached_delete(handles_[s].get(), key.data(), key.size(), 0);
        if (rc == MEMCACHED_SUCCESS) return true;
        if (rc == MEMCACHED_NOTFOUND) return false;
        fail(s, rc, "delete");
    }

    // gets, compare, then `cas` with an exptime long past: atomically replaces
    // the value by one that is already expired (memcached's text protocol has
    // no CAS-guarded delete), so a value a live request rewrote meanwhile
    // makes the cas fail (EXISTS) and is kept.
    bool remove_if_unchanged(std::string_view key, std::string_view expected) override {
        return cas_if_unchanged(key, expected, expected, std::nullopt, static_cast<time_t>(kMemcachedExpiredExptime));
    }

    bool replace_if_unchanged(const Write& write, std::string_view expected) override {
        return cas_if_unchanged(write.key, expected, write.bytes, write.flags, wire_exptime(write.ttl_seconds));
    }

    // memcached cannot keep an expiry: the scan's remaining TTL is written again.
    bool replace_keeping_expiry_if_unchanged(std::string_view key, std::string_view expected, std::string_view bytes,
                                             std::uint32_t flags, std::optional<std::int64_t> ttl_seconds) override {
        return cas_if_unchanged(key, expected, bytes, flags, wire_exptime(ttl_seconds));
    }

    std::uint64_t remove_many(const std::vector<std::string>& keys) override {
        for (const auto& key : keys) validate_memcached_key(key);  // all or nothing, before any I/O
        std::uint64_t removed = 0;
        for (const auto& key : keys) removed += remove(key) ? 1 : 0;
        return removed;
    }

    using CacheClient::scan_prefix;
    // The metadump lists each key's expiry anyway: `ttl` changes nothing.
    void scan_prefix(std::string_view prefix, const std::function<bool(std::vector<CacheEntry>&)>& visit,
                     Ttl /*ttl*/) override {
        const MetadumpTimeouts timeouts{options_.connect_timeout, options_.io_timeout};
        for (std::size_t s = 0; s < options_.servers.size(); ++s) {
            std::vector<MetadumpItem> pending;
            bool keep_going = true;
            memcached_metadump(options_.servers[s], timeouts, [&](const MetadumpItem& item) {
                if (item.key.rfind(prefix, 0) != 0) return true;
                if (memcached_key_problem(item.key)) return true;  // not something Django could have written
                // A key on a server the hash does not pick for it (left over
                // from another server list) is one Django can never read.
                if (server_for(item.key) != s) return true;
                pending.push_back(item);
                if (pending.size() >= kFetchBatch) keep_going = fetch_and_visit(s, pending, visit);
                return keep_going;
            });
            if (keep_going && !pending.empty()) keep_going = fetch_and_visit(s, pending, visit);
            if (!keep_going) return;
        }
    }

    [[nodiscard]] bool listing_is_exact() const override { return false; }

private:
    // gets `key`; when it holds exactly `expected`, cas it to `bytes` with
    // `flags` (unset: the stored flags kept) and `exptime` (an already
    // expired exptime removes it). True when the cas went through.
    bool cas_if_unchanged(std::string_view key, std::string_view expected, std::string_view bytes,
                          std::optional<std::uint32_t> new_flags, time_t exptime) {
        validate_memcached_key(key);
        std::size_t s = server_for(key);
        memcached_st* h = handles_[s].get();
        const char* keys[] = {key.data()};
        size_t lengths[] = {key.size()};
        memcached_return_t rc = mc_.memcached_mget(h, keys, lengths, 1);
        if (rc != MEMCACHED_SUCCESS) fail(s, rc, "gets");
        std::optional<std::uint64_t> cas;
        bool same = false;
        uint32_t flags = 0;
        Result result(h);
        while (mc_.memcached_fetch_result(h, result.get(), &rc) != nullptr) {
            std::string_view got(mc_.memcached_result_value(result.get()), mc_.memcached_result_length(result.get()));
            same = got == expected;
            cas = mc_.memcached_result_cas(result.get());
            flags = mc_.memcached_result_flags(result.get());
        }
        if (rc != MEMCACHED_END && rc != MEMCACHED_SUCCESS && rc != MEMCACHED_NOTFOUND) fail(s, rc, "gets");
        if (!cas || !same) return false;
        rc = mc_.memcached_cas(h, key.data(), key.size(), bytes.data(), bytes.size(), exptime,
                               new_flags.value_or(flags), *cas);
        if (rc == MEMCACHED_SUCCESS) return true;
        if (rc == MEMCACHED_DATA_EXISTS || rc == MEMCACHED_NOTFOUND || rc == MEMCACHED_NOTSTORED) return false;
        fail(s, rc, "cas");
    }

    std::size_t server_for(std::string_view key) const {
        if (nodes_.size() == 1) return 0;
        if (placement_) return pylibmc_pick(key);
        return pymemcache_rendezvous_pick(nodes_, key);
    }

    // A handle set up as pylibmc.Client sets up its own (binary protocol,
    // then the behaviors in pylibmc's order, then the servers with their
    // weights), used only to ask libmemcached where a key goes; no I/O.
    Handle pylibmc_placement() {
        Handle h(mc_.memcached_create(nullptr));
        if (!h) throw StoreError("memcached: out of memory creating a client");
        (void)mc_.memcached_behavior_set(h.get(), MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, options_.pylibmc_binary ? 1 : 0);
        for (const auto& b : options_.pylibmc_behaviors) {
            const memcached_return_t rc =
                mc_.memcached_behavior_set(h.get(), static_cast<memcached_behavior_t>(b.flag), b.value);
            if (rc != MEMCACHED_SUCCESS)
                throw ConfigError(fmt::format("CACHES OPTIONS behaviors {}={}: libmemcached refuses it ({})", b.name,
                                              b.value, mc_.memcached_strerror(h.get(), rc)));
        }
        for (const auto& server : options_.pylibmc_servers) {
            const auto weight = static_cast<uint32_t>(server.weight);
            const memcached_return_t rc =
                server.unix_socket
                    ? mc_.memcached_server_add_unix_socket_with_weight(h.get(), server.host.c_str(), weight)
                    : mc_.memcached_server_add_with_weight(h.get(), server.host.c_str(),
                                                           static_cast<in_port_t>(server.port), weight);
            if (rc != MEMCACHED_SUCCESS)
                throw ConfigError(
                    fmt::format("CACHES LOCATION {}: {}", server.host, mc_.memcached_strerror(h.get(), rc)));
        }
        return h;
    }

    // The server pylibmc sends `key` to, as an index in options_.servers.
    std::size_t pylibmc_pick(std::string_view key) const {
        memcached_return_t rc = MEMCACHED_SUCCESS;
        const memcached_instance_st* instance =
            mc_.memcached_server_by_key(placement_.get(), key.data(), key.size(), &rc);
        if (!instance)
            throw StoreError(
                fmt::format("memcached: no server for a key ({})", mc_.memcached_strerror(placement_.get(), rc)));
        const std::string_view name = mc_.memcached_server_name(instance);
        const int port = mc_.memcached_server_port(instance);
        for (std::size_t i = 0; i < options_.servers.size(); ++i) {
            const auto& s = options_.servers[i];
            if (s.is_socket() ? s.socket_path == name : (s.host == name && s.port == port)) return i;
        }
        throw StoreError(
            fmt::format("memcached: libmemcached placed a key on {}:{}, which LOCATION does not name", name, port));
    }

    time_t wire_exptime(std::optional<std::int64_t> ttl_seconds) const {
        return static_cast<time_t>(
            memcached_wire_exptime(memcached_exptime(ttl_seconds, options_.clock->now_seconds())));
    }

    // Fetches the listed keys (one multi-get) and hands what is still there to
    // `visit`; the TTL comes from the listing's exp. Clears `pending`.
    bool fetch_and_visit(std::size_t s, std::vector<MetadumpItem>& pending,
                         const std::function<bool(std::vector<CacheEntry>&)>& visit) {
        memcached_st* h = handles_[s].get();
        std::vector<const char*> keys;
        std::vector<size_t> lengths;
        for (const auto& item : pending) {
            keys.push_back(item.key.data());
            lengths.push_back(item.key.size());
        }
        memcached_return_t rc = mc_.memcached_mget(h, keys.data(), lengths.data(), keys.size());
        if (rc != MEMCACHED_SUCCESS) fail(s, rc, "get");
        std::vector<CacheEntry> batch;
        Result result(h);
        const std::int64_t now = options_.clock->now_seconds();
        while (mc_.memcached_fetch_result(h, result.get(), &rc) != nullptr) {
            CacheEntry entry;
            memcached_result_st* r = result.get();
            entry.key.assign(mc_.memcached_result_key_value(r), mc_.memcached_result_key_length(r));
            entry.value.bytes.assign(mc_.memcached_result_value(r), mc_.memcached_result_length(r));
            entry.value.flags = mc_.memcached_result_flags(result.get());
            auto listed =
                std::find_if(pending.begin(), pending.end(), [&](const MetadumpItem& i) { return i.key == entry.key; });
            if (listed != pending.end()) {
                if (listed->exp < 0) entry.value.persistent = true;
                else entry.value.ttl_seconds = std::max<std::int64_t>(0, listed->exp - now);
            }
            batch.push_back(std::move(entry));
        }
        if (rc != MEMCACHED_END && rc != MEMCACHED_SUCCESS && rc != MEMCACHED_NOTFOUND) fail(s, rc, "get");
        pending.clear();
        if (batch.empty()) return true;
        return visit(batch);
    }

    [[noreturn]] void fail(std::size_t s, memcached_return_t rc, const char* operation) const {
        memcached_st* h = handles_[s].get();
        std::string what = mc_.memcached_strerror(h, rc);
        int err = mc_.memcached_last_error_errno(h);
        if (rc == MEMCACHED_TIMEOUT) what = fmt::format("no answer within {} ms", options_.io_timeout.count());
        else if (rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED || rc == MEMCACHED_SERVER_MARKED_DEAD)
            what = "it failed moments ago and is not retried yet";
        else if (err != 0 && is_outage(rc)) what = std::strerror(err);
        const std::string server = options_.servers[s].display();
        if (is_outage(rc))
            throw StoreUnavailable(fmt::format("memcached at {} is unavailable ({}): {}", server, operation, what));
        throw StoreError(fmt::format("memcached at {} refused {}: {}", server, operation, what));
    }

    // Loads libmemcached before anything else (StoreUnavailable if absent).
    const LibmemcachedApi& mc_ = libmemcached();
    MemcachedClientOptions options_;
    std::vector<std::string> nodes_;
    std::vector<Handle> handles_;
    Handle placement_;  // PyLibMCCache with several servers (see pylibmc_placement)
};

}  // namespace

MemcachedClientOptions memcached_options_from_cache_config(const nlohmann::json& cache_config) {
    if (!cache_config.is_object()) throw ConfigError("CACHES entry must be an object");
    MemcachedClientOptions out;
    std::string backend = cache_config.value("BACKEND", std::string());
    out.backend = short_backend(backend);
    if (out.backend != "PyMemcacheCache" && out.backend != "PyLibMCCache" && out.backend != "MemcachedCache")
        throw ConfigError(fmt::format("CACHES BACKEND '{}' is not a memcached backend", backend));
    const nlohmann::json location = cache_config.contains("LOCATION") ? cache_config["LOCATION"] : nlohmann::json();
    if (out.backend == "PyLibMCCache") {
        // pylibmc's own reading of LOCATION; each server once for I/O.
        out.pylibmc_servers = pylibmc_servers(location);
        for (const auto& p : out.pylibmc_servers) {
            MemcachedServerSpec spec;
            if (p.unix_socket) spec.socket_path = p.host;
            else spec.host = p.host, spec.port = p.port;
            spec.node = p.unix_socket ? p.host : fmt::format("{}:{}", p.host, p.port);
            if (std::none_of(out.servers.begin(), out.servers.end(),
                             [&](const auto& s) { return s.node == spec.node; }))
                out.servers.push_back(std::move(spec));
        }
    } else {
        out.servers = parse_memcached_location(location);
    }
    if (out.servers.size() > 1 && out.backend == "MemcachedCache")
        throw ConfigError(fmt::format(
            "CACHES LOCATION lists {} servers: sessionctl finds keys across several memcached servers as "
            "PyMemcacheCache and PyLibMCCache place them; MemcachedCache (python-memcached) distributes them "
            "differently, so point LOCATION at one server",
            out.servers.size()));
    nlohmann::json options = cache_config.value("OPTIONS", nlohmann::json::object());
    if (options.is_null()) options = nlohmann::json::object();
    if (!options.is_object()) throw ConfigError("CACHES OPTIONS must be an object");
    for (const char* changes_bytes : {"key_prefix", "serde", "serializer", "deserializer", "hasher"})
        if (options.contains(changes_bytes) && !options[changes_bytes].is_null())
            throw ConfigError(
                fmt::format("CACHES OPTIONS {} changes the keys or values the cache stores; "
                            "sessionctl supports Django's defaults only",
                            changes_bytes));
    for (const char* sasl : {"username", "password"})
        if (options.contains(sasl))
            throw ConfigError(fmt::format("CACHES OPTIONS {}: memcached SASL authentication is not supported", sasl));
    if (options.contains("tls_context") && !options["tls_context"].is_null())
        throw ConfigError("CACHES OPTIONS tls_context: memcached over TLS is not supported");
    if (out.backend == "PyLibMCCache") {
        if (options.contains("behaviors")) out.pylibmc_behaviors = pylibmc_placement_behaviors(options["behaviors"]);
        if (options.contains("binary") && !options["binary"].is_null()) {
            if (!options["binary"].is_boolean() && !options["binary"].is_number_integer())
                throw ConfigError("CACHES OPTIONS binary must be true or false");
            out.pylibmc_binary = options["binary"].is_boolean() ? options["binary"].get<bool>()
                                                                : options["binary"].get<std::int64_t>() != 0;
        }
    }
    if (out.backend == "PyMemcacheCache") {
        out.connect_timeout = seconds_option(options, "connect_timeout", out.connect_timeout);
        out.io_timeout = seconds_option(options, "timeout", out.io_timeout);
    }
    return out;
}

std::unique_ptr<CacheClient> open_memcached_client(const MemcachedClientOptions& options) {
    if (options.servers.empty()) throw ConfigError("CACHES LOCATION names no memcached server");
    return std::make_unique<MemcachedClient>(options);
}

std::unique_ptr<CacheClient> open_memcached_client(const nlohmann::json& cache_config) {
    return open_memcached_client(memcached_options_from_cache_config(cache_config));
}

}  // namespace sessionctl
