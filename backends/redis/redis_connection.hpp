#pragma once

// One connection to a Redis server: a TCP or unix socket, TLS for rediss://
// (redis_tls.hpp says why it is not hiredis's), commands formatted by hiredis
// (redisFormatCommandArgv) into an output buffer, replies parsed by hiredis's
// RESP reader. Commands may be queued (append) and sent together (flush) so a
// batch costs one round trip. Every wait is bounded: connect and handshake by
// connect_timeout, each read and write by command_timeout.

#include <hiredis/hiredis.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/redis/redis_endpoint.hpp"

namespace sessionctl {

class TlsStream;

struct ReplyDeleter {
    void operator()(redisReply* r) const {
        if (r) freeReplyObject(r);
    }
};
using RedisReply = std::unique_ptr<redisReply, ReplyDeleter>;

class RedisConnection {
public:
    // Connects (and for rediss:// runs the TLS handshake); no AUTH or SELECT.
    // Unreachable, refused, timed out or a failed handshake: StoreUnavailable
    // naming the server and the reason.
    explicit RedisConnection(const RedisEndpoint& endpoint);
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    // Queues one command; its reply is read later, in order.
    void append(const std::vector<std::string_view>& args);
    void append(std::initializer_list<std::string_view> args) { append(std::vector<std::string_view>(args)); }
    // Queues commands already in the Redis protocol (RESP).
    void append_formatted(std::string_view resp) { out_.append(resp); }

    // Sends what is queued without waiting for a reply.
    void flush();

    // The next reply (sending what is queued first). Error replies are
    // returned as replies; I/O failures throw StoreUnavailable, a protocol
    // error StoreError.
    RedisReply read_reply();

    [[nodiscard]] const std::string& description() const { return description_; }

private:
    void connect_socket(const RedisEndpoint& endpoint);
    [[noreturn]] void went_away(const std::string& why) const;
    void wait(short events);

    std::string description_;
    std::chrono::milliseconds command_timeout_;
    int fd_ = -1;
    std::unique_ptr<TlsStream> tls_;
    redisReader* reader_ = nullptr;
    std::string out_;            // formatted commands not yet sent
    std::size_t out_sent_ = 0;   // how much of out_ went out
    std::vector<char> in_;       // read buffer, reused
    bool received_any_ = false;  // nothing yet: a plain client on a TLS port
};

}  // namespace sessionctl
