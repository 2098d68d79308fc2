#pragma once

// django.core.signing.Signer / TimestampSigner: "value:signature" where the
// signature is b64url(salted_hmac(salt + "signer", value, key)).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/salted_hmac.hpp"
#include "core/secret_keys.hpp"

namespace sessionctl {

// Which secret verified a signature: 0 is SECRET_KEY, N > 0 is
// SECRET_KEY_FALLBACKS[N - 1].
struct KeyMatch {
    std::size_t key_index = 0;
    HashAlgorithm algorithm = HashAlgorithm::sha256;
};

class Signer {
public:
    Signer(const SecretKeys& keys, std::string_view salt);

    // Signer.sign(value) with SECRET_KEY and SHA-256.
    [[nodiscard]] std::string sign(std::string_view value) const;
    // TimestampSigner.sign(value) at the given Unix time (whole seconds).
    [[nodiscard]] std::string sign_with_timestamp(std::string_view value, std::int64_t timestamp) const;

    // Constant-time check of `signature` for `value` against SECRET_KEY then each
    // fallback (SHA-256). With accept_sha1, Django 3.1/3.2's SHA-1 signatures are
    // tried after that.
    [[nodiscard]] std::optional<KeyMatch> verify(std::string_view value, std::string_view signature,
                                                 bool accept_sha1) const;

    [[nodiscard]] std::string signature(std::string_view value) const;

private:
    std::vector<SaltedHmac> sha256_;
    std::vector<SaltedHmac> sha1_;
};

}  // namespace sessionctl
