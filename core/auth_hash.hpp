#pragma once

// django.contrib.auth: the session keys login() writes, and the hash that ties
// a session to the user's current password and the site's secret.

#include <string>
#include <string_view>

#include "core/salted_hmac.hpp"

namespace sessionctl {

inline constexpr std::string_view SESSION_KEY = "_auth_user_id";
inline constexpr std::string_view BACKEND_SESSION_KEY = "_auth_user_backend";
inline constexpr std::string_view HASH_SESSION_KEY = "_auth_user_hash";
inline constexpr std::string_view DEFAULT_AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend";
// AbstractBaseUser.get_session_auth_hash()'s key_salt.
inline constexpr std::string_view SESSION_AUTH_HASH_SALT =
    "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";

// AbstractBaseUser.get_session_auth_hash(): lowercase hex of
// salted_hmac(key_salt, password_hash, secret, sha256) (sha1 on 3.1/3.2 with
// DEFAULT_HASHING_ALGORITHM='sha1').
[[nodiscard]] std::string session_auth_hash(std::string_view password_hash, std::string_view secret,
                                            HashAlgorithm algorithm = HashAlgorithm::sha256);

}  // namespace sessionctl
