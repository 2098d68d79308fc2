#!/bin/bash
# django_env.sh VERSION CACHE_DIR
#
# Print the PYTHONPATH value that selects Django VERSION for /usr/bin/python3:
#   3.2  -> the system Django (Debian bookworm python3-django): prints an empty line
#   4.2  -> CACHE_DIR/django-4.2/usr/lib/python3/dist-packages
#   5.2  -> CACHE_DIR/django-5.2/usr/lib/python3/dist-packages  (asgiref 3.8 is inside)
# CACHE_DIR is the folder given to fetch_django.sh (not needed for 3.2).
#
#   PYTHONPATH=$(tests/system/django_env.sh 5.2 "$CACHE") /usr/bin/python3 -c 'import django'
set -euo pipefail

usage() { echo "usage: $0 {3.2|4.2|5.2} CACHE_DIR" >&2; exit 2; }
[ $# -ge 1 ] || usage
VERSION=$1
case "$VERSION" in
    3.2)
        echo ""
        ;;
    4.2|5.2)
        if [ $# -ne 2 ] || [ -z "$2" ]; then usage; fi
        [ -d "$2" ] || { echo "django_env: error: cache folder '$2' does not exist (run tests/system/fetch_django.sh '$2' first)" >&2; exit 1; }
        dir="$(cd -- "$2" && pwd -P)/django-$VERSION/usr/lib/python3/dist-packages"
        if [ ! -f "$dir/django/__init__.py" ] || [ ! -f "$2/django-$VERSION/.fetch_django.ok" ]; then
            echo "django_env: error: Django $VERSION not found in '$2' (run tests/system/fetch_django.sh '$2' first)" >&2
            exit 1
        fi
        echo "$dir"
        ;;
    *)
        usage
        ;;
esac
