#include "backends/cache/liblzma_api.hpp"

// Both come from sessionctl_lazy_library() (cmake/LazyLibrary.cmake).
#ifndef SESSIONCTL_LIBLZMA_SONAME
#error "SESSIONCTL_LIBLZMA_SONAME must be defined by the build (cmake/LazyLibrary.cmake)"
#endif
#ifndef SESSIONCTL_LIBLZMA_PACKAGE
#define SESSIONCTL_LIBLZMA_PACKAGE ""
#endif

namespace sessionctl {

SESSIONCTL_LAZY_API_DEFINE(LiblzmaApi, liblzma, load_liblzma, kLiblzmaSoname, "django-redis's LzmaCompressor",
                           SESSIONCTL_LIBLZMA_SONAME, SESSIONCTL_LIBLZMA_PACKAGE)

}  // namespace sessionctl
