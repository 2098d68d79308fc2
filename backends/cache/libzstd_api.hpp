#pragma once

// libzstd, loaded with dlopen the first time a cache value needs it: only
// sites that set django-redis's COMPRESSOR to zstd use it, so every other run
// (and the .deb's dependencies) stays without it (backends/lazy_library.hpp).
// Only backends/cache/value_compression.cpp (and the shim's test) include this header.

#include <zstd.h>

#include "backends/lazy_library.hpp"

// Every libzstd function sessionctl calls; a new one must be added here.
#define SESSIONCTL_LIBZSTD_FUNCTIONS(X) \
    X(ZSTD_compress)                    \
    X(ZSTD_compressBound)               \
    X(ZSTD_createDStream)               \
    X(ZSTD_DStreamOutSize)              \
    X(ZSTD_decompressStream)            \
    X(ZSTD_freeDStream)                 \
    X(ZSTD_getErrorName)                \
    X(ZSTD_initDStream)                 \
    X(ZSTD_isError)

namespace sessionctl {

SESSIONCTL_LAZY_API(LibzstdApi, SESSIONCTL_LIBZSTD_FUNCTIONS, libzstd, load_libzstd, kLibzstdSoname);

}  // namespace sessionctl
