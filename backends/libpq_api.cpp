#include "backends/libpq_api.hpp"

#include "backends/lazy_library.hpp"

// Both come from backends/CMakeLists.txt, read off the libpq found there.
#ifndef SESSIONCTL_LIBPQ_SONAME
#error "SESSIONCTL_LIBPQ_SONAME must be defined by the build (backends/CMakeLists.txt)"
#endif
#ifndef SESSIONCTL_LIBPQ_PACKAGE
#define SESSIONCTL_LIBPQ_PACKAGE ""
#endif

namespace sessionctl {

const char* const kLibpqSoname = SESSIONCTL_LIBPQ_SONAME;

LibpqApi load_libpq(const char* soname) {
    LazyLibrary library({"PostgreSQL support", soname, SESSIONCTL_LIBPQ_PACKAGE});
    LibpqApi api;
#define SESSIONCTL_LIBPQ_BIND(name) library.bind(api.name, #name);
    SESSIONCTL_LIBPQ_FUNCTIONS(SESSIONCTL_LIBPQ_BIND)
#undef SESSIONCTL_LIBPQ_BIND
    library.release();
    return api;
}

const LibpqApi& pq() {
    // A throwing initialiser leaves the static uninitialised: the next call
    // retries (and reports again) instead of using a half-filled table.
    static const LibpqApi api = load_libpq(kLibpqSoname);
    return api;
}

}  // namespace sessionctl
