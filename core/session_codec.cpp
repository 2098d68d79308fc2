#include "core/session_codec.hpp"

#include <fmt/format.h>

#include "core/base62.hpp"
#include "core/base64.hpp"
#include "core/zlib_codec.hpp"

namespace sessionctl {
namespace {

DecodeResult malformed(std::string part, std::string error) {
    DecodeResult r;
    r.status = DecodeStatus::malformed;
    r.malformed_part = std::move(part);
    r.error = std::move(error);
    return r;
}

DecodeResult bad_signature(std::string error) {
    DecodeResult r;
    r.status = DecodeStatus::bad_signature;
    r.error = std::move(error);
    return r;
}

bool is_ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0x80) return false;
    return true;
}

// Parses "<payload>:<b62 timestamp>" whose signature was checked (or skipped).
void read_signed_value(std::string_view value, const DecodeOptions& options, std::size_t max_inflated,
                       DecodeResult& r) {
    auto ts_sep = value.rfind(':');
    if (ts_sep == std::string_view::npos) {
        r = malformed("timestamp", "signed value has no timestamp");
        return;
    }
    std::string_view payload = value.substr(0, ts_sep);
    try {
        r.timestamp = b62_decode(value.substr(ts_sep + 1));
    } catch (const Base62Error& e) {
        r = malformed("timestamp", fmt::format("bad timestamp: {}", e.what()));
        return;
    }
    if (options.max_age && options.now - static_cast<double>(*r.timestamp) > static_cast<double>(*options.max_age)) {
        r.status = DecodeStatus::expired;
        r.error = fmt::format("signature expired: signed {} seconds ago, max age {}",
                              static_cast<std::int64_t>(options.now) - *r.timestamp, *options.max_age);
        return;
    }
    r.compressed = !payload.empty() && payload.front() == '.';
    if (r.compressed) payload.remove_prefix(1);
    std::string bytes;
    try {
        bytes = b64url_decode_django(payload);
    } catch (const Base64Error& e) {
        auto ts = r.timestamp;
        r = malformed("base64", e.what());
        r.timestamp = ts;
        return;
    }
    if (r.compressed) {
        try {
            bytes = zlib_decompress(bytes, max_inflated);
        } catch (const ZlibLimitError& e) {
            auto ts = r.timestamp;
            r = malformed("zlib", fmt::format("{} (SESSION_MAX_INFLATED_SIZE; a zlib bomb?)", e.what()));
            r.timestamp = ts;
            r.compressed = true;
            return;
        } catch (const ZlibError& e) {
            auto ts = r.timestamp;
            r = malformed("zlib", e.what());
            r.timestamp = ts;
            r.compressed = true;
            return;
        }
    }
    try {
        r.data = json_loads_latin1(bytes, options.json);
    } catch (const JsonDecodeError& e) {
        auto ts = r.timestamp;
        bool compressed = r.compressed;
        r = malformed("json", fmt::format("bad JSON: {}", e.what()));
        r.timestamp = ts;
        r.compressed = compressed;
        return;
    }
    r.status = DecodeStatus::ok;
}

}  // namespace

const char* to_string(DecodeStatus status) {
    switch (status) {
        case DecodeStatus::ok: return "ok";
        case DecodeStatus::bad_signature: return "bad_signature";
        case DecodeStatus::expired: return "expired";
        case DecodeStatus::malformed: return "malformed";
    }
    return "?";
}

std::string DecodeResult::verified_with() const {
    if (!verified || is_cache_value()) return "";
    if (is_legacy()) return "legacy";
    if (!key_index || *key_index == 0) return "SECRET_KEY";
    return fmt::format("SECRET_KEY_FALLBACKS[{}]", *key_index - 1);
}

const char* DecodeResult::format_name() const {
    switch (format) {
        case PayloadFormat::signed_sha256: return "signed";
        case PayloadFormat::signed_sha1: return "legacy-sha1";
        case PayloadFormat::legacy: return "legacy";
        case PayloadFormat::cache_pickle: return "pickle";
        case PayloadFormat::cache_json: return "json";
        case PayloadFormat::cache_msgpack: return "msgpack";
    }
    return "?";
}

std::string session_key_salt(std::string_view store_class_name) {
    return fmt::format("django.contrib.sessions.{}", store_class_name);
}

SessionCodec::SessionCodec(SecretKeys keys, std::string salt, std::string legacy_class_name,
                           std::size_t max_inflated_bytes)
    : keys_(std::move(keys)),
      salt_(std::move(salt)),
      legacy_salt_("django.contrib.sessions" + legacy_class_name),
      max_inflated_bytes_(max_inflated_bytes),
      signer_(keys_, salt_) {}

std::string SessionCodec::encode(const PyValue& obj, std::int64_t timestamp) const {
    return encode_json(json_dumps(obj), timestamp);
}

std::string SessionCodec::encode_json(std::string_view json_bytes, std::int64_t timestamp) const {
    std::string compressed = zlib_compress(json_bytes);
    // Django keeps the zlib form only when it saves at least two bytes.
    bool use_zlib = compressed.size() + 1 < json_bytes.size();
    std::string payload = use_zlib ? "." + b64url_encode_nopad(compressed) : b64url_encode_nopad(json_bytes);
    return signer_.sign_with_timestamp(payload, timestamp);
}

std::string SessionCodec::encode_legacy(const PyValue& obj) const {
    std::string serialized = json_dumps(obj);
    std::string hash = SaltedHmac(legacy_salt_, keys_.secret_key, HashAlgorithm::sha1).hexdigest(serialized);
    return b64_encode(hash + ":" + serialized);
}

DecodeResult SessionCodec::decode(std::string_view blob, const DecodeOptions& options) const {
    if (blob.size() > options.max_blob_bytes)
        return malformed(
            "size", fmt::format("value is {} bytes, more than the limit of {}", blob.size(), options.max_blob_bytes));
    DecodeResult r = decode_envelope(blob, options);
    bool worth_legacy = r.status == DecodeStatus::bad_signature ||
                        (r.status == DecodeStatus::malformed && r.malformed_part == "envelope");
    if (worth_legacy && options.accept_legacy) {
        if (auto legacy = decode_legacy(blob, options)) {
            if (legacy->ok() || legacy->status == DecodeStatus::malformed || r.status == DecodeStatus::malformed)
                return *legacy;
        }
    }
    return r;
}

DecodeResult SessionCodec::decode_envelope(std::string_view blob, const DecodeOptions& options) const {
    auto sep = blob.rfind(':');
    if (sep == std::string_view::npos) return malformed("envelope", "not a signed value (no ':')");
    std::string_view value = blob.substr(0, sep);
    std::string_view signature = blob.substr(sep + 1);
    DecodeResult r;
    if (options.verify) {
        auto match = signer_.verify(value, signature, /*accept_sha1=*/options.accept_legacy);
        if (!match) return bad_signature("bad signature: no secret key matched (tampered, or signed with another key)");
        r.verified = true;
        r.key_index = match->key_index;
        r.format = match->algorithm == HashAlgorithm::sha1 ? PayloadFormat::signed_sha1 : PayloadFormat::signed_sha256;
    }
    bool verified = r.verified;
    auto key_index = r.key_index;
    auto format = r.format;
    read_signed_value(value, options, options.max_inflated_bytes.value_or(max_inflated_bytes_), r);
    r.verified = verified;
    r.key_index = key_index;
    r.format = format;
    return r;
}

std::optional<DecodeResult> SessionCodec::decode_legacy(std::string_view blob, const DecodeOptions& options) const {
    if (!is_ascii(blob)) return std::nullopt;
    std::string decoded;
    try {
        decoded = b64_decode_lenient(blob);
    } catch (const Base64Error&) {
        return std::nullopt;
    }
    auto sep = decoded.find(':');
    if (sep == std::string::npos) return std::nullopt;
    std::string_view hash = std::string_view(decoded).substr(0, sep);
    std::string_view serialized = std::string_view(decoded).substr(sep + 1);

    DecodeResult r;
    r.format = PayloadFormat::legacy;
    if (options.verify) {
        std::vector<const std::string*> secrets{&keys_.secret_key};
        for (const auto& f : keys_.fallbacks) secrets.push_back(&f);
        for (std::size_t i = 0; i < secrets.size() && !r.key_index; ++i)
            if (constant_time_equals(SaltedHmac(legacy_salt_, *secrets[i], HashAlgorithm::sha1).hexdigest(serialized),
                                     hash))
                r.key_index = i;
        if (!r.key_index) {
            DecodeResult bad =
                bad_signature("bad signature: legacy (pre-3.1) session hash does not match any secret key");
            bad.format = PayloadFormat::legacy;
            return bad;
        }
        r.verified = true;
    }
    try {
        r.data = json_loads_latin1(serialized, options.json);
        r.status = DecodeStatus::ok;
    } catch (const JsonDecodeError& e) {
        r.status = DecodeStatus::malformed;
        r.malformed_part = "json";
        r.error = fmt::format("bad JSON in legacy session: {}", e.what());
    }
    return r;
}

}  // namespace sessionctl
