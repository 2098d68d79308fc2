#pragma once

// Test servers (Redis, memcached, PostgreSQL): the shared ones that
// scripts/servers.sh starts, named by environment variables, and the
// installed server binaries that fault tests start privately. Without them
// a test is skipped with a note saying how to get them, except under
// SESSIONCTL_REQUIRE_SERVERS=1 (CI), where it fails.

#include <cstdlib>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

namespace sessionctl::testing {

inline bool servers_required() {
    const char* required = std::getenv("SESSIONCTL_REQUIRE_SERVERS");
    return required != nullptr && std::string(required) == "1";
}

// Skips the calling test with `why`, or fails it where servers are required.
#define SESSIONCTL_SKIP_OR_FAIL(why)                              \
    do {                                                          \
        if (::sessionctl::testing::servers_required()) FAIL(why); \
        WARN("SKIPPED: " << why);                                 \
    } while (false)

// The shared server named by `var` (a URL or host:port), or nullopt after the
// skip note. `what` names it in the failure ("Redis").
inline std::optional<std::string> shared_server(const char* var, const char* what) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') return std::string(v);
    if (servers_required())
        FAIL(var << " is not set, but SESSIONCTL_REQUIRE_SERVERS=1 requires a " << what << " server");
    WARN("SKIPPED on " << what << ": " << var << " is not set (eval \"$(scripts/servers.sh start)\" to run this test)");
    return std::nullopt;
}

}  // namespace sessionctl::testing
