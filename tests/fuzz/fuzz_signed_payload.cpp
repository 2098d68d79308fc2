// Fuzz target: the fuzzed bytes signed with the fixed key, so that mutations
// get past the signature check and reach the timestamp, base64, zlib and JSON
// readers. Five envelopes per input, all with a valid signature:
//
//   b64(bytes):ts:sig              the bytes are the JSON payload
//   .b64(zlib(bytes)):ts:sig       the same, compressed as Django does
//   .b64(bytes):ts:sig             the bytes are a zlib stream
//   bytes:ts:sig                   the bytes are the payload text (base64 reader)
//   bytes:sig                      the bytes are "payload:timestamp"
//
// decode() documents no exception, so nothing is caught. For the first two the
// result must be exactly json_loads_latin1(bytes): ok with the same value, or
// malformed in "json" when (and only when) that throws JsonDecodeError.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/base64.hpp"
#include "core/json_codec.hpp"
#include "core/session_codec.hpp"
#include "core/signer.hpp"
#include "core/zlib_codec.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace sessionctl;

constexpr std::int64_t kTimestamp = 1700000000;

void check_common(const DecodeResult& r) {
    FUZZ_CHECK(r.error.find(fuzz::kSecret) == std::string::npos);
    // Signed with the right key: never a bad signature, never expired (no max_age).
    FUZZ_CHECK(r.status == DecodeStatus::ok || r.status == DecodeStatus::malformed);
    FUZZ_CHECK(r.verified);
    FUZZ_CHECK(r.key_index == std::optional<std::size_t>(0));
    if (r.status == DecodeStatus::malformed) FUZZ_CHECK(!r.malformed_part.empty() && !r.error.empty());
}

// The payload is exactly these JSON bytes: decode must agree with json_loads_latin1.
void check_json_payload(const DecodeResult& r, std::string_view json, bool compressed) {
    check_common(r);
    FUZZ_CHECK(r.compressed == compressed);
    FUZZ_CHECK(r.timestamp == std::optional<std::int64_t>(kTimestamp));
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
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const SecretKeys keys = fuzz::fixed_keys();
    static const std::string salt = session_key_salt("SessionStore");
    static const SessionCodec codec(keys, salt);
    static const Signer signer(keys, salt);
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);

    check_json_payload(codec.decode(signer.sign_with_timestamp(b64url_encode_nopad(bytes), kTimestamp)), bytes, false);
    check_json_payload(
        codec.decode(signer.sign_with_timestamp("." + b64url_encode_nopad(zlib_compress(bytes)), kTimestamp)), bytes,
        true);

    // Arbitrary bytes as a zlib stream: ok, or malformed in zlib or json.
    {
        DecodeResult r = codec.decode(signer.sign_with_timestamp("." + b64url_encode_nopad(bytes), kTimestamp));
        check_common(r);
        FUZZ_CHECK(r.compressed);
        FUZZ_CHECK(r.ok() || r.malformed_part == "zlib" || r.malformed_part == "json");
    }
    // Arbitrary bytes as the payload text, and as "payload:timestamp". A ':'
    // in the bytes moves the separators, so only the common checks apply.
    check_common(codec.decode(signer.sign_with_timestamp(bytes, kTimestamp)));
    check_common(codec.decode(signer.sign(bytes)));
    return 0;
}
