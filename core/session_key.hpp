#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sessionctl {

// django.contrib.sessions.backends.base.VALID_KEY_CHARS
inline constexpr std::string_view VALID_KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789";
inline constexpr std::size_t SESSION_KEY_LENGTH = 32;

// get_random_string(length, allowed) from OpenSSL's CSPRNG, uniform over
// `allowed` (rejection sampling, no modulo bias).
[[nodiscard]] std::string random_string(std::size_t length, std::string_view allowed = VALID_KEY_CHARS);

// SessionBase._validate_session_key: non-empty and at least 8 characters
// (Python counts code points, so the key is read as UTF-8).
[[nodiscard]] bool is_valid_session_key(std::string_view key);

// The file engine's rule: only VALID_KEY_CHARS (so no "/", "." or uppercase).
[[nodiscard]] bool has_only_valid_key_chars(std::string_view key);

}  // namespace sessionctl
