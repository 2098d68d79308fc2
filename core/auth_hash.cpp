#include "core/auth_hash.hpp"

namespace sessionctl {

std::string session_auth_hash(std::string_view password_hash, std::string_view secret, HashAlgorithm algorithm) {
    return to_hex(salted_hmac(SESSION_AUTH_HASH_SALT, password_hash, secret, algorithm));
}

}  // namespace sessionctl
