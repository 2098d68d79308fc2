#pragma once

// Passwords inside URLs, hidden wherever a URL is shown (sessionctl config,
// cache descriptions, error messages).

#include <string>

namespace sessionctl {

inline constexpr const char* kRedacted = "********";

// "redis://user:pw@host:6379/0" -> "redis://user:********@host:6379/0";
// text that is not a URL with a password comes back unchanged.
[[nodiscard]] std::string redact_url(const std::string& text);

}  // namespace sessionctl
