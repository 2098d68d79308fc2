#pragma once

#include <string>
#include <vector>

namespace sessionctl {

// SECRET_KEY and SECRET_KEY_FALLBACKS, as UTF-8 bytes (Django encodes str
// secrets as UTF-8). Writing uses secret_key only; reading tries each in order.
struct SecretKeys {
    std::string secret_key;
    std::vector<std::string> fallbacks;
};

}  // namespace sessionctl
