// Fuzz target: the pre-3.1 legacy session format, base64("hexhmac:" + json),
// with a correct HMAC-SHA1 over the fuzzed JSON bytes, so that mutations reach
// the legacy path's JSON reader. decode() documents no exception.
//
// Invariant: the result is exactly json_loads_latin1(bytes): ok with the same
// value, or malformed in "json" when (and only when) that throws.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/base64.hpp"
#include "core/json_codec.hpp"
#include "core/salted_hmac.hpp"
#include "core/session_codec.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sessionctl;
    static const SessionCodec codec(fuzz::fixed_keys(), session_key_salt("SessionStore"));
    // The legacy hash's salt: "django.contrib.sessions" + the store's class name.
    static const SaltedHmac legacy_hmac("django.contrib.sessionsSessionStore", fuzz::kSecret, HashAlgorithm::sha1);
    const std::string_view json(reinterpret_cast<const char*>(data), size);

    const std::string blob = b64_encode(legacy_hmac.hexdigest(json) + ":" + std::string(json));
    const DecodeResult r = codec.decode(blob);

    FUZZ_CHECK(r.format == PayloadFormat::legacy);
    FUZZ_CHECK(r.verified);
    FUZZ_CHECK(r.key_index == std::optional<std::size_t>(0));
    FUZZ_CHECK(r.error.find(fuzz::kSecret) == std::string::npos);
    std::optional<PyValue> expected;
    try {
        expected = json_loads_latin1(json);
    } catch (const JsonDecodeError&) {
    }
    if (expected) {
        FUZZ_CHECK(r.ok());
        FUZZ_CHECK(r.data == *expected);
    } else {
        FUZZ_CHECK(r.status == DecodeStatus::malformed);
        FUZZ_CHECK(r.malformed_part == "json");
    }

    // Tampering with the JSON (one byte flipped) must break the signature.
    if (size > 0) {
        std::string tampered(json);
        tampered[size / 2] = static_cast<char>(tampered[size / 2] ^ 0x01);
        const DecodeResult t = codec.decode(b64_encode(legacy_hmac.hexdigest(json) + ":" + tampered));
        FUZZ_CHECK(t.status == DecodeStatus::bad_signature);
    }
    return 0;
}
