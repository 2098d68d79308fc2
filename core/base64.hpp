#pragma once

// Base64 as Django uses it: URL-safe without padding for signed values, standard
// with padding for the pre-3.1 legacy format. Decoding mirrors CPython's
// non-strict binascii.a2b_base64, because that leniency decides which tampered
// values Django accepts.

#include <stdexcept>
#include <string>
#include <string_view>

namespace sessionctl {

class Base64Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// base64.urlsafe_b64encode(data).rstrip(b"=")
[[nodiscard]] std::string b64url_encode_nopad(std::string_view data);

// django.core.signing.b64_decode: pad with "=" to a multiple of 4, then
// base64.urlsafe_b64decode (both alphabets accepted, junk characters dropped).
[[nodiscard]] std::string b64url_decode_django(std::string_view text);

// base64.b64encode(data)
[[nodiscard]] std::string b64_encode(std::string_view data);

// base64.b64decode(text) (non-strict).
[[nodiscard]] std::string b64_decode_lenient(std::string_view text);

}  // namespace sessionctl
