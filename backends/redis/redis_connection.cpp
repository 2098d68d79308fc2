#include "backends/redis/redis_connection.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "backends/redis/redis_tls.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

void set_nonblocking(int fd) {
    const int flags = fcntl(fd, F_GETFL, 0);
    (void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// connect(2) on a non-blocking socket, waiting at most `timeout`; "" on
// success, else why not.
std::string connect_within(int fd, const sockaddr* addr, socklen_t len, std::chrono::milliseconds timeout) {
    if (::connect(fd, addr, len) == 0) return {};
    if (errno != EINPROGRESS) return std::strerror(errno);
    if (!wait_for_socket(fd, POLLOUT, timeout))
        return fmt::format("timed out after {} ms (socket_connect_timeout)", timeout.count());
    int error = 0;
    socklen_t size = sizeof error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
    return error ? std::strerror(error) : std::string();
}

}  // namespace

RedisConnection::RedisConnection(const RedisEndpoint& endpoint)
    : description_(endpoint.description()), command_timeout_(endpoint.command_timeout), in_(kReadChunk) {
    reader_ = redisReaderCreate();
    if (!reader_) throw StoreUnavailable(fmt::format("{}: cannot allocate a Redis reply reader", description_));
    try {
        connect_socket(endpoint);
        if (endpoint.tls.enabled)
            tls_ =
                std::make_unique<TlsStream>(fd_, endpoint.tls, endpoint.host, endpoint.connect_timeout, description_);
    } catch (...) {
        if (fd_ >= 0) ::close(fd_);
        redisReaderFree(reader_);
        throw;
    }
}

RedisConnection::~RedisConnection() {
    tls_.reset();
    if (fd_ >= 0) ::close(fd_);
    if (reader_) redisReaderFree(reader_);
}

void RedisConnection::connect_socket(const RedisEndpoint& ep) {
    if (!ep.unix_path.empty()) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (ep.unix_path.size() >= sizeof addr.sun_path)
            throw StoreUnavailable(fmt::format("cannot connect to Redis at {}: socket path too long", description_));
        std::memcpy(addr.sun_path, ep.unix_path.c_str(), ep.unix_path.size() + 1);
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0)
            throw StoreUnavailable(
                fmt::format("cannot connect to Redis at {}: {}", description_, std::strerror(errno)));
        set_nonblocking(fd_);
        const std::string why =
            connect_within(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr, ep.connect_timeout);
        if (!why.empty()) throw StoreUnavailable(fmt::format("cannot connect to Redis at {}: {}", description_, why));
        return;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(ep.port);
    if (const int rc = getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &found); rc != 0)
        throw StoreUnavailable(fmt::format("cannot connect to Redis at {}: {}", description_, gai_strerror(rc)));
    std::string why = "no address";
    for (addrinfo* a = found; a; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            why = std::strerror(errno);
            continue;
        }
        set_nonblocking(fd);
        why = connect_within(fd, a->ai_addr, a->ai_addrlen, ep.connect_timeout);
        if (why.empty()) {
            fd_ = fd;
            break;
        }
        ::close(fd);
    }
    freeaddrinfo(found);
    if (fd_ < 0) throw StoreUnavailable(fmt::format("cannot connect to Redis at {}: {}", description_, why));
    const int one = 1;
    (void)setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as hiredis and redis-py
}

void RedisConnection::went_away(const std::string& why) const {
    // A TLS-only server drops a plain client at its first bytes.
    const char* hint = !tls_ && !received_any_ ? " (if this port speaks TLS, use a rediss:// LOCATION)" : "";
    throw StoreUnavailable(fmt::format("Redis at {} went away: {}{}", description_, why, hint));
}

void RedisConnection::wait(short events) {
    if (!wait_for_socket(fd_, events, command_timeout_))
        throw StoreUnavailable(fmt::format("Redis at {} did not answer within {} ms (socket_timeout)", description_,
                                           command_timeout_.count()));
}

void RedisConnection::append(const std::vector<std::string_view>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (auto a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    char* command = nullptr;
    const int len = redisFormatCommandArgv(&command, static_cast<int>(argv.size()), argv.data(), lens.data());
    if (len < 0 || !command)
        throw StoreUnavailable(fmt::format("{}: out of memory formatting a command", description_));
    out_.append(command, static_cast<std::size_t>(len));
    redisFreeCommand(command);
}

void RedisConnection::flush() {
    while (out_sent_ < out_.size()) {
        const char* data = out_.data() + out_sent_;
        const std::size_t left = out_.size() - out_sent_;
        short events = POLLOUT;
        long n;
        if (tls_) {
            n = tls_->write(data, left, events);
        } else {
            n = ::send(fd_, data, left, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) went_away(std::strerror(errno));
        }
        if (n > 0) out_sent_ += static_cast<std::size_t>(n);
        else wait(events);
    }
    out_.clear();
    out_sent_ = 0;
}

RedisReply RedisConnection::read_reply() {
    for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(reader_, &raw) != REDIS_OK)
            throw StoreError(fmt::format("Redis at {}: protocol error: {}", description_, reader_->errstr));
        if (raw) return RedisReply(static_cast<redisReply*>(raw));
        if (!out_.empty()) flush();
        short events = POLLIN;
        long n;
        if (tls_) {
            n = tls_->read(in_.data(), in_.size(), events);
        } else {
            n = ::recv(fd_, in_.data(), in_.size(), 0);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) went_away(std::strerror(errno));
        }
        if (n == 0) went_away("the server closed the connection");
        if (n > 0) {
            received_any_ = true;
            if (redisReaderFeed(reader_, in_.data(), static_cast<std::size_t>(n)) != REDIS_OK)
                throw StoreError(fmt::format("Redis at {}: protocol error: {}", description_, reader_->errstr));
        } else {
            wait(events);
        }
    }
}

}  // namespace sessionctl
