#pragma once

// SessionBase.encode/decode and the signed_cookies value: signing.dumps/loads
// with the session salt, plus the pre-3.1 legacy format. Decoding never
// collapses a failure into {}: the result says what went wrong and where.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/json_codec.hpp"
#include "core/pyvalue.hpp"
#include "core/secret_keys.hpp"
#include "core/session_settings.hpp"
#include "core/signer.hpp"

namespace sessionctl {

enum class DecodeStatus {
    ok,             // data holds the payload (which may be any JSON value)
    bad_signature,  // no key (and no legacy HMAC) matched: tampered or wrong secret
    expired,        // signature good but older than max_age (signed cookies)
    malformed,      // signed correctly (or unverified) but the payload is broken
};

enum class PayloadFormat {
    signed_sha256,  // Django >= 3.1 envelope
    signed_sha1,    // 3.1/3.2 envelope with DEFAULT_HASHING_ALGORITHM='sha1' (legacy)
    legacy,         // pre-3.1 base64("hexhmac:json") (legacy)
    cache_pickle,   // the cache engines' value: the pickled dict itself, not signed
    cache_json,     // the same, with django-redis's JSONSerializer
    cache_msgpack,  // the same, with django-redis's MSGPackSerializer
};

struct DecodeResult {
    DecodeStatus status = DecodeStatus::malformed;
    // For malformed: "envelope", "timestamp", "base64", "zlib", "json", "size".
    std::string malformed_part;
    std::string error;  // one line, no secret in it
    PyValue data;
    PayloadFormat format = PayloadFormat::signed_sha256;
    bool verified = false;                 // false with --no-verify or on failure
    std::optional<std::size_t> key_index;  // 0 = SECRET_KEY, N = SECRET_KEY_FALLBACKS[N-1]
    bool compressed = false;
    std::optional<std::int64_t> timestamp;  // signing time (Unix seconds), envelope only

    [[nodiscard]] bool ok() const { return status == DecodeStatus::ok; }
    [[nodiscard]] bool is_object() const { return ok() && data.is_dict(); }
    // A cache value: the dict itself, not signed.
    [[nodiscard]] bool is_cache_value() const {
        return format == PayloadFormat::cache_pickle || format == PayloadFormat::cache_json ||
               format == PayloadFormat::cache_msgpack;
    }
    [[nodiscard]] bool is_legacy() const {
        return format == PayloadFormat::signed_sha1 || format == PayloadFormat::legacy;
    }
    // "SECRET_KEY", "SECRET_KEY_FALLBACKS[0]", "legacy", or "" when unverified
    // or not signed at all (a cache value: trusted as the cache holds it).
    [[nodiscard]] std::string verified_with() const;
    [[nodiscard]] const char* format_name() const;
};

struct DecodeOptions {
    bool verify = true;  // false: show the payload without checking the signature
    // Signed cookies: reject a value older than this many seconds at `now`.
    std::optional<std::int64_t> max_age;
    double now = 0;  // Unix time, used only with max_age
    bool accept_legacy = true;
    // Inflated size above which a compressed payload is refused ("zlib" part);
    // unset: the codec's own limit (SESSION_MAX_INFLATED_SIZE).
    std::optional<std::size_t> max_inflated_bytes;
    // A longer value is refused before anything else ("size" part).
    std::size_t max_blob_bytes = 64u << 20;
    JsonLimits json;
};

[[nodiscard]] const char* to_string(DecodeStatus status);

// key_salt of a SessionStore class: "django.contrib.sessions." + qualname.
[[nodiscard]] std::string session_key_salt(std::string_view store_class_name);
// The signed_cookies engine signs with this salt instead.
inline constexpr std::string_view kSignedCookiesSalt = "django.contrib.sessions.backends.signed_cookies";

class SessionCodec {
public:
    // salt: the signing salt (session_key_salt(...) or kSignedCookiesSalt).
    // legacy_class_name: the class __name__ the pre-3.1 format hashed with.
    // max_inflated_bytes: the zlib cap decode() applies unless its options set one.
    SessionCodec(SecretKeys keys, std::string salt, std::string legacy_class_name = "SessionStore",
                 std::size_t max_inflated_bytes = kDefaultMaxInflatedBytes);

    // signing.dumps(obj, salt, compress=True) at `timestamp` (Unix seconds).
    // Throws JsonEncodeError when the value cannot be serialized.
    [[nodiscard]] std::string encode(const PyValue& obj, std::int64_t timestamp) const;
    [[nodiscard]] std::string encode_json(std::string_view json_bytes, std::int64_t timestamp) const;

    // Pre-3.1 format, as 3.1/3.2 write with DEFAULT_HASHING_ALGORITHM='sha1'.
    [[nodiscard]] std::string encode_legacy(const PyValue& obj) const;

    [[nodiscard]] DecodeResult decode(std::string_view blob, const DecodeOptions& options = {}) const;

    [[nodiscard]] const std::string& salt() const { return salt_; }
    [[nodiscard]] std::size_t max_inflated_bytes() const { return max_inflated_bytes_; }

private:
    [[nodiscard]] DecodeResult decode_envelope(std::string_view blob, const DecodeOptions& options) const;
    [[nodiscard]] std::optional<DecodeResult> decode_legacy(std::string_view blob, const DecodeOptions& options) const;

    SecretKeys keys_;
    std::string salt_;
    std::string legacy_salt_;
    std::size_t max_inflated_bytes_;
    Signer signer_;
};

}  // namespace sessionctl
