#include "backends/cache/liblz4_api.hpp"

// Both come from sessionctl_lazy_library() (cmake/LazyLibrary.cmake).
#ifndef SESSIONCTL_LIBLZ4_SONAME
#error "SESSIONCTL_LIBLZ4_SONAME must be defined by the build (cmake/LazyLibrary.cmake)"
#endif
#ifndef SESSIONCTL_LIBLZ4_PACKAGE
#define SESSIONCTL_LIBLZ4_PACKAGE ""
#endif

namespace sessionctl {

SESSIONCTL_LAZY_API_DEFINE(Liblz4Api, liblz4, load_liblz4, kLiblz4Soname, "django-redis's Lz4Compressor",
                           SESSIONCTL_LIBLZ4_SONAME, SESSIONCTL_LIBLZ4_PACKAGE)

}  // namespace sessionctl
