#include "core/session_key.hpp"

#include <openssl/rand.h>

#include <stdexcept>

#include "util/text.hpp"

namespace sessionctl {

std::string random_string(std::size_t length, std::string_view allowed) {
    if (allowed.empty() || allowed.size() > 256) throw std::invalid_argument("bad alphabet");
    const unsigned limit = 256 - 256 % static_cast<unsigned>(allowed.size());
    std::string out;
    out.reserve(length);
    unsigned char buffer[64];
    while (out.size() < length) {
        if (RAND_bytes(buffer, sizeof buffer) != 1) throw std::runtime_error("the system random generator failed");
        for (unsigned char b : buffer) {
            if (b >= limit) continue;
            out += allowed[b % allowed.size()];
            if (out.size() == length) break;
        }
    }
    return out;
}

bool is_valid_session_key(std::string_view key) { return code_point_count(key) >= 8; }

bool has_only_valid_key_chars(std::string_view key) {
    for (char c : key)
        if (VALID_KEY_CHARS.find(c) == std::string_view::npos) return false;
    return true;
}

}  // namespace sessionctl
