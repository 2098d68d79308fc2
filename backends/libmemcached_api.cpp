#include "backends/libmemcached_api.hpp"

#include "backends/lazy_library.hpp"

// Both come from backends/CMakeLists.txt, read off the libmemcached found there.
#ifndef SESSIONCTL_LIBMEMCACHED_SONAME
#error "SESSIONCTL_LIBMEMCACHED_SONAME must be defined by the build (backends/CMakeLists.txt)"
#endif
#ifndef SESSIONCTL_LIBMEMCACHED_PACKAGE
#define SESSIONCTL_LIBMEMCACHED_PACKAGE ""
#endif

namespace sessionctl {

const char* const kLibmemcachedSoname = SESSIONCTL_LIBMEMCACHED_SONAME;

LibmemcachedApi load_libmemcached(const char* soname) {
    LazyLibrary library({"memcached support", soname, SESSIONCTL_LIBMEMCACHED_PACKAGE});
    LibmemcachedApi api;
#define SESSIONCTL_LIBMEMCACHED_BIND(name) library.bind(api.name, #name);
    SESSIONCTL_LIBMEMCACHED_FUNCTIONS(SESSIONCTL_LIBMEMCACHED_BIND)
#undef SESSIONCTL_LIBMEMCACHED_BIND
    library.release();
    return api;
}

const LibmemcachedApi& libmemcached() {
    // A throwing initialiser leaves the static uninitialised: the next call
    // retries instead of using a half-filled table.
    static const LibmemcachedApi api = load_libmemcached(kLibmemcachedSoname);
    return api;
}

}  // namespace sessionctl
