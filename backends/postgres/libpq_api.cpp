#include "backends/postgres/libpq_api.hpp"

// Both come from sessionctl_lazy_library() (cmake/LazyLibrary.cmake), read off
// the libpq found at configure time.
#ifndef SESSIONCTL_LIBPQ_SONAME
#error "SESSIONCTL_LIBPQ_SONAME must be defined by the build (cmake/LazyLibrary.cmake)"
#endif
#ifndef SESSIONCTL_LIBPQ_PACKAGE
#define SESSIONCTL_LIBPQ_PACKAGE ""
#endif

namespace sessionctl {

SESSIONCTL_LAZY_API_DEFINE(LibpqApi, pq, load_libpq, kLibpqSoname, "PostgreSQL support", SESSIONCTL_LIBPQ_SONAME,
                           SESSIONCTL_LIBPQ_PACKAGE)

}  // namespace sessionctl
