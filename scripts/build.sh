#!/bin/bash
# Configures and builds into ./build (or $BUILD_DIR).
set -euo pipefail
top=$(cd -- "$(dirname -- "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build "$build"
