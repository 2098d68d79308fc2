#include "backends/redis/redis_client.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "core/append_decimal.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "core/url_redact.hpp"
#include "util/text.hpp"

namespace sessionctl {
namespace {

constexpr std::size_t kScanCount = 1000;  // SCAN COUNT hint per round trip

std::string percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

int parse_int(std::string_view text, const char* what) {
    if (text.empty() || text.size() > 9 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        throw ConfigError(fmt::format("CACHES LOCATION: {} '{}' is not a number", what, text));
    return std::atoi(std::string(text).c_str());
}

// The query string's db / password (redis-py reads both from the URL).
void apply_query(RedisEndpoint& ep, std::string_view query) {
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        auto eq = pair.find('=');
        std::string_view name = pair.substr(0, eq);
        std::string value = eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
        if (name == "db") ep.db = parse_int(value, "db");
        else if (name == "password") ep.password = value;
        else if (name == "username") ep.username = value;
    }
}

std::chrono::milliseconds seconds_option(const nlohmann::json& value, const char* name) {
    if (!value.is_number() || value.get<double>() <= 0)
        throw ConfigError(fmt::format("CACHES OPTIONS {} must be a positive number of seconds", name));
    return std::chrono::milliseconds(std::llround(value.get<double>() * 1000));
}

timeval to_timeval(std::chrono::milliseconds ms) {
    timeval tv{};
    tv.tv_sec = static_cast<decltype(tv.tv_sec)>(ms.count() / 1000);
    tv.tv_usec = static_cast<decltype(tv.tv_usec)>((ms.count() % 1000) * 1000);
    return tv;
}

struct ReplyDeleter {
    void operator()(redisReply* r) const {
        if (r) freeReplyObject(r);
    }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// SCAN MATCH treats * ? [ ] and \ as glob syntax: escape them in the prefix.
std::string glob_escape(std::string_view prefix) {
    std::string out;
    for (char c : prefix) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

// Deletes KEYS[1] only while it still holds ARGV[1]: atomic on the server, so a
// request that rewrote the session between our read and our delete wins.
constexpr const char* kCompareAndDelete =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

class RedisClient final : public CacheClient {
public:
    explicit RedisClient(RedisEndpoint ep) : ep_(std::move(ep)) { connect(); }
    ~RedisClient() override {
        if (ctx_) redisFree(ctx_);
    }
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    std::string description() const override { return ep_.description(); }
    bool listing_is_exact() const override { return true; }

    std::optional<CacheValue> get(std::string_view key) override {
        append({"GET", key});
        append({"TTL", key});
        Reply value = read_reply();
        Reply ttl = read_reply();
        if (value->type == REDIS_REPLY_NIL) return std::nullopt;
        return make_value(*value, *ttl);
    }

    bool add(std::string_view key, std::string_view bytes, std::uint32_t, std::optional<std::int64_t> ttl) override {
        bool stored;
        if (ttl && *ttl <= 0) {
            // RedisCache.add with timeout 0: SET NX, then DEL what it stored.
            stored = is_ok(*command({"SET", key, bytes, "NX"}));
            if (stored) (void)command({"DEL", key});
            return stored;
        }
        if (ttl) {
            std::string seconds = std::to_string(*ttl);
            stored = is_ok(*command({"SET", key, bytes, "EX", seconds, "NX"}));
        } else {
            stored = is_ok(*command({"SET", key, bytes, "NX"}));
        }
        return stored;
    }

    void set(std::string_view key, std::string_view bytes, std::uint32_t, std::optional<std::int64_t> ttl) override {
        if (ttl && *ttl <= 0) {
            (void)command({"DEL", key});  // RedisCache.set with timeout 0 deletes
            return;
        }
        if (ttl) {
            std::string seconds = std::to_string(*ttl);
            (void)command({"SET", key, bytes, "EX", seconds});
        } else {
            (void)command({"SET", key, bytes});
        }
    }

    bool remove(std::string_view key) override {
        Reply r = command({"DEL", key});
        return r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    }

    bool remove_if_unchanged(std::string_view key, std::string_view expected) override {
        return remove_many_if_unchanged({{std::string(key), std::string(expected)}}).front();
    }

    std::vector<bool> remove_many_if_unchanged(const std::vector<std::pair<std::string, std::string>>& items) override {
        for (const auto& [key, expected] : items) append({"EVAL", kCompareAndDelete, "1", key, expected});
        std::vector<bool> removed;
        removed.reserve(items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            Reply r = read_reply();
            removed.push_back(r->type == REDIS_REPLY_INTEGER && r->integer > 0);
        }
        return removed;
    }

    bool replace_if_unchanged(std::string_view key, std::string_view expected, std::string_view bytes, std::uint32_t,
                              std::optional<std::int64_t>) override {
        // KEEPTTL (Redis 6.0+): the session keeps its expiry.
        static constexpr std::string_view kCompareAndReplace =
            "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') "
            "return 1 end return 0";
        Reply r = command({"EVAL", kCompareAndReplace, "1", key, expected, bytes});
        return r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    }

    std::uint64_t remove_many(const std::vector<std::string>& keys) override {
        std::uint64_t removed = 0;
        constexpr std::size_t kBatch = 500;
        for (std::size_t start = 0; start < keys.size(); start += kBatch) {
            std::vector<std::string_view> argv{unlink_ ? "UNLINK" : "DEL"};
            for (std::size_t i = start; i < std::min(keys.size(), start + kBatch); ++i) argv.push_back(keys[i]);
            Reply r = command(argv, /*allow_error=*/true);
            if (r->type == REDIS_REPLY_ERROR && unlink_) {
                unlink_ = false;  // Redis < 4 has no UNLINK
                start -= kBatch;
                continue;
            }
            if (r->type == REDIS_REPLY_ERROR) throw_reply_error(*r);
            if (r->type == REDIS_REPLY_INTEGER) removed += static_cast<std::uint64_t>(r->integer);
        }
        return removed;
    }

    using CacheClient::scan_prefix;
    void scan_prefix(std::string_view prefix, const std::function<bool(std::vector<CacheEntry>&)>& visit,
                     Ttl ttl) override {
        const std::string pattern = glob_escape(prefix) + "*";
        const std::string count = std::to_string(kScanCount);
        // The requests for batch i+1 (its fetch and the SCAN after it) go out
        // before batch i is handed on, so the server works while this side
        // decodes: the scan costs about the server's time, not the sum.
        // Returns whether a SCAN was sent (the cursor was not the last).
        auto request_next = [&](const Reply& scan) {
            append_fetch(scan_keys(*scan), ttl);
            const std::string_view cursor(scan->element[0]->str, scan->element[0]->len);
            const bool more = cursor != "0";
            if (more) append({"SCAN", cursor, "MATCH", pattern, "COUNT", count});
            flush();
            return more;
        };
        append({"SCAN", "0", "MATCH", pattern, "COUNT", count});
        Reply scan = read_scan_reply();
        bool more = request_next(scan);
        for (;;) {
            std::vector<CacheEntry> batch = read_fetch(scan_keys(*scan), ttl);
            Reply next;
            bool more_after = false;
            if (more) {
                next = read_scan_reply();
                more_after = request_next(next);
            }
            if (!batch.empty() && !visit(batch)) {
                // The connection must not keep unread replies.
                if (more) {
                    (void)read_fetch(scan_keys(*next), ttl);
                    if (more_after) (void)read_reply();
                }
                return;
            }
            if (!more) return;
            scan = std::move(next);
            more = more_after;
        }
    }

private:
    Reply read_scan_reply() {
        Reply r = read_reply();
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY)
            throw StoreError(fmt::format("{}: unexpected reply to SCAN", description()));
        return r;
    }
    static const redisReply& scan_keys(const redisReply& scan) { return *scan.element[1]; }

    // Sends what append() buffered without waiting for a reply.
    void flush() {
        int done = 0;
        while (!done)
            if (redisBufferWrite(ctx_, &done) != REDIS_OK) throw_io_error();
    }

    // With the TTL: GET + TTL per key. Without: one MGET (one command on the
    // server instead of one or two per key).
    void append_fetch(const redisReply& keys, Ttl ttl) {
        if (keys.elements == 0) return;
        if (ttl == Ttl::wanted) {
            // Formatted here into one reused buffer and handed to hiredis at
            // once: its own formatting, two commands per key, cost the reading
            // thread more than the replies did.
            fetch_commands_.clear();
            for (std::size_t i = 0; i < keys.elements; ++i) {
                std::string_view key(keys.element[i]->str, keys.element[i]->len);
                append_resp(fetch_commands_, "GET", key);
                append_resp(fetch_commands_, "TTL", key);
            }
            if (redisAppendFormattedCommand(ctx_, fetch_commands_.data(), fetch_commands_.size()) != REDIS_OK)
                throw_io_error();
            return;
        }
        std::vector<const char*> argv{"MGET"};
        std::vector<std::size_t> lens{4};
        for (std::size_t i = 0; i < keys.elements; ++i) {
            argv.push_back(keys.element[i]->str);
            lens.push_back(keys.element[i]->len);
        }
        if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) != REDIS_OK)
            throw_io_error();
    }

    // The replies to append_fetch. A key gone meanwhile (expired, deleted, or
    // for MGET not a string) comes back nil and is skipped.
    std::vector<CacheEntry> read_fetch(const redisReply& keys, Ttl ttl) {
        std::vector<CacheEntry> batch;
        if (keys.elements == 0) return batch;
        batch.reserve(keys.elements);
        auto key_at = [&](std::size_t i) { return std::string(keys.element[i]->str, keys.element[i]->len); };
        if (ttl == Ttl::wanted) {
            for (std::size_t i = 0; i < keys.elements; ++i) {
                Reply value = read_reply();
                Reply left = read_reply();
                if (value->type == REDIS_REPLY_NIL) continue;
                batch.push_back({key_at(i), make_value(*value, *left)});
            }
            return batch;
        }
        Reply values = read_reply();
        if (values->type != REDIS_REPLY_ARRAY || values->elements != keys.elements)
            throw StoreError(fmt::format("{}: unexpected reply to MGET", description()));
        for (std::size_t i = 0; i < keys.elements; ++i) {
            const redisReply& value = *values->element[i];
            if (value.type != REDIS_REPLY_STRING) continue;
            CacheEntry entry{key_at(i), {}};
            entry.value.bytes.assign(value.str, value.len);
            batch.push_back(std::move(entry));
        }
        return batch;
    }

    void connect() {
        timeval tv = to_timeval(ep_.connect_timeout);
        ctx_ = ep_.unix_path.empty() ? redisConnectWithTimeout(ep_.host.c_str(), ep_.port, tv)
                                     : redisConnectUnixWithTimeout(ep_.unix_path.c_str(), tv);
        if (!ctx_) throw StoreUnavailable(fmt::format("{}: cannot allocate a Redis connection", description()));
        if (ctx_->err)
            throw StoreUnavailable(fmt::format("cannot connect to Redis at {}: {}", description(), ctx_->errstr));
        (void)redisSetTimeout(ctx_, to_timeval(ep_.command_timeout));
        if (ep_.password) {
            Reply r = ep_.username.empty() ? command({"AUTH", *ep_.password}, true)
                                           : command({"AUTH", ep_.username, *ep_.password}, true);
            if (r->type == REDIS_REPLY_ERROR)
                throw StoreError(fmt::format("Redis at {} refused the password: {}", description(),
                                             std::string_view(r->str, r->len)));
        }
        if (ep_.db != 0) {
            Reply r = command({"SELECT", std::to_string(ep_.db)}, true);
            if (r->type == REDIS_REPLY_ERROR)
                throw StoreError(fmt::format("Redis at {} refused SELECT {}: {}", description(), ep_.db,
                                             std::string_view(r->str, r->len)));
        }
        // Fail here, not half way through a job, when AUTH is needed but not given.
        Reply ping = command({"PING"}, true);
        if (ping->type == REDIS_REPLY_ERROR) throw_reply_error(*ping);
    }

    [[noreturn]] void throw_io_error() const {
        std::string why = ctx_->errstr[0] ? ctx_->errstr : "connection lost";
        if (ctx_->err == REDIS_ERR_EOF) why = "the server closed the connection";
        throw StoreUnavailable(fmt::format("Redis at {} went away: {}", description(), why));
    }

    [[noreturn]] void throw_reply_error(const redisReply& r) const {
        std::string_view text(r.str, r.len);
        if (text.starts_with("NOAUTH") || text.starts_with("WRONGPASS"))
            throw StoreError(
                fmt::format("Redis at {} needs a valid password (set OPTIONS PASSWORD or the LOCATION "
                            "URL's password): {}",
                            description(), text));
        if (text.starts_with("LOADING") || text.starts_with("BUSY") || text.starts_with("TRYAGAIN"))
            throw StoreUnavailable(fmt::format("Redis at {} is busy: {}", description(), text));
        throw StoreError(fmt::format("Redis at {} answered with an error: {}", description(), text));
    }

    // Queues one command (hiredis formats it); its reply is read later.
    template <class Args>
    void append_args(const Args& args) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (auto a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) != REDIS_OK)
            throw_io_error();
    }
    void append(std::initializer_list<std::string_view> args) { append_args(args); }

    Reply read_reply(bool allow_error = false) {
        void* raw = nullptr;
        if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) throw_io_error();
        Reply r(static_cast<redisReply*>(raw));
        if (r->type == REDIS_REPLY_ERROR && !allow_error) throw_reply_error(*r);
        return r;
    }

    Reply command(const std::vector<std::string_view>& args, bool allow_error = false) {
        append_args(args);
        return read_reply(allow_error);
    }
    Reply command(std::initializer_list<std::string_view> args, bool allow_error = false) {
        return command(std::vector<std::string_view>(args), allow_error);
    }

    static bool is_ok(const redisReply& r) { return r.type == REDIS_REPLY_STATUS; }

    static CacheValue make_value(const redisReply& value, const redisReply& ttl) {
        CacheValue v;
        v.bytes.assign(value.str, value.len);
        if (ttl.type == REDIS_REPLY_INTEGER) {
            if (ttl.integer == -1) v.persistent = true;
            else if (ttl.integer >= 0) v.ttl_seconds = ttl.integer;
        }
        return v;
    }

    // One command, name and one argument, in the Redis protocol (RESP):
    // *2\r\n$3\r\nGET\r\n$<n>\r\n<key>\r\n
    static void append_resp(std::string& out, std::string_view name, std::string_view arg) {
        auto append_length = [&out](char tag, std::size_t n) {
            out += tag;
            append_decimal(out, n);
            out += "\r\n";
        };
        append_length('*', 2);
        append_length('$', name.size());
        out += name;
        out += "\r\n";
        append_length('$', arg.size());
        out += arg;
        out += "\r\n";
    }

    RedisEndpoint ep_;
    redisContext* ctx_ = nullptr;
    std::string fetch_commands_;  // append_fetch's buffer, kept for its capacity
    bool unlink_ = true;
};

}  // namespace

std::string RedisEndpoint::description() const {
    std::string auth;
    if (password) auth = fmt::format("{}:{}@", username, kRedacted);
    else if (!username.empty()) auth = username + "@";
    if (!unix_path.empty()) return fmt::format("unix://{}{}?db={}", auth, unix_path, db);
    return fmt::format("redis://{}{}:{}/{}", auth, host, port, db);
}

RedisEndpoint parse_redis_url(const std::string& url) {
    RedisEndpoint ep;
    std::string_view rest(url);
    bool unix_socket = false;
    if (rest.starts_with("redis://")) rest.remove_prefix(8);
    else if (rest.starts_with("unix://")) {
        rest.remove_prefix(7);
        unix_socket = true;
    } else if (rest.starts_with("rediss://")) {
        throw ConfigError(fmt::format("CACHES LOCATION '{}': rediss:// (TLS) is not supported", redact_url(url)));
    } else {
        throw ConfigError(fmt::format("CACHES LOCATION '{}' is not a redis:// or unix:// URL", redact_url(url)));
    }
    std::string_view query;
    if (auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    // userinfo ends at the last '@' (a password may contain '@').
    if (auto at = rest.rfind('@'); at != std::string_view::npos &&
                                   (unix_socket || rest.find('/') > at || rest.find('/') == std::string_view::npos)) {
        std::string_view userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        auto colon = userinfo.find(':');
        if (colon == std::string_view::npos) {
            // redis-py: "redis://secret@host" is a username only; Redis treats it as such.
            ep.username = percent_decode(userinfo);
        } else {
            ep.username = percent_decode(userinfo.substr(0, colon));
            ep.password = percent_decode(userinfo.substr(colon + 1));
        }
    }
    if (unix_socket) {
        if (rest.empty() || rest.front() != '/')
            throw ConfigError(
                fmt::format("CACHES LOCATION '{}': unix:// needs an absolute socket path", redact_url(url)));
        ep.unix_path = percent_decode(rest);
        ep.host.clear();
    } else {
        std::string_view hostport = rest.substr(0, rest.find('/'));
        std::string_view path =
            rest.find('/') == std::string_view::npos ? std::string_view{} : rest.substr(rest.find('/') + 1);
        if (!hostport.empty() && hostport.front() == '[') {  // [::1]:6379
            auto close = hostport.find(']');
            if (close == std::string_view::npos)
                throw ConfigError(fmt::format("CACHES LOCATION '{}': unclosed '['", redact_url(url)));
            ep.host = std::string(hostport.substr(1, close - 1));
            hostport = hostport.substr(close + 1);
            if (hostport.starts_with(":")) ep.port = parse_int(hostport.substr(1), "port");
        } else {
            auto colon = hostport.rfind(':');
            if (colon != std::string_view::npos) {
                ep.port = parse_int(hostport.substr(colon + 1), "port");
                hostport = hostport.substr(0, colon);
            }
            if (!hostport.empty()) ep.host = percent_decode(hostport);
        }
        if (!path.empty()) ep.db = parse_int(path, "db");
    }
    apply_query(ep, query);
    return ep;
}

RedisEndpoint redis_endpoint_from_cache_config(const nlohmann::json& cache) {
    const nlohmann::json location = cache.value("LOCATION", nlohmann::json());
    std::string first;
    if (location.is_string()) {
        std::string all = location.get<std::string>();
        first = all.substr(0, all.find_first_of(";,"));
    } else if (location.is_array() && !location.empty() && location.front().is_string()) {
        first = location.front().get<std::string>();
    } else {
        throw ConfigError("CACHES LOCATION must be a redis:// URL (or a list of them)");
    }
    RedisEndpoint ep = parse_redis_url(first);
    nlohmann::json options = cache.value("OPTIONS", nlohmann::json::object());
    if (!options.is_object()) throw ConfigError("CACHES OPTIONS must be an object");
    for (auto it = options.begin(); it != options.end(); ++it) {
        const std::string& name = it.key();
        const nlohmann::json& v = it.value();
        if (name == "password" || name == "PASSWORD") {
            if (v.is_null()) continue;
            if (!v.is_string()) throw ConfigError(fmt::format("CACHES OPTIONS {} must be a string", name));
            ep.password = v.get<std::string>();
        } else if (name == "username" || name == "USERNAME") {
            if (!v.is_string()) throw ConfigError(fmt::format("CACHES OPTIONS {} must be a string", name));
            ep.username = v.get<std::string>();
        } else if (name == "db" || name == "DB") {
            if (!v.is_number_integer()) throw ConfigError(fmt::format("CACHES OPTIONS {} must be an integer", name));
            ep.db = v.get<int>();
        } else if (name == "socket_connect_timeout" || name == "SOCKET_CONNECT_TIMEOUT") {
            ep.connect_timeout = seconds_option(v, name.c_str());
        } else if (name == "socket_timeout" || name == "SOCKET_TIMEOUT") {
            ep.command_timeout = seconds_option(v, name.c_str());
        }
        // Other options (pool classes, parser, retry policy) change nothing stored.
    }
    return ep;
}

std::unique_ptr<CacheClient> open_redis_client(const RedisEndpoint& endpoint) {
    return std::make_unique<RedisClient>(endpoint);
}

}  // namespace sessionctl
