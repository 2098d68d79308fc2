#!/bin/bash
# The whole test suite: installs packages, builds, then runs every test through
# ctest (unit, vectors, store contract, CLI, and real Django 3.2/4.2/5.2), and
# prints what was proven: vector cases checked and Django round trips.
set -uo pipefail
top=$(cd -- "$(dirname -- "$0")/.." && pwd)
"$top/scripts/deps.sh" || exit 1
"$top/scripts/build.sh" || exit 1
build=${BUILD_DIR:-$top/build}
# Redis, memcached and PostgreSQL on loopback ports of their own (stopped at exit).
servers=$("$top/scripts/servers.sh" start) || exit 1
eval "$servers"
trap '"$top/scripts/servers.sh" stop' EXIT
cd "$build" || exit 1
ctest --output-on-failure --timeout 1800 "$@" | tee ctest.out
status=${PIPESTATUS[0]}

echo
echo "== what the tests proved"
grep -h -E '^(vectors: [0-9]|roundtrip: |completions: |[0-9]+ passed, [0-9]+ failed)' Testing/Temporary/LastTest.log || true
summary=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' ctest.out | tail -n 1)
if [[ $summary =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
  failed=${BASH_REMATCH[1]} total=${BASH_REMATCH[2]}
  echo "ctest: $((total - failed)) passed, $failed failed"
fi
exit "$status"
