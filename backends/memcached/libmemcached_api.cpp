#include "backends/memcached/libmemcached_api.hpp"

// Both come from sessionctl_lazy_library() (cmake/LazyLibrary.cmake), read off
// the libmemcached found at configure time.
#ifndef SESSIONCTL_LIBMEMCACHED_SONAME
#error "SESSIONCTL_LIBMEMCACHED_SONAME must be defined by the build (cmake/LazyLibrary.cmake)"
#endif
#ifndef SESSIONCTL_LIBMEMCACHED_PACKAGE
#define SESSIONCTL_LIBMEMCACHED_PACKAGE ""
#endif

namespace sessionctl {

SESSIONCTL_LAZY_API_DEFINE(LibmemcachedApi, libmemcached, load_libmemcached, kLibmemcachedSoname, "memcached support",
                           SESSIONCTL_LIBMEMCACHED_SONAME, SESSIONCTL_LIBMEMCACHED_PACKAGE)

}  // namespace sessionctl
