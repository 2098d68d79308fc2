#pragma once

// liblzma, loaded with dlopen the first time a cache value needs it: only
// sites that set django-redis's COMPRESSOR to lzma use it, so every other run
// (and the .deb's dependencies) stays without it (backends/lazy_library.hpp).
// Only backends/cache/value_compression.cpp (and the shim's test) include this header.

#include <lzma.h>

#include "backends/lazy_library.hpp"

// Every liblzma function sessionctl calls; a new one must be added here.
#define SESSIONCTL_LIBLZMA_FUNCTIONS(X) \
    X(lzma_auto_decoder)                \
    X(lzma_code)                        \
    X(lzma_easy_encoder)                \
    X(lzma_end)

namespace sessionctl {

SESSIONCTL_LAZY_API(LiblzmaApi, SESSIONCTL_LIBLZMA_FUNCTIONS, liblzma, load_liblzma, kLiblzmaSoname);

}  // namespace sessionctl
