#!/bin/bash
# Installs what sessionctl needs to build and test, from Debian's packages.
# Runs apt-get only when something is missing (as root, or through sudo).
set -euo pipefail

packages=(
  cmake g++ ninja-build pkg-config binutils  # objdump: the SONAMEs of libraries opened with dlopen
  libfmt-dev nlohmann-json3-dev libssl-dev zlib1g-dev catch2 libcli11-dev
  libsqlite3-dev sqlite3
  python3 python3-django
  libhiredis-dev redis-server python3-redis python3-django-redis
  libmemcached-dev memcached python3-pymemcache
  libpq-dev postgresql python3-psycopg2
)

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
