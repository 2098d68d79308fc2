#pragma once

// libmemcached, loaded with dlopen the first time a memcached cache is used
// (it pulls in libsasl2 and friends; linking it slowed every run's start-up,
// issue 6). See backends/libpq_api.hpp for the scheme: libmemcached's header
// gives the types, each pointer has the exact type of its function.
//
// Only backends/memcached_client.cpp (and the shim's test) include this header.

#include <libmemcached/memcached.h>

// Every libmemcached function sessionctl calls; a new one must be added here.
#define SESSIONCTL_LIBMEMCACHED_FUNCTIONS(X) \
    X(memcached_add)                         \
    X(memcached_behavior_set)                \
    X(memcached_cas)                         \
    X(memcached_create)                      \
    X(memcached_delete)                      \
    X(memcached_fetch_result)                \
    X(memcached_free)                        \
    X(memcached_get)                         \
    X(memcached_last_error_errno)            \
    X(memcached_mget)                        \
    X(memcached_result_cas)                  \
    X(memcached_result_create)               \
    X(memcached_result_flags)                \
    X(memcached_result_free)                 \
    X(memcached_result_key_length)           \
    X(memcached_result_key_value)            \
    X(memcached_result_length)               \
    X(memcached_result_value)                \
    X(memcached_server_add)                  \
    X(memcached_server_add_unix_socket)      \
    X(memcached_set)                         \
    X(memcached_strerror)

namespace sessionctl {

struct LibmemcachedApi {
#define SESSIONCTL_LIBMEMCACHED_MEMBER(name) decltype(&::name) name = nullptr;
    SESSIONCTL_LIBMEMCACHED_FUNCTIONS(SESSIONCTL_LIBMEMCACHED_MEMBER)
#undef SESSIONCTL_LIBMEMCACHED_MEMBER
};

// The SONAME of the libmemcached sessionctl was built against (read from the
// library at configure time).
extern const char* const kLibmemcachedSoname;

// The process-wide table, loaded once (thread-safe) on first use; throws
// StoreUnavailable with one line naming what to install if the library or a
// function is missing (the next call tries again).
const LibmemcachedApi& libmemcached();

// The same from `soname`, not cached: for tests of the missing-library path.
LibmemcachedApi load_libmemcached(const char* soname);

}  // namespace sessionctl
