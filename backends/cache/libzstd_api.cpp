#include "backends/cache/libzstd_api.hpp"

// Both come from sessionctl_lazy_library() (cmake/LazyLibrary.cmake).
#ifndef SESSIONCTL_LIBZSTD_SONAME
#error "SESSIONCTL_LIBZSTD_SONAME must be defined by the build (cmake/LazyLibrary.cmake)"
#endif
#ifndef SESSIONCTL_LIBZSTD_PACKAGE
#define SESSIONCTL_LIBZSTD_PACKAGE ""
#endif

namespace sessionctl {

SESSIONCTL_LAZY_API_DEFINE(LibzstdApi, libzstd, load_libzstd, kLibzstdSoname, "django-redis's ZStdCompressor",
                           SESSIONCTL_LIBZSTD_SONAME, SESSIONCTL_LIBZSTD_PACKAGE)

}  // namespace sessionctl
