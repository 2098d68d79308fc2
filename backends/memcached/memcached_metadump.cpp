#include "backends/memcached/memcached_metadump.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace sessionctl {
namespace {

class Connection {
public:
    Connection(const MemcachedServerSpec& server, const MetadumpTimeouts& timeouts)
        : server_(server), timeouts_(timeouts) {
        if (server.is_socket()) connect_unix();
        else connect_tcp();
    }
    ~Connection() {
        if (fd_ >= 0) ::close(fd_);
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void send_all(std::string_view data) {
        while (!data.empty()) {
            wait_for(POLLOUT, "sending to it");
            ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                unavailable(fmt::format("sending failed: {}", std::strerror(errno)));
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    // The next line without its "\r\n" / "\n"; throws when the server closes
    // the connection or stays silent for the I/O timeout.
    std::string read_line() {
        for (;;) {
            auto nl = buffer_.find('\n', scanned_);
            if (nl != std::string::npos) {
                std::string line = buffer_.substr(0, nl);
                buffer_.erase(0, nl + 1);
                scanned_ = 0;
                if (!line.empty() && line.back() == '\r') line.pop_back();
                return line;
            }
            scanned_ = buffer_.size();
            wait_for(POLLIN, "waiting for the key listing");
            char chunk[65536];
            ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                unavailable(fmt::format("reading failed: {}", std::strerror(errno)));
            }
            if (n == 0) unavailable("the server closed the connection during the key listing");
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    [[noreturn]] void unavailable(const std::string& why) const {
        throw StoreUnavailable(fmt::format("memcached at {} is unavailable: {}", server_.display(), why));
    }

private:
    void connect_unix() {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (server_.socket_path.size() >= sizeof addr.sun_path) unavailable("socket path too long");
        std::memcpy(addr.sun_path, server_.socket_path.c_str(), server_.socket_path.size() + 1);
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd_ < 0) unavailable(std::strerror(errno));
        finish_connect(reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    }

    void connect_tcp() {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* found = nullptr;
        int rc = ::getaddrinfo(server_.host.c_str(), std::to_string(server_.port).c_str(), &hints, &found);
        if (rc != 0) unavailable(fmt::format("cannot resolve {}: {}", server_.host, ::gai_strerror(rc)));
        std::string last_error = fmt::format("memcached at {} is unavailable: no address", server_.display());
        for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
            fd_ = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
            if (fd_ < 0) {
                last_error = fmt::format("memcached at {} is unavailable: {}", server_.display(), std::strerror(errno));
                continue;
            }
            try {
                finish_connect(ai->ai_addr, ai->ai_addrlen);
                ::freeaddrinfo(found);
                return;
            } catch (const StoreUnavailable& e) {
                last_error = e.what();
                ::close(fd_);
                fd_ = -1;
            }
        }
        ::freeaddrinfo(found);
        throw StoreUnavailable(last_error);
    }

    void finish_connect(const sockaddr* addr, socklen_t len) {
        if (::connect(fd_, addr, len) == 0) return;
        if (errno != EINPROGRESS) unavailable(fmt::format("cannot connect: {}", std::strerror(errno)));
        pollfd p{fd_, POLLOUT, 0};
        int ready = ::poll(&p, 1, static_cast<int>(timeouts_.connect.count()));
        if (ready == 0) unavailable(fmt::format("no connection within {} ms", timeouts_.connect.count()));
        int err = 0;
        socklen_t err_len = sizeof err;
        ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &err_len);
        if (ready < 0 || err != 0) unavailable(fmt::format("cannot connect: {}", std::strerror(err ? err : errno)));
    }

    void wait_for(short events, const char* doing) {
        for (;;) {
            pollfd p{fd_, events, 0};
            int ready = ::poll(&p, 1, static_cast<int>(timeouts_.io.count()));
            if (ready > 0) return;
            if (ready < 0 && errno == EINTR) continue;
            if (ready == 0) unavailable(fmt::format("no answer within {} ms while {}", timeouts_.io.count(), doing));
            unavailable(std::strerror(errno));
        }
    }

    const MemcachedServerSpec& server_;
    MetadumpTimeouts timeouts_;
    int fd_ = -1;
    std::string buffer_;
    std::size_t scanned_ = 0;
};

bool starts_with(std::string_view s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

// A server's answer quoted in a one-line message: shortened, controls shown as '?'.
std::string shown_answer(std::string_view line) {
    std::string out(line.substr(0, 80));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return out;
}

}  // namespace

void memcached_metadump(const MemcachedServerSpec& server, const MetadumpTimeouts& timeouts,
                        const std::function<bool(const MetadumpItem&)>& visit) {
    const auto deadline = std::chrono::steady_clock::now() + timeouts.io;
    std::string mode = "hash";  // walks the hash table: fewer misses than the LRUs (memcached >= 1.6)
    for (;;) {
        Connection conn(server, timeouts);
        conn.send_all(fmt::format("lru_crawler metadump {}\r\n", mode));
        std::string line = conn.read_line();
        if (starts_with(line, "BUSY")) {
            // Another crawl or metadump is running; it usually ends quickly.
            if (std::chrono::steady_clock::now() >= deadline)
                conn.unavailable("its LRU crawler stayed busy with another request; try again");
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        if (mode == "hash" && (starts_with(line, "BADCLASS") || line == "CLIENT_ERROR bad command line format")) {
            mode = "all";  // memcached before "metadump hash": walk the LRUs instead
            continue;
        }
        if (starts_with(line, "CLIENT_ERROR") && line.find("disabled") != std::string::npos)
            throw StoreError(
                fmt::format("memcached at {} cannot list its keys: its LRU crawler is disabled "
                            "(memcached -o no_lru_crawler)",
                            server.display()));
        if (line == "ERROR" || starts_with(line, "CLIENT_ERROR") || starts_with(line, "SERVER_ERROR") ||
            starts_with(line, "BADCLASS"))
            throw StoreError(
                fmt::format("memcached at {} cannot list its keys (lru_crawler metadump needs "
                            "memcached 1.4.31 or later): it answered '{}'",
                            server.display(), shown_answer(line)));
        if (line != "END" && !starts_with(line, "key="))
            throw StoreError(
                fmt::format("{} does not answer like memcached: it said '{}'", server.display(), shown_answer(line)));
        for (;; line = conn.read_line()) {
            if (line == "END") return;
            if (auto item = parse_metadump_line(line)) {
                if (!visit(*item)) return;  // closing the connection stops the crawl
            }
        }
    }
}

std::optional<std::int64_t> memcached_remaining_ttl(const MemcachedServerSpec& server, const MetadumpTimeouts& timeouts,
                                                    std::string_view key) {
    Connection conn(server, timeouts);
    conn.send_all(fmt::format("mg {} t\r\n", key));
    std::string line = conn.read_line();  // "HD t123", "HD t-1", "EN" (miss), "ERROR" (before 1.6)
    if (!starts_with(line, "HD ")) return std::nullopt;
    auto t = line.find(" t");
    if (t == std::string::npos) return std::nullopt;
    std::int64_t ttl = 0;
    const char* begin = line.data() + t + 2;
    const char* end = line.data() + line.size();
    auto [p, ec] = std::from_chars(begin, end, ttl);
    if (ec != std::errc() || (p != end && *p != ' ')) return std::nullopt;
    return ttl;
}

}  // namespace sessionctl
