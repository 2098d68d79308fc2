#pragma once

// django.utils.crypto.salted_hmac: HMAC keyed with H(key_salt + secret).

#include <memory>
#include <string>
#include <string_view>

namespace sessionctl {

enum class HashAlgorithm { sha1, sha256 };

[[nodiscard]] const char* to_string(HashAlgorithm algorithm);

// A salted HMAC key derived once and reused for many messages: scanning a
// million sessions must not redo the key schedule per blob.
class SaltedHmac {
public:
    SaltedHmac(std::string_view key_salt, std::string_view secret, HashAlgorithm algorithm);
    ~SaltedHmac();
    SaltedHmac(SaltedHmac&&) noexcept;
    SaltedHmac& operator=(SaltedHmac&&) noexcept;

    // Raw digest bytes of HMAC-H(H(key_salt + secret), value).
    [[nodiscard]] std::string digest(std::string_view value) const;
    [[nodiscard]] std::string hexdigest(std::string_view value) const;
    [[nodiscard]] HashAlgorithm algorithm() const { return algorithm_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    HashAlgorithm algorithm_;
};

// One-shot form, as Django's function.
[[nodiscard]] std::string salted_hmac(std::string_view key_salt, std::string_view value, std::string_view secret,
                                      HashAlgorithm algorithm);

// hmac.compare_digest: constant time in the length of the expected value.
[[nodiscard]] bool constant_time_equals(std::string_view a, std::string_view b);

[[nodiscard]] std::string to_hex(std::string_view bytes);

}  // namespace sessionctl
