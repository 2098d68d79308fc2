// Fuzz target: a raw blob (session_data, a session file, a cookie) into
// SessionCodec::decode, as the session salt and as the signed_cookies salt,
// verified and with --no-verify. decode() documents no exception: whatever the
// bytes, it returns a DecodeResult, so nothing is caught here.
//
// Invariants: a malformed result names its part; an ok result is verified by a
// known key (when verifying) and re-encodes to a value that decodes to the same
// data; no error message contains a secret.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/json_codec.hpp"
#include "core/session_codec.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace sessionctl;

bool known_part(const std::string& part) {
    for (const char* p : {"envelope", "timestamp", "base64", "zlib", "json", "size"})
        if (part == p) return true;
    return false;
}

void check_result(const SessionCodec& codec, const DecodeResult& r, const DecodeOptions& options) {
    FUZZ_CHECK(r.error.find(fuzz::kSecret) == std::string::npos);
    FUZZ_CHECK(r.error.find(fuzz::kFallback) == std::string::npos);
    switch (r.status) {
        case DecodeStatus::ok:
            FUZZ_CHECK(r.error.empty());
            if (options.verify) {
                FUZZ_CHECK(r.verified);
                FUZZ_CHECK(r.key_index.has_value() && *r.key_index <= 1);
            } else {
                FUZZ_CHECK(!r.verified);
            }
            {
                // What we decoded, we can write back, and it reads the same.
                std::string again = codec.encode(r.data, r.timestamp.value_or(1700000000));
                DecodeResult back = codec.decode(again);
                FUZZ_CHECK(back.ok());
                FUZZ_CHECK(back.data == r.data);
            }
            break;
        case DecodeStatus::malformed:
            FUZZ_CHECK(known_part(r.malformed_part));
            FUZZ_CHECK(!r.error.empty());
            break;
        case DecodeStatus::bad_signature:
            FUZZ_CHECK(options.verify);
            FUZZ_CHECK(!r.verified);
            FUZZ_CHECK(!r.error.empty());
            break;
        case DecodeStatus::expired:
            FUZZ_CHECK(options.max_age.has_value());
            FUZZ_CHECK(!r.error.empty());
            break;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const SessionCodec session(fuzz::fixed_keys(), session_key_salt("SessionStore"));
    static const SessionCodec cookies(fuzz::fixed_keys(), std::string(kSignedCookiesSalt));
    const std::string_view blob(reinterpret_cast<const char*>(data), size);

    DecodeOptions verify;
    check_result(session, session.decode(blob, verify), verify);

    DecodeOptions no_verify;
    no_verify.verify = false;
    check_result(session, session.decode(blob, no_verify), no_verify);

    DecodeOptions cookie;
    cookie.max_age = 1209600;
    cookie.now = 1700000000.0;
    check_result(cookies, cookies.decode(blob, cookie), cookie);
    return 0;
}
