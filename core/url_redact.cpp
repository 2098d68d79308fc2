#include "core/url_redact.hpp"

namespace sessionctl {

std::string redact_url(const std::string& text) {
    auto scheme = text.find("://");
    if (scheme == std::string::npos) return text;
    auto start = scheme + 3;
    // The userinfo ends at the last '@' before the path: a password may hold '@'.
    auto slash = text.find('/', start);
    auto at = text.rfind('@', slash == std::string::npos ? std::string::npos : slash);
    if (at == std::string::npos || at < start) return text;
    auto colon = text.find(':', start);
    if (colon == std::string::npos || colon > at) return text;
    return text.substr(0, colon + 1) + kRedacted + text.substr(at);
}

}  // namespace sessionctl
