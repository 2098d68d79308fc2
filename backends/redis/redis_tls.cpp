#include "backends/redis/redis_tls.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

// OpenSSL's reason for the last failure on this thread ("wrong version
// number"), or "" when it recorded none; clears the queue.
std::string last_openssl_reason() {
    const unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    if (code == 0) return {};
    const char* reason = ERR_reason_error_string(code);
    return reason ? reason : fmt::format("OpenSSL error {:#x}", code);
}

bool is_ip_address(const std::string& host) {
    in6_addr v6{};
    in_addr v4{};
    return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string text(data, n > 0 ? static_cast<std::size_t>(n) : 0);
    BIO_free(bio);
    return text;
}

std::string name_text(const X509_NAME* name) {
    BIO* bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
    return bio_text(bio);
}

std::string time_text(const ASN1_TIME* when) {
    BIO* bio = BIO_new(BIO_s_mem());
    ASN1_TIME_print(bio, when);
    return bio_text(bio);
}

// The first certificate check that failed in a handshake, as the verify
// callback saw it: OpenSSL's own message after a failure says only "certificate
// verify failed", not which certificate or why.
struct VerifyFailure {
    int error = X509_V_OK;
    int depth = 0;
    std::string subject;
    std::string not_before;
    std::string not_after;
};

int verify_failure_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

int record_verify_failure(int ok, X509_STORE_CTX* store) {
    if (ok) return 1;
    auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* failure = ssl ? static_cast<VerifyFailure*>(SSL_get_ex_data(ssl, verify_failure_index())) : nullptr;
    if (failure && failure->error == X509_V_OK) {
        failure->error = X509_STORE_CTX_get_error(store);
        failure->depth = X509_STORE_CTX_get_error_depth(store);
        if (X509* cert = X509_STORE_CTX_get_current_cert(store)) {
            failure->subject = name_text(X509_get_subject_name(cert));
            failure->not_before = time_text(X509_get0_notBefore(cert));
            failure->not_after = time_text(X509_get0_notAfter(cert));
        }
    }
    return 0;
}

// One line saying which check failed; the leading words ("certificate
// expired", "certificate not trusted", "hostname mismatch") are stable for
// scripts and tests.
std::string describe(const VerifyFailure& f, const std::string& host, const RedisTls& tls) {
    const std::string cert =
        f.subject.empty() ? "the server's certificate" : fmt::format("the server's certificate ({})", f.subject);
    switch (f.error) {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return fmt::format("certificate expired: {} expired on {}", cert, f.not_after);
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return fmt::format("certificate not yet valid: {} is valid from {}", cert, f.not_before);
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            return fmt::format(
                "hostname mismatch: {} is not issued for '{}' (connect by a name it lists, or set "
                "ssl_check_hostname false)",
                cert, host);
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_CERT_UNTRUSTED:
        case X509_V_ERR_CERT_SIGNATURE_FAILURE: {
            std::string trusted = "the system's CAs";
            if (!tls.ca_certs.empty()) trusted += fmt::format(" and ssl_ca_certs '{}'", tls.ca_certs);
            if (!tls.ca_path.empty()) trusted += fmt::format(" and ssl_ca_path '{}'", tls.ca_path);
            if (!tls.ca_data.empty()) trusted += " and ssl_ca_data";
            return fmt::format("certificate not trusted: {} is not signed by a CA in {} ({})", cert, trusted,
                               X509_verify_cert_error_string(f.error));
        }
        case X509_V_ERR_CERT_REVOKED: return fmt::format("certificate revoked: {}", cert);
        default:
            return fmt::format("certificate does not verify: {}: {}", cert, X509_verify_cert_error_string(f.error));
    }
}

// Makes a TLS connection's context as redis-py's ssl.create_default_context()
// does, then its ssl_* options.
SSL_CTX* make_context(const RedisTls& tls) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) throw StoreUnavailable(fmt::format("cannot set up TLS: {}", last_openssl_reason()));
    auto fail = [ctx](const std::string& what, const std::string& path) {
        const std::string reason = last_openssl_reason();
        SSL_CTX_free(ctx);
        throw ConfigError(fmt::format("CACHES {} '{}' cannot be used: {}", what, path,
                                      reason.empty() ? std::string("unreadable") : reason));
    };
    // Python's default context: TLS 1.2 at least, no compression; a server
    // closing without close_notify is an ordinary end of stream for Redis.
    SSL_CTX_set_min_proto_version(ctx, tls.min_version ? tls.min_version : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Several records per read(2) on a scan's stream of replies. Safe with the
    // poll loop in redis_connection.cpp: it waits on the socket only after
    // SSL_read said it needs more bytes (WANT_READ), never while OpenSSL
    // still holds buffered ones.
    SSL_CTX_set_read_ahead(ctx, 1);
    if (!tls.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, tls.ciphers.c_str()) != 1)
        fail("ssl_ciphers", tls.ciphers);
    if (tls.verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, record_verify_failure);
        (void)SSL_CTX_set_default_verify_paths(ctx);  // the system's CAs, as load_default_certs()
        if (!tls.ca_certs.empty() && SSL_CTX_load_verify_locations(ctx, tls.ca_certs.c_str(), nullptr) != 1)
            fail("ssl_ca_certs", tls.ca_certs);
        if (!tls.ca_path.empty() && SSL_CTX_load_verify_locations(ctx, nullptr, tls.ca_path.c_str()) != 1)
            fail("ssl_ca_path", tls.ca_path);
        if (!tls.ca_data.empty()) {
            BIO* bio = BIO_new_mem_buf(tls.ca_data.data(), static_cast<int>(tls.ca_data.size()));
            int added = 0;
            while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
                added += X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert) == 1;
                X509_free(cert);
            }
            BIO_free(bio);
            ERR_clear_error();  // the loop ends on "no start line"
            if (added == 0) fail("ssl_ca_data", "(PEM text)");
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    }
    if (!tls.certfile.empty() || !tls.keyfile.empty()) {
        if (tls.key_password) SSL_CTX_set_default_passwd_cb_userdata(ctx, const_cast<char*>(tls.key_password->c_str()));
        const std::string& certfile = tls.certfile.empty() ? tls.keyfile : tls.certfile;
        const std::string& keyfile = tls.keyfile.empty() ? certfile : tls.keyfile;
        if (SSL_CTX_use_certificate_chain_file(ctx, certfile.c_str()) != 1) fail("ssl_certfile", certfile);
        if (SSL_CTX_use_PrivateKey_file(ctx, keyfile.c_str(), SSL_FILETYPE_PEM) != 1) fail("ssl_keyfile", keyfile);
        if (SSL_CTX_check_private_key(ctx) != 1) fail("ssl_keyfile (does not match ssl_certfile)", keyfile);
        SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
    }
    return ctx;
}

}  // namespace

bool wait_for_socket(int fd, short events, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, events, 0};
        const int rc = poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
        if (rc > 0) return true;  // ready, or an error the next read/write reports
        if (rc == 0) return false;
        if (errno != EINTR) return true;
    }
}

struct TlsStream::Impl {
    SSL_CTX* ctx = nullptr;
    SSL* ssl = nullptr;
    VerifyFailure failure;
    std::string where;

    ~Impl() {
        if (ssl) {
            (void)SSL_shutdown(ssl);  // one close_notify, not waiting for the answer
            SSL_free(ssl);
        }
        if (ctx) SSL_CTX_free(ctx);
        ERR_clear_error();
    }

    [[noreturn]] void fail_io(int ssl_error) const {
        std::string reason = last_openssl_reason();
        if (reason.empty() && ssl_error == SSL_ERROR_SYSCALL)
            reason = errno ? std::strerror(errno) : "the server closed the connection";
        if (reason.find("certificate required") != std::string::npos)
            reason = "the server requires a client certificate (set ssl_certfile and ssl_keyfile): " + reason;
        throw StoreUnavailable(fmt::format("Redis at {} went away: TLS error: {}", where, reason));
    }

    // SSL_read/SSL_write's result as read(2)/write(2) would give it.
    long result(int rc, short& wait_events, bool reading) const {
        if (rc > 0) return rc;
        const int error = SSL_get_error(ssl, rc);
        if (error == SSL_ERROR_WANT_READ) wait_events = POLLIN;
        else if (error == SSL_ERROR_WANT_WRITE) wait_events = POLLOUT;
        else if (error == SSL_ERROR_ZERO_RETURN && reading) return 0;
        else fail_io(error);
        return -1;
    }
};

TlsStream::TlsStream(int fd, const RedisTls& settings, const std::string& host, std::chrono::milliseconds timeout,
                     const std::string& where)
    : impl_(std::make_unique<Impl>()) {
    ERR_clear_error();
    impl_->where = where;
    impl_->ctx = make_context(settings);
    impl_->ssl = SSL_new(impl_->ctx);
    if (!impl_->ssl || SSL_set_fd(impl_->ssl, fd) != 1)
        throw StoreUnavailable(fmt::format("cannot set up TLS to Redis at {}: {}", where, last_openssl_reason()));
    SSL_set_ex_data(impl_->ssl, verify_failure_index(), &impl_->failure);
    const bool ip = is_ip_address(host);
    // SNI carries a name, never an address (RFC 6066), as Python's ssl does.
    if (!ip) (void)SSL_set_tlsext_host_name(impl_->ssl, host.c_str());
    if (settings.verify && settings.check_hostname) {
        X509_VERIFY_PARAM* param = SSL_get0_param(impl_->ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                          : X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
        if (ok != 1) throw ConfigError(fmt::format("Redis host '{}' cannot be checked against a certificate", host));
    }

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        const int rc = SSL_connect(impl_->ssl);
        if (rc == 1) break;
        const int error = SSL_get_error(impl_->ssl, rc);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (!wait_for_socket(fd, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, left))
                throw StoreUnavailable(
                    fmt::format("TLS handshake with Redis at {} failed: timed out after {} ms (is this port TLS? "
                                "socket_connect_timeout)",
                                where, timeout.count()));
            continue;
        }
        if (impl_->failure.error != X509_V_OK) {
            ERR_clear_error();
            throw StoreUnavailable(fmt::format("TLS handshake with Redis at {} failed: {}", where,
                                               describe(impl_->failure, host, settings)));
        }
        std::string reason = last_openssl_reason();
        if (reason.empty()) reason = errno ? std::strerror(errno) : "the server closed the connection";
        if (reason == "wrong version number" || reason == "packet length too long" ||
            reason == "the server closed the connection")
            reason += " (is this port TLS? rediss:// needs a TLS port, redis:// a plain one)";
        throw StoreUnavailable(fmt::format("TLS handshake with Redis at {} failed: {}", where, reason));
    }
}

TlsStream::~TlsStream() = default;

long TlsStream::read(char* buffer, std::size_t size, short& wait_events) {
    ERR_clear_error();
    errno = 0;
    const int rc = SSL_read(impl_->ssl, buffer, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
    return impl_->result(rc, wait_events, true);
}

long TlsStream::write(const char* buffer, std::size_t size, short& wait_events) {
    ERR_clear_error();
    errno = 0;
    const int rc = SSL_write(impl_->ssl, buffer, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
    return impl_->result(rc, wait_events, false);
}

std::string TlsStream::protocol() const { return SSL_get_version(impl_->ssl); }

}  // namespace sessionctl
