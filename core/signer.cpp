#include "core/signer.hpp"

#include "core/base62.hpp"
#include "core/base64.hpp"

namespace sessionctl {

Signer::Signer(const SecretKeys& keys, std::string_view salt) {
    std::string key_salt = std::string(salt) + "signer";
    sha256_.emplace_back(key_salt, keys.secret_key, HashAlgorithm::sha256);
    sha1_.emplace_back(key_salt, keys.secret_key, HashAlgorithm::sha1);
    for (const auto& fallback : keys.fallbacks) {
        sha256_.emplace_back(key_salt, fallback, HashAlgorithm::sha256);
        sha1_.emplace_back(key_salt, fallback, HashAlgorithm::sha1);
    }
}

std::string Signer::signature(std::string_view value) const {
    return b64url_encode_nopad(sha256_.front().digest(value));
}

std::string Signer::sign(std::string_view value) const {
    std::string out(value);
    out += ':';
    out += signature(value);
    return out;
}

std::string Signer::sign_with_timestamp(std::string_view value, std::int64_t timestamp) const {
    std::string stamped(value);
    stamped += ':';
    stamped += b62_encode(timestamp);
    return sign(stamped);
}

std::optional<KeyMatch> Signer::verify(std::string_view value, std::string_view signature, bool accept_sha1) const {
    for (std::size_t i = 0; i < sha256_.size(); ++i)
        if (constant_time_equals(b64url_encode_nopad(sha256_[i].digest(value)), signature))
            return KeyMatch{i, HashAlgorithm::sha256};
    if (accept_sha1)
        for (std::size_t i = 0; i < sha1_.size(); ++i)
            if (constant_time_equals(b64url_encode_nopad(sha1_[i].digest(value)), signature))
                return KeyMatch{i, HashAlgorithm::sha1};
    return std::nullopt;
}

}  // namespace sessionctl
