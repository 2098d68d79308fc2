#include "core/auth_hash.hpp"

namespace sessionctl {

std::string session_auth_hash(std::string_view password_hash, std::string_view secret, HashAlgorithm algorithm) {
    static constexpr std::string_view key_salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";
    return to_hex(salted_hmac(key_salt, password_hash, secret, algorithm));
}

}  // namespace sessionctl
