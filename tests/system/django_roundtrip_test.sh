#!/bin/bash
# django_roundtrip_test.sh VERSION CACHE_DIR TOOL COUNT
# Runs django_roundtrip.py against Django VERSION (3.2 system, 4.2/5.2 from CACHE_DIR).
set -euo pipefail
here=$(cd -- "$(dirname -- "$0")" && pwd)
version=$1 cache=$2 tool=$3 count=$4
path=$("$here/django_env.sh" "$version" "$cache")
args=(--tool "$tool" --count "$count")
[ -n "$path" ] && args+=(--django-path "$path")
[ -n "${ROUNDTRIP_SEED:-}" ] && args+=(--seed "$ROUNDTRIP_SEED")
exec /usr/bin/python3 "$here/django_roundtrip.py" "${args[@]}"
