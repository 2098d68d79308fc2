#!/bin/bash
# The main job on the embedded default: builds sessionctl, makes a demo Django
# session table (db.sqlite3 in ./demo) holding live and expired sessions, then
# lists them and clears the expired ones, exactly as cron would.
# It installs and builds only what the binary needs (no test tools, servers or
# test binaries): scripts/test.sh installs and builds the rest.
set -euo pipefail
top=$(cd -- "$(dirname -- "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
"$top/scripts/deps.sh" --binary-only
# A new build directory is configured as Release (no debug info: a quarter less
# compile time); an existing one keeps its type unless BUILD_TYPE is given.
type=()
if [ -n "${BUILD_TYPE:-}" ] || [ ! -f "$build/CMakeCache.txt" ]; then
  type=(-DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}")
fi
echo "== building sessionctl (the first time takes a few minutes)" >&2
cmake -S "$top" -B "$build" -G Ninja "${type[@]}" -DBUILD_TESTING=OFF >/dev/null
if ! cmake --build "$build" --target sessionctl > "$build/demo-build.log" 2>&1; then
  cat "$build/demo-build.log" >&2
  exit 1
fi
sessionctl="$build/cli/sessionctl"

demo="$top/demo"
mkdir -p "$demo"
cd "$demo"
rm -f db.sqlite3
# Django's own schema for django_session (what `manage.py migrate` creates).
sqlite3 db.sqlite3 <<'SQL'
CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL);
CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date");
SQL
# No config file: Django's defaults apply (db engine on ./db.sqlite3); the secret
# comes from the environment, never from the command line.
export SESSIONCTL_SECRET_KEY="demo-secret-key-not-for-production"

echo "== create: a logged-in user, a shopping cart, and two stale sessions"
"$sessionctl" create --user 42 --password-hash 'pbkdf2_sha256$600000$demo$hash=' >/dev/null
"$sessionctl" create --data '{"cart": [3, 14], "currency": "EUR"}' >/dev/null
"$sessionctl" create --user 7 --password-hash 'pbkdf2_sha256$600000$demo$old=' --expiry -3600 >/dev/null
"$sessionctl" create --data '{"visited": "/pricing"}' --expiry -60 >/dev/null
echo "== sessionctl inspect --all"
"$sessionctl" inspect --all
echo "== sessionctl clearsessions -v"
"$sessionctl" -v clearsessions
echo "== sessionctl inspect --all --keys-only (what is left)"
"$sessionctl" inspect --all --keys-only
