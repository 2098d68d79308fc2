#pragma once

// liblz4, loaded with dlopen the first time a cache value needs it: only
// sites that set django-redis's COMPRESSOR to lz4 use it, so every other run
// (and the .deb's dependencies) stays without it (backends/lazy_library.hpp).
// Only backends/cache/value_compression.cpp (and the shim's test) include this header.

#include <lz4frame.h>

#include "backends/lazy_library.hpp"

// Every liblz4 function sessionctl calls; a new one must be added here.
#define SESSIONCTL_LIBLZ4_FUNCTIONS(X) \
    X(LZ4F_compressFrame)              \
    X(LZ4F_compressFrameBound)         \
    X(LZ4F_createDecompressionContext) \
    X(LZ4F_decompress)                 \
    X(LZ4F_freeDecompressionContext)   \
    X(LZ4F_getErrorName)               \
    X(LZ4F_isError)

namespace sessionctl {

SESSIONCTL_LAZY_API(Liblz4Api, SESSIONCTL_LIBLZ4_FUNCTIONS, liblz4, load_liblz4, kLiblz4Soname);

}  // namespace sessionctl
