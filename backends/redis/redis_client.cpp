#include "backends/redis/redis_client.hpp"

#include "backends/redis/redis_connection.hpp"
#include "backends/redis/redis_sentinel.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string_view>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "core/append_decimal.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

constexpr std::size_t kScanCount = 1000;  // SCAN COUNT hint per round trip
constexpr std::chrono::milliseconds kSentinelRetryPause{400};
constexpr std::chrono::milliseconds kFailoverCheckPause{100};

using Reply = RedisReply;

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

// Sets KEYS[1] to ARGV[2] (with EX ARGV[3] unless empty) only while it still
// holds ARGV[1]: the compare-and-set of replace_if_unchanged.
constexpr const char* kCompareAndSet =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2]) "
    "else redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end return 1 else return 0 end";

class RedisClient final : public CacheClient {
public:
    explicit RedisClient(RedisEndpoint ep) : ep_(std::move(ep)), conn_(ep_) { log_in(); }
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    std::string description() const override { return ep_.description(); }

    // Sentinel: called before each write (at most every kFailoverCheckPause);
    // throws StoreUnavailable once the sentinels name another primary, so a
    // bulk delete stops there instead of writing to a demoted server.
    void watch_failover(std::function<void()> confirm_primary) { confirm_primary_ = std::move(confirm_primary); }

    // ROLE's first element: "master" on a primary.
    bool is_primary() {
        Reply role = command({"ROLE"});
        return role->type == REDIS_REPLY_ARRAY && role->elements > 0 && role->element[0]->type == REDIS_REPLY_STRING &&
               std::string_view(role->element[0]->str, role->element[0]->len) == "master";
    }

    bool listing_is_exact() const override { return true; }

    std::optional<CacheValue> get(std::string_view key) override {
        const auto asked = std::chrono::steady_clock::now();
        append({"GET", key});
        append({"PTTL", key});
        Reply value = read_reply();
        Reply ttl = read_reply();
        if (value->type == REDIS_REPLY_NIL) return std::nullopt;
        CacheValue v = make_value(*value, *ttl);
        age_ttl(v, asked);
        return v;
    }

    bool add(std::string_view key, std::string_view bytes, std::uint32_t, std::optional<std::int64_t> ttl) override {
        before_write();
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
        before_write();
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

    std::vector<bool> add_many(const std::vector<Write>& writes) override {
        // One pipeline: SET NX (EX) per entry; timeouts <= 0 take add()'s
        // path (nothing may survive), which never happens for a session copy.
        before_write();
        std::vector<bool> stored(writes.size(), false);
        std::vector<std::size_t> piped;
        std::vector<std::string> seconds(writes.size());
        for (std::size_t i = 0; i < writes.size(); ++i) {
            const Write& w = writes[i];
            if (w.ttl_seconds && *w.ttl_seconds <= 0) continue;
            if (w.ttl_seconds) {
                seconds[i] = std::to_string(*w.ttl_seconds);
                append({"SET", w.key, w.bytes, "EX", seconds[i], "NX"});
            } else {
                append({"SET", w.key, w.bytes, "NX"});
            }
            piped.push_back(i);
        }
        for (std::size_t i : piped) stored[i] = is_ok(*read_reply());
        for (std::size_t i = 0; i < writes.size(); ++i)
            if (writes[i].ttl_seconds && *writes[i].ttl_seconds <= 0)
                stored[i] = add(writes[i].key, writes[i].bytes, writes[i].flags, writes[i].ttl_seconds);
        return stored;
    }

    bool replace_if_unchanged(const Write& write, std::string_view expected) override {
        if (write.ttl_seconds && *write.ttl_seconds <= 0) return remove_if_unchanged(write.key, expected);
        before_write();
        const std::string seconds = write.ttl_seconds ? std::to_string(*write.ttl_seconds) : std::string();
        Reply r = command({"EVAL", kCompareAndSet, "1", write.key, expected, write.bytes, seconds});
        return r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    }

    bool remove(std::string_view key) override {
        before_write();
        Reply r = command({"DEL", key});
        return r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    }

    bool remove_if_unchanged(std::string_view key, std::string_view expected) override {
        return remove_many_if_unchanged({{std::string(key), std::string(expected)}}).front();
    }

    std::vector<bool> remove_many_if_unchanged(const std::vector<std::pair<std::string, std::string>>& items) override {
        before_write();
        for (const auto& [key, expected] : items) append({"EVAL", kCompareAndDelete, "1", key, expected});
        std::vector<bool> removed;
        removed.reserve(items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            Reply r = read_reply();
            removed.push_back(r->type == REDIS_REPLY_INTEGER && r->integer > 0);
        }
        after_write_batch(items.size());
        return removed;
    }

    bool replace_keeping_expiry_if_unchanged(std::string_view key, std::string_view expected, std::string_view bytes,
                                             std::uint32_t, std::optional<std::int64_t>) override {
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
            before_write();
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
        // When each batch's PTTLs were asked for: a TTL is handed on as what
        // is left at that moment at most (age_ttl), never longer.
        auto asked = std::chrono::steady_clock::now();
        auto asked_next = asked;
        auto request_next = [&](const Reply& scan) {
            asked_next = std::chrono::steady_clock::now();
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
        asked = asked_next;
        for (;;) {
            std::vector<CacheEntry> batch = read_fetch(scan_keys(*scan), ttl);
            const auto batch_asked = asked;
            Reply next;
            bool more_after = false;
            if (more) {
                next = read_scan_reply();
                more_after = request_next(next);
                asked = asked_next;
            }
            if (ttl == Ttl::wanted)
                for (auto& entry : batch) age_ttl(entry.value, batch_asked);
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
    void before_write() {
        if (!confirm_primary_) return;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_confirmed_ < kFailoverCheckPause) return;
        confirm_primary_();
        last_confirmed_ = now;
    }

    // A batch sent just before a failover went to a server that will drop it
    // when it rejoins as a replica: asked once more after each batch, so that
    // such a batch is not counted as done.
    void after_write_batch(std::size_t size) {
        if (!confirm_primary_) return;
        try {
            confirm_primary_();
        } catch (const StoreUnavailable& e) {
            throw StoreUnavailable(fmt::format(
                "{}; its last {} deletions went to it after the switch and are not counted", e.what(), size));
        }
        last_confirmed_ = std::chrono::steady_clock::now();
    }

    Reply read_scan_reply() {
        Reply r = read_reply();
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY)
            throw StoreError(fmt::format("{}: unexpected reply to SCAN", description()));
        return r;
    }
    static const redisReply& scan_keys(const redisReply& scan) { return *scan.element[1]; }

    // Sends what append() buffered without waiting for a reply.
    void flush() { conn_.flush(); }

    // With the TTL: GET + PTTL per key. Without: one MGET (one command on the
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
                append_resp(fetch_commands_, "PTTL", key);
            }
            conn_.append_formatted(fetch_commands_);
            return;
        }
        std::vector<std::string_view> argv{"MGET"};
        argv.reserve(keys.elements + 1);
        for (std::size_t i = 0; i < keys.elements; ++i) argv.emplace_back(keys.element[i]->str, keys.element[i]->len);
        conn_.append(argv);
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

    // AUTH and SELECT as redis-py does on a new connection.
    void log_in() {
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

    [[noreturn]] void throw_reply_error(const redisReply& r) const {
        std::string_view text(r.str, r.len);
        if (text.starts_with("NOAUTH") || text.starts_with("WRONGPASS"))
            throw StoreError(
                fmt::format("Redis at {} needs a valid password (set OPTIONS PASSWORD or the LOCATION "
                            "URL's password): {}",
                            description(), text));
        if (text.find("READONLY") != std::string_view::npos || text.starts_with("MASTERDOWN"))
            throw StoreUnavailable(
                fmt::format("Redis at {} is no longer the primary (a failover?): {}", description(), text));
        if (text.starts_with("LOADING") || text.starts_with("BUSY") || text.starts_with("TRYAGAIN"))
            throw StoreUnavailable(fmt::format("Redis at {} is busy: {}", description(), text));
        throw StoreError(fmt::format("Redis at {} answered with an error: {}", description(), text));
    }

    // Queues one command (hiredis formats it); its reply is read later.
    void append_args(const std::vector<std::string_view>& args) { conn_.append(args); }
    void append(std::initializer_list<std::string_view> args) { conn_.append(args); }

    Reply read_reply(bool allow_error = false) {
        Reply r = conn_.read_reply();
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

    // The server measured the PTTL after `asked`: what is left now is at most
    // the PTTL less the time since then (rounded up to whole milliseconds), so
    // an expiry computed from it by the caller, at once, is never later than
    // the server's. (The caller computes it with the batch's first record.)
    static void age_ttl(CacheValue& v, std::chrono::steady_clock::time_point asked) {
        if (!v.ttl_millis) return;
        const auto waited = std::chrono::ceil<std::chrono::milliseconds>(std::chrono::steady_clock::now() - asked);
        v.ttl_millis = std::max<std::int64_t>(0, *v.ttl_millis - waited.count());
        v.ttl_seconds = *v.ttl_millis / 1000;
    }

    static CacheValue make_value(const redisReply& value, const redisReply& ttl) {
        CacheValue v;
        v.bytes.assign(value.str, value.len);
        if (ttl.type == REDIS_REPLY_INTEGER) {
            if (ttl.integer == -1) v.persistent = true;
            else if (ttl.integer >= 0) {
                // PTTL: rounded down to whole seconds, a TTL is never longer
                // than the server's (TTL itself rounds to the nearest second).
                v.ttl_millis = ttl.integer;
                v.ttl_seconds = ttl.integer / 1000;
            }
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
    RedisConnection conn_;
    std::function<void()> confirm_primary_;
    std::chrono::steady_clock::time_point last_confirmed_{};
    std::string fetch_commands_;  // append_fetch's buffer, kept for its capacity
    bool unlink_ = true;
};

}  // namespace

std::unique_ptr<CacheClient> open_redis_client(const RedisEndpoint& endpoint) {
    return std::make_unique<RedisClient>(endpoint);
}

std::unique_ptr<CacheClient> open_redis_client(const RedisTarget& target) {
    if (!target.sentinel) return open_redis_client(target.endpoint);
    constexpr int kAttempts = 5;
    std::string why;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        if (attempt > 0) std::this_thread::sleep_for(kSentinelRetryPause);
        SentinelAnswer answer = ask_sentinels_for_primary(*target.sentinel, target.endpoint);
        // The sentinels' view lags a failover by a moment: the server named may
        // be a replica already (or not yet the primary). It gets no writes.
        auto client = std::make_unique<RedisClient>(answer.primary);
        if (client->is_primary()) {
            client->watch_failover([settings = *target.sentinel, server = target.endpoint, was = answer.primary]() {
                const SentinelAnswer now = ask_sentinels_for_primary(settings, server);
                if (now.primary.host != was.host || now.primary.port != was.port)
                    throw StoreUnavailable(fmt::format(
                        "a failover made {}:{} the primary of '{}' (sentinel {}); stopped writing to {}:{}",
                        now.primary.host, now.primary.port, settings.service, now.sentinel, was.host, was.port));
            });
            return client;
        }
        why = fmt::format("Redis at {} is not the primary (ROLE says replica)", answer.primary.description());
    }
    throw StoreUnavailable(fmt::format("{}; a failover may be under way, rerun in a moment", why));
}

}  // namespace sessionctl
