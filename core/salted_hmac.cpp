#include "core/salted_hmac.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <stdexcept>

namespace sessionctl {
namespace {

const EVP_MD* digest_for(HashAlgorithm algorithm) {
    return algorithm == HashAlgorithm::sha1 ? EVP_sha1() : EVP_sha256();
}

struct MacDeleter {
    void operator()(EVP_MAC* p) const { EVP_MAC_free(p); }
};
struct MacCtxDeleter {
    void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

EVP_MAC* hmac_algorithm() {
    static std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!mac) throw std::runtime_error("OpenSSL has no HMAC");
    return mac.get();
}

}  // namespace

const char* to_string(HashAlgorithm algorithm) { return algorithm == HashAlgorithm::sha1 ? "sha1" : "sha256"; }

struct SaltedHmac::Impl {
    MacCtxPtr keyed;  // initialised with the derived key; duplicated per message
};

SaltedHmac::SaltedHmac(std::string_view key_salt, std::string_view secret, HashAlgorithm algorithm)
    : impl_(std::make_unique<Impl>()), algorithm_(algorithm) {
    // Django hashes salt + secret even when shorter than the block size.
    std::string material;
    material.reserve(key_salt.size() + secret.size());
    material.append(key_salt).append(secret);
    unsigned char key[EVP_MAX_MD_SIZE];
    unsigned int key_len = 0;
    if (!EVP_Digest(material.data(), material.size(), key, &key_len, digest_for(algorithm), nullptr))
        throw std::runtime_error("digest failed");
    OPENSSL_cleanse(material.data(), material.size());

    impl_->keyed.reset(EVP_MAC_CTX_new(hmac_algorithm()));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(to_string(algorithm)), 0),
        OSSL_PARAM_construct_end(),
    };
    if (!impl_->keyed || !EVP_MAC_init(impl_->keyed.get(), key, key_len, params))
        throw std::runtime_error("HMAC init failed");
    OPENSSL_cleanse(key, sizeof key);
}

SaltedHmac::~SaltedHmac() = default;
SaltedHmac::SaltedHmac(SaltedHmac&&) noexcept = default;
SaltedHmac& SaltedHmac::operator=(SaltedHmac&&) noexcept = default;

std::string SaltedHmac::digest(std::string_view value) const {
    MacCtxPtr ctx(EVP_MAC_CTX_dup(impl_->keyed.get()));
    unsigned char out[EVP_MAX_MD_SIZE];
    std::size_t out_len = 0;
    if (!ctx || !EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(value.data()), value.size()) ||
        !EVP_MAC_final(ctx.get(), out, &out_len, sizeof out))
        throw std::runtime_error("HMAC failed");
    return std::string(reinterpret_cast<const char*>(out), out_len);
}

std::string SaltedHmac::hexdigest(std::string_view value) const { return to_hex(digest(value)); }

std::string salted_hmac(std::string_view key_salt, std::string_view value, std::string_view secret,
                        HashAlgorithm algorithm) {
    return SaltedHmac(key_salt, secret, algorithm).digest(value);
}

bool constant_time_equals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string to_hex(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
    return out;
}

}  // namespace sessionctl
