#!/bin/bash
# fetch_django.sh CACHE_DIR
#
# Download Django 4.2 (Debian trixie python3-django) and Django 5.2 (Debian sid
# python3-django, plus python3-asgiref >= 3.8) as .deb files with apt, using a
# PRIVATE apt configuration (own sources list, lists, cache and status file), and
# unpack them with `dpkg -x` into
#
#     CACHE_DIR/django-4.2/usr/lib/python3/dist-packages   (django 4.2)
#     CACHE_DIR/django-5.2/usr/lib/python3/dist-packages   (django 5.2 + asgiref)
#
# Nothing on the system is changed: no sources, no /var/lib/apt, no installs, and
# the host's apt update hooks are cleared for our runs.
# The mirror URI is read from this machine's own apt configuration (or from
# $FETCH_DJANGO_MIRROR); no host name is stored in this script.
#
# Idempotent: a version whose folder is already complete is skipped (and no network
# is used when both are). Prints one summary line on success; on failure prints a
# message to stderr and exits non-zero.
#
# Optional environment:
#   FETCH_DJANGO_MIRROR      mirror URI to use instead of the configured one
#   FETCH_DJANGO_KEYRING     keyring for signed-by (default: debian-archive-keyring)
#   FETCH_DJANGO_42_SUITE    suite for Django 4.2 (default trixie)
#   FETCH_DJANGO_52_SUITE    suite for Django 5.2 (default sid)
#   FETCH_DJANGO_ASGIREF_SUITES  suites searched in order for asgiref (default "trixie sid")
#   FETCH_DJANGO_42_VERSION / FETCH_DJANGO_52_VERSION / FETCH_DJANGO_ASGIREF_VERSION
#                            exact Debian versions to use instead of asking apt-cache
set -euo pipefail

PROG=fetch_django
PY=/usr/bin/python3

die() { echo "$PROG: error: $*" >&2; exit 1; }

if [ $# -ne 1 ] || [ -z "${1:-}" ]; then
    echo "usage: $0 CACHE_DIR" >&2
    exit 2
fi

command -v apt-get >/dev/null 2>&1 || die "apt-get not found (this script needs a Debian/Ubuntu apt)"
command -v dpkg >/dev/null 2>&1 || die "dpkg not found"
[ -x "$PY" ] || die "$PY not found"

mkdir -p -- "$1" || die "cannot create cache folder '$1'"
CACHE=$(cd -- "$1" && pwd -P) || die "cannot enter cache folder '$1'"

SUITE42=${FETCH_DJANGO_42_SUITE:-trixie}
SUITE52=${FETCH_DJANGO_52_SUITE:-sid}
ASGIREF_SUITES=${FETCH_DJANGO_ASGIREF_SUITES:-trixie sid}
ASGIREF_MIN=3.8

SITE=usr/lib/python3/dist-packages
MARKER=.fetch_django.ok

# ---------------------------------------------------------------- verification
# verify_tree DIR MAJOR_MINOR [ASGIREF_MIN]: import django from DIR, check its
# version, run django.setup() with minimal settings and a session encode/decode.
verify_tree() {
    local dir=$1 want=$2 asg=${3:-}
    PYTHONPATH="$dir/$SITE" PYTHONDONTWRITEBYTECODE=1 "$PY" - "$dir/$SITE" "$want" "$asg" <<'EOF'
import os, sys
site, want, asg_min = sys.argv[1], sys.argv[2], sys.argv[3]
import django
if not os.path.realpath(django.__file__).startswith(os.path.realpath(site) + os.sep):
    sys.exit("django imported from %s, not from %s" % (django.__file__, site))
v = django.get_version()
if not (v == want or v.startswith(want + ".")):
    sys.exit("django version %s, expected %s.x" % (v, want))
if asg_min:
    import asgiref
    have = tuple(int(x) for x in asgiref.__version__.split(".")[:2])
    need = tuple(int(x) for x in asg_min.split("."))
    if have < need:
        sys.exit("asgiref %s from %s, need >= %s" % (asgiref.__version__, asgiref.__file__, asg_min))
from django.conf import settings
settings.configure(SECRET_KEY="fetch-django-check", INSTALLED_APPS=["django.contrib.sessions"],
                   USE_TZ=True, DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
django.setup()
from django.contrib.sessions.backends.db import SessionStore
s = SessionStore()
if s.decode(s.encode({"k": "v"})) != {"k": "v"}:
    sys.exit("session encode/decode self-check failed")
print(v)
EOF
}

tree_ok() {   # tree_ok DIR: unpacked and verified by an earlier run
    [ -f "$1/$MARKER" ] && [ -f "$1/$SITE/django/__init__.py" ]
}

D42="$CACHE/django-4.2"
D52="$CACHE/django-5.2"
need42=1; need52=1
tree_ok "$D42" && need42=0
tree_ok "$D52" && need52=0

if [ $need42 = 0 ] && [ $need52 = 0 ]; then
    echo "$PROG: already present: $(cat "$D42/$MARKER"); $(cat "$D52/$MARKER") in $CACHE"
    exit 0
fi

# ---------------------------------------------------------------- mirror URI
# shellcheck source=debian_mirror.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/debian_mirror.sh"

if [ -n "${FETCH_DJANGO_MIRROR:-}" ]; then
    MIRROR=$FETCH_DJANGO_MIRROR; SIGNED=""
else
    line=$(find_mirror) || die "could not find a Debian mirror URI in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list (set FETCH_DJANGO_MIRROR)"
    MIRROR=${line%%$'\t'*}; SIGNED=${line#*$'\t'}
fi
MIRROR=${MIRROR%/}
KEYRING=${FETCH_DJANGO_KEYRING:-}
if [ -z "$KEYRING" ]; then
    # The full archive keyring also holds the keys of newer suites than ours.
    if [ -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
        KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
    else
        KEYRING=$SIGNED
    fi
fi
[ -z "$KEYRING" ] || [ -f "$KEYRING" ] || die "keyring '$KEYRING' not found"

# ---------------------------------------------------------------- private apt
APTDIR="$CACHE/apt"
DEBS="$CACHE/debs"
mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$DEBS"
: > "$APTDIR/status"
cat > "$APTDIR/apt.conf" <<'EOF'
// private configuration of fetch_django.sh: never run the host's hooks
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
EOF

opt=""; [ -n "$KEYRING" ] && opt=" [signed-by=$KEYRING]"
suites=""
for s in $SUITE42 $SUITE52 $ASGIREF_SUITES; do
    case " $suites " in *" $s "*) ;; *) suites="$suites $s" ;; esac
done
: > "$APTDIR/sources.list"
for s in $suites; do
    echo "deb$opt $MIRROR $s main" >> "$APTDIR/sources.list"
done

APTOPTS=(
    -c "$APTDIR/apt.conf"
    -o "Dir::Etc::SourceList=$APTDIR/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::Etc::Preferences=/dev/null"
    -o "Dir::Etc::PreferencesParts=/dev/null"
    -o "Dir::State::Lists=$APTDIR/lists"
    -o "Dir::State::status=$APTDIR/status"
    -o "Dir::Cache=$APTDIR/cache"
    -o "Dir::Cache::archives=$APTDIR/cache/archives"
    -o "APT::Sandbox::User=root"
)

LOG="$APTDIR/apt.log"
if ! apt-get "${APTOPTS[@]}" -q update > "$LOG" 2>&1 || grep -qE '^(E:|W: (GPG|The repository|Failed))' "$LOG"; then
    tail -n 20 "$LOG" >&2
    die "apt-get update with the private sources list ($APTDIR/sources.list) failed; see $LOG"
fi

# pick_version PKG SUITE PREFIX: highest version of PKG offered by SUITE whose
# version starts with PREFIX (e.g. "3:4.2."); empty if none.
pick_version() {
    local pkg=$1 suite=$2 prefix=$3 best="" v
    while IFS= read -r v; do
        case "$v" in "$prefix"*) ;; *) continue ;; esac
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
    done < <(apt-cache "${APTOPTS[@]}" madison "$pkg" 2>/dev/null |
             awk -F'|' -v s="$suite" '{ gsub(/ /, "", $2); n = split($3, a, " "); for (i = 1; i <= n; i++) if (a[i] ~ ("^" s "/")) { print $2; break } }')
    printf '%s' "$best"
}

# find_deb PKG VERSION: file name of an already downloaded .deb in $DEBS (apt-get
# download writes the epoch colon as "%3a"), empty if none.
find_deb() {
    local pkg=$1 ver=$2 f
    for f in "$DEBS/${pkg}_${ver//:/%3a}_"*.deb "$DEBS/${pkg}_${ver#*:}_"*.deb; do
        [ -f "$f" ] && { printf '%s' "$f"; return 0; }
    done
    return 0
}

# download PKG VERSION -> prints the .deb path
download() {
    local pkg=$1 ver=$2 f
    f=$(find_deb "$pkg" "$ver")
    if [ -z "$f" ]; then
        (cd "$DEBS" && apt-get "${APTOPTS[@]}" -q download "$pkg=$ver") >> "$LOG" 2>&1 ||
            { tail -n 10 "$LOG" >&2; die "apt-get download $pkg=$ver failed; see $LOG"; }
        f=$(find_deb "$pkg" "$ver")
        [ -n "$f" ] || die "apt-get download $pkg=$ver produced no .deb in $DEBS"
    fi
    printf '%s' "$f"
}

# install_tree DEST WANT_MAJOR_MINOR ASGIREF_MIN DEB...
install_tree() {
    local dest=$1 want=$2 asg=$3; shift 3
    local tmp deb got
    tmp=$(mktemp -d "$CACHE/.tmp-$(basename "$dest").XXXXXX")
    chmod 755 "$tmp"
    for deb in "$@"; do
        dpkg -x "$deb" "$tmp" || { rm -rf "$tmp"; die "dpkg -x $deb failed"; }
    done
    if ! got=$(verify_tree "$tmp" "$want" "$asg" 2>"$tmp.err"); then
        local err; err=$(tail -n 5 "$tmp.err")
        rm -rf "$tmp" "$tmp.err"
        die "check of unpacked Django $want failed: $err"
    fi
    rm -f "$tmp.err"
    rm -rf "$dest"
    mv "$tmp" "$dest"
    printf '%s' "$got"
}

if [ $need42 = 1 ]; then
    V42=${FETCH_DJANGO_42_VERSION:-$(pick_version python3-django "$SUITE42" "3:4.2.")}
    [ -n "$V42" ] || die "no python3-django 3:4.2.x found in suite '$SUITE42' at the configured mirror (apt-cache madison python3-django); set FETCH_DJANGO_42_SUITE or FETCH_DJANGO_42_VERSION"
    deb=$(download python3-django "$V42")
    got=$(install_tree "$D42" 4.2 "" "$deb")
    echo "django $got (python3-django $V42, $SUITE42)" > "$D42/$MARKER"
fi
if [ $need52 = 1 ]; then
    V52=${FETCH_DJANGO_52_VERSION:-$(pick_version python3-django "$SUITE52" "3:5.2.")}
    [ -n "$V52" ] || die "no python3-django 3:5.2.x found in suite '$SUITE52' at the configured mirror; set FETCH_DJANGO_52_SUITE or FETCH_DJANGO_52_VERSION"
    VA=${FETCH_DJANGO_ASGIREF_VERSION:-}
    VAS=""
    if [ -z "$VA" ]; then
        for s in $ASGIREF_SUITES; do
            v=$(pick_version python3-asgiref "$s" "")
            if [ -n "$v" ] && dpkg --compare-versions "$v" ge "$ASGIREF_MIN"; then VA=$v; VAS=$s; break; fi
        done
    fi
    [ -n "$VA" ] || die "no python3-asgiref >= $ASGIREF_MIN found in suites '$ASGIREF_SUITES'"
    deb=$(download python3-django "$V52")
    adeb=$(download python3-asgiref "$VA")
    got=$(install_tree "$D52" 5.2 "$ASGIREF_MIN" "$deb" "$adeb")
    echo "django $got (python3-django $V52, $SUITE52) + python3-asgiref $VA${VAS:+ ($VAS)}" > "$D52/$MARKER"
fi

# The package lists are only needed while fetching; the .debs stay in $DEBS.
rm -rf "$APTDIR/lists" "$APTDIR/cache"

echo "$PROG: $(cat "$D42/$MARKER"); $(cat "$D52/$MARKER") in $CACHE"
