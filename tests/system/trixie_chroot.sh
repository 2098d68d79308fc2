#!/bin/bash
# trixie_chroot.sh ROOT
#
# Makes ROOT a Debian 13 (trixie) chroot holding Django 6.1 from Debian's
# experimental suite, for the Django 6 integration tests (django6_test.py).
# Django 6.0 and later need Python >= 3.12; Debian 12 has 3.11, trixie 3.13.
#
#   debootstrap --variant=minbase trixie ROOT MIRROR      (python3, asgiref, sqlparse)
#   apt-get install -t experimental python3-django        (6.1.x)
#   apt-get install python3-redis python3-django-redis python3-pymemcache
#                   python3-psycopg2 redis-server memcached  (cache, PostgreSQL suites)
#                   python3-lz4 python3-zstandard python3-msgpack  (django-redis codecs)
#                   python3-pylibmc redis-sentinel  (memcached servers, Sentinel;
#                   no python3-mysqldb: trixie's 1.4.6 is older than Django 6 accepts)
#
# MIRROR is the one this machine's apt uses (debian_mirror.sh); no host name is
# stored here. The mirror may be a dated snapshot, whose Release files have
# expired: apt inside the chroot runs with Acquire::Check-Valid-Until=false (the
# signatures are still checked).
#
# Idempotent and cached: a ROOT completed by an earlier run (marker file
# ROOT/.sessionctl-chroot.ok, holding the Django version) is left as it is, with
# no network used; a half-made one is removed and made again. Needs root
# (debootstrap, chroot). Prints one summary line; on failure a message on stderr
# and exit status 1.
#
# Optional environment: TRIXIE_CHROOT_MIRROR (a mirror URI instead of the
# configured one).
set -euo pipefail

PROG=trixie_chroot
die() { echo "$PROG: error: $*" >&2; exit 1; }

[ $# -eq 1 ] && [ -n "$1" ] || { echo "usage: $0 ROOT" >&2; exit 2; }
ROOT=$1
MARKER="$ROOT/.sessionctl-chroot.ok"
# Bumped when the package list below changes, so that cached roots are remade.
RECIPE=3

if [ -f "$MARKER" ] && [ "$(head -n 1 "$MARKER")" = "recipe $RECIPE" ]; then
    echo "$PROG: already present: $(tail -n 1 "$MARKER") in $ROOT"
    exit 0
fi
[ "$(id -u)" -eq 0 ] || die "making a chroot needs root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

# shellcheck source=debian_mirror.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/debian_mirror.sh"
if [ -n "${TRIXIE_CHROOT_MIRROR:-}" ]; then
    MIRROR=$TRIXIE_CHROOT_MIRROR
else
    line=$(find_mirror) || die "no Debian mirror URI in this machine's apt sources (set TRIXIE_CHROOT_MIRROR)"
    MIRROR=${line%%$'\t'*}
fi
MIRROR=${MIRROR%/}

rm -rf "$ROOT"
mkdir -p "$(dirname -- "$ROOT")"
LOG="$(dirname -- "$ROOT")/$(basename -- "$ROOT").log"
: > "$LOG"
step() {  # step DESCRIPTION COMMAND...: runs COMMAND, its output in $LOG
    local what=$1
    shift
    echo "== $what" >> "$LOG"
    if ! "$@" >> "$LOG" 2>&1; then
        tail -n 15 "$LOG" >&2
        die "$what failed (log: $LOG)"
    fi
}

step "debootstrap trixie" debootstrap --variant=minbase \
    --include=python3,python3-asgiref,python3-sqlparse trixie "$ROOT" "$MIRROR"
echo "deb $MIRROR experimental main" > "$ROOT/etc/apt/sources.list.d/experimental.list"
# No daemon may start inside the chroot (redis-server's postinst would try).
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
apt_in_root=(chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get -q -y
             -o Acquire::Check-Valid-Until=false --no-install-recommends)
step "apt-get update (trixie, experimental)" "${apt_in_root[@]}" update
step "install Django 6 from experimental" "${apt_in_root[@]}" install -t experimental python3-django
step "install the cache and database clients" "${apt_in_root[@]}" install \
    python3-redis python3-django-redis python3-pymemcache python3-psycopg2 redis-server memcached \
    python3-lz4 python3-zstandard python3-msgpack python3-pylibmc redis-sentinel
chroot "$ROOT" apt-get clean

version=$(chroot "$ROOT" /usr/bin/python3 -c 'import django, sys; print(django.get_version(), "on Python", sys.version.split()[0])') ||
    die "Django does not import inside $ROOT"
case "$version" in 6.*) ;; *) die "expected Django 6.x in $ROOT, found $version" ;; esac
printf 'recipe %s\ndjango %s\n' "$RECIPE" "$version" > "$MARKER"
echo "$PROG: made: django $version in $ROOT"
