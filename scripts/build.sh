#!/bin/bash
# Configures and builds into ./build (or $BUILD_DIR).
set -euo pipefail
top=$(cd -- "$(dirname -- "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
# BUILD_TESTING=ON: scripts/demo.sh may have turned the tests off in the same
# build directory.
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" -DBUILD_TESTING=ON >/dev/null
cmake --build "$build"
