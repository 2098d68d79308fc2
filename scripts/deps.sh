#!/bin/bash
# Installs, from Debian's packages, what sessionctl needs:
#   scripts/deps.sh                everything to build and test (scripts/test.sh, CI)
#   scripts/deps.sh --binary-only  only what building the sessionctl binary needs
#                                  (scripts/demo.sh: no servers, Django or test tools)
#   scripts/deps.sh --package      the binary's plus the packaging tools (scripts/package.sh)
# Runs apt-get only when something is missing (as root, or through sudo).
set -euo pipefail

# Building the binary: CMake configures every engine, so the -dev packages of
# hiredis, libpq and libmemcached are needed even though libpq and libmemcached
# are only opened (dlopen) when used; likewise liblz4, libzstd and liblzma
# (django-redis's compressors, dlopen'ed) and msgpack-c (headers only: its
# packer). sqlite3: the demo makes its table with it.
binary=(
  cmake g++ ninja-build pkg-config binutils  # objdump: the SONAMEs of libraries opened with dlopen
  libfmt-dev nlohmann-json3-dev libssl-dev zlib1g-dev libcli11-dev
  libsqlite3-dev sqlite3
  libhiredis-dev libpq-dev libmemcached-dev
  liblz4-dev libzstd-dev liblzma-dev libmsgpack-dev
)
# The man page (scdoc) and the .deb (CPack's DEB generator runs file and dpkg-shlibdeps).
packaging=(scdoc file dpkg-dev)
# The tests: Catch2, real Django and the servers the store tests run against.
testing=(
  catch2
  python3 python3-django
  redis-server redis-sentinel python3-redis python3-django-redis openssl
  python3-lz4 python3-zstandard python3-msgpack  # django-redis's compressors and serializers
  memcached python3-pymemcache python3-pylibmc
  postgresql python3-psycopg2
  debootstrap  # the Debian 13 chroot that runs Django 6.1 (tests/system/trixie_chroot.sh)
)

case "${1:-}" in
  --binary-only) packages=("${binary[@]}") ;;
  --package) packages=("${binary[@]}" "${packaging[@]}") ;;
  "") packages=("${binary[@]}" "${packaging[@]}" "${testing[@]}") ;;
  *) echo "usage: $0 [--binary-only | --package]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
echo "installing: ${missing[*]}" >&2
"${sudo[@]}" apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
