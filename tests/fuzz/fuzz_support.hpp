#pragma once

// Shared by the fuzz targets: the fixed secret (the one Django's vectors were
// made with, so the seed corpus verifies) and a check that stops the process
// the way libFuzzer and the replay driver both notice.

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/secret_keys.hpp"

namespace sessionctl::fuzz {

inline constexpr std::string_view kSecret = "vector-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG";
// Signs the fallback vectors of Django 6.1 (decode.json), so seeds reach key_index 1.
inline constexpr std::string_view kFallback = "old-secret-key-used-for-fallback-tests-0123456789abcdefghijkl";

inline SecretKeys fixed_keys() {
    SecretKeys keys;
    keys.secret_key = std::string(kSecret);
    keys.fallbacks.push_back(std::string(kFallback));
    return keys;
}

// An invariant the target asserts was broken: say which, then abort (a crash
// to libFuzzer, a failed input to replay_main).
[[noreturn]] inline void invariant_failed(const char* file, int line, const char* what) {
    std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", file, line, what);
    std::fflush(stderr);
    std::abort();
}

}  // namespace sessionctl::fuzz

#define FUZZ_CHECK(cond) ((cond) ? (void)0 : ::sessionctl::fuzz::invariant_failed(__FILE__, __LINE__, #cond))
