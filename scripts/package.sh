#!/bin/bash
# Builds the Debian package sessionctl_<version>_<arch>.deb from this checkout
# through CPack, in a build directory of its own (./build-package, or
# $PACKAGE_BUILD_DIR; made afresh each run), and prints the .deb's path as the
# last line of its output. Install it with: apt install ./build-package/sessionctl_*.deb
#
# The package holds the binary (Release, stripped), the man page (scdoc), the
# bash/zsh/fish completions and examples (cmake/Packaging.cmake); Depends is
# computed by dpkg-shlibdeps, libpq5 and libmemcached11 are Recommends (opened
# only when a PostgreSQL database or a memcached cache is used).
set -euo pipefail
top=$(cd -- "$(dirname -- "$0")/.." && pwd)
build=${PACKAGE_BUILD_DIR:-$top/build-package}

"$top/scripts/deps.sh" --package
rm -rf "$build"
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
      -DSESSIONCTL_MANPAGE=ON -DSESSIONCTL_MANPAGE_GZIP=ON -DCMAKE_INSTALL_PREFIX=/usr >&2
cmake --build "$build" --target sessionctl manpage >&2
# cpack builds the remaining default targets (none), installs into a staging
# tree, runs dpkg-shlibdeps and writes the .deb next to the build.
(cd "$build" && cpack -G DEB) >&2

debs=("$build"/sessionctl_*_"$(dpkg --print-architecture)".deb)
if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then
  echo "package.sh: expected one sessionctl_<version>_<arch>.deb in $build, found: ${debs[*]}" >&2
  exit 1
fi
deb=${debs[0]}
dpkg-deb -I "$deb" >&2
echo "$deb"
