#pragma once

// TLS for rediss://, done with OpenSSL (Debian's libssl) over the socket that
// redis_connection.cpp opens.
//
// Why not hiredis: Debian 12 ships hiredis 0.14, which has no TLS (hiredis_ssl
// came with 1.0), and its redisContext does its own read(2)/write(2) on the
// socket with no hook to put TLS in between. sessionctl keeps hiredis's RESP
// reader and command formatter and moves the bytes itself, plain or through
// this class, so both paths share one I/O loop.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "backends/redis/redis_endpoint.hpp"

namespace sessionctl {

class TlsStream {
public:
    // Runs the handshake on the connected, non-blocking socket `fd`, verifying
    // as `settings` say for the server named `host` (SNI and the name check).
    // Throws StoreUnavailable with one line naming the reason (certificate
    // expired, not signed by a trusted CA, issued for another name, handshake
    // refused, timed out) and ConfigError when a certificate or key file
    // cannot be read. `where` is the server's description for messages.
    TlsStream(int fd, const RedisTls& settings, const std::string& host, std::chrono::milliseconds timeout,
              const std::string& where);
    ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    // As read(2)/write(2) on a non-blocking socket: the byte count, 0 when the
    // peer closed (read only), or -1 when the socket must first become ready
    // for `wait_events` (POLLIN / POLLOUT; a TLS read may need to write).
    // TLS failures throw StoreUnavailable naming OpenSSL's reason.
    long read(char* buffer, std::size_t size, short& wait_events);
    long write(const char* buffer, std::size_t size, short& wait_events);

    // "TLSv1.3"
    [[nodiscard]] std::string protocol() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Waits until `fd` is ready for `events` or `timeout` passes; false on timeout.
bool wait_for_socket(int fd, short events, std::chrono::milliseconds timeout);

}  // namespace sessionctl
