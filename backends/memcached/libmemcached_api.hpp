#pragma once

// libmemcached, loaded with dlopen the first time a memcached cache is used
// (it pulls in libsasl2 and friends; linking it slowed every run's start-up,
// issue 6). See backends/postgres/libpq_api.hpp for the scheme: libmemcached's
// header gives the types, each pointer has the exact type of its function.
//
// Only backends/memcached/memcached_client.cpp (and the shim's test) include this header.

#include <libmemcached/memcached.h>

#include "backends/lazy_library.hpp"

// Every libmemcached function sessionctl calls; a new one must be added here.
#define SESSIONCTL_LIBMEMCACHED_FUNCTIONS(X)        \
    X(memcached_add)                                \
    X(memcached_behavior_set)                       \
    X(memcached_cas)                                \
    X(memcached_create)                             \
    X(memcached_delete)                             \
    X(memcached_fetch_result)                       \
    X(memcached_free)                               \
    X(memcached_get)                                \
    X(memcached_last_error_errno)                   \
    X(memcached_mget)                               \
    X(memcached_result_cas)                         \
    X(memcached_result_create)                      \
    X(memcached_result_flags)                       \
    X(memcached_result_free)                        \
    X(memcached_result_key_length)                  \
    X(memcached_result_key_value)                   \
    X(memcached_result_length)                      \
    X(memcached_result_value)                       \
    X(memcached_server_add)                         \
    X(memcached_server_add_unix_socket)             \
    X(memcached_server_add_unix_socket_with_weight) \
    X(memcached_server_add_with_weight)             \
    X(memcached_server_by_key)                      \
    X(memcached_server_name)                        \
    X(memcached_server_port)                        \
    X(memcached_set)                                \
    X(memcached_strerror)

namespace sessionctl {

// struct LibmemcachedApi, kLibmemcachedSoname, libmemcached() (the
// process-wide table) and load_libmemcached(soname) (for tests).
SESSIONCTL_LAZY_API(LibmemcachedApi, SESSIONCTL_LIBMEMCACHED_FUNCTIONS, libmemcached, load_libmemcached,
                    kLibmemcachedSoname);

}  // namespace sessionctl
