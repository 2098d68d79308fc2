#!/usr/bin/python3
"""Real Django 6.1 (Python 3.13) against sessionctl, in a Debian 13 chroot.

    /usr/bin/python3 tests/system/django6_test.py --sessionctl PATH --root ROOT [-k SUBSTRING]

Django 6 needs Python >= 3.12, which Debian 12 does not have. ROOT is a trixie
chroot holding Debian's python3-django 6.1 (tests/system/trixie_chroot.sh makes
it once and keeps it). This script

1. puts the sessionctl under test into ROOT/opt/sessionctl: the binary, every
   library it links and the ones it opens with dlopen (libpq, libmemcached,
   libmariadb), and Debian 12's dynamic loader, run as
   `ld-linux-x86-64.so.2 --library-path lib bin/sessionctl` by a wrapper, so the
   binary built here runs unchanged beside trixie's newer C library;
2. copies the integration suites (tests/system/django_integration/ and
   djangoharness.py, sql_servers.py) into ROOT/opt/sessionctl-tests;
3. runs each suite with `chroot ROOT /usr/bin/python3 ... --django 6.1`. The
   chroot shares the network, so the servers of scripts/servers.sh
   (SESSIONCTL_TEST_* variables) are reached on loopback as from outside.

Prints the suites' PASS/FAIL/SKIP lines and finally `N passed, M failed`. Needs
root (chroot): without it the test is skipped (exit 0), or fails when
SESSIONCTL_REQUIRE_SERVERS=1 (CI).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from django_integration_test import run_module_process  # noqa: E402 (tests/system)

HERE = Path(__file__).resolve().parent
SUITES = ["test_db_engine.py", "test_file_engine.py", "test_cache_engines.py", "test_pg_engine.py",
          "test_memcached_engine.py", "test_memcached_servers.py",
          "test_django_redis_codecs.py", "test_redis_tls.py", "test_redis_sentinel.py", "test_users.py",
          "test_copy.py", "test_db_time_zone.py"]
# Not test_mysql_engine.py: Django 6 needs mysqlclient >= 2.2.1 and Debian 13's
# python3-mysqldb is 1.4.6 (Django refuses it: ImproperlyConfigured), so Django 6.1
# on MySQL cannot be run from Debian's packages. The TLS Redis's certificates are
# outside the chroot: install_tls_certs copies them in at the same path.
# Opened with dlopen when a PostgreSQL, MySQL or memcached store (or a django-redis
# compressor) is used: ldd cannot see them (backends/lazy_library.hpp), so they
# are named here.
LAZY_LIBRARIES = ["libpq.so.5", "libmemcached.so.11", "libmariadb.so.3", "liblz4.so.1", "liblzma.so.5", "libzstd.so.1"]
LIBRARY_DIRS = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"]
LOADER = "/lib64/ld-linux-x86-64.so.2"


def ldd_closure(path):
    """The files of every shared library `path` needs (ldd resolves the whole tree)."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"=>\s+(/\S+)", line)
        if m:
            libs.append(m.group(1))
        elif "not found" in line:
            sys.exit(f"django6_test: {path} needs a library that is not installed: {line.strip()}")
    return libs


def install_sessionctl(binary, root):
    """ROOT/opt/sessionctl/{bin/sessionctl, lib/*, sessionctl (wrapper)}; returns the wrapper's path inside ROOT."""
    top = root / "opt/sessionctl"
    shutil.rmtree(top, ignore_errors=True)
    (top / "bin").mkdir(parents=True)
    (top / "lib").mkdir()
    shutil.copy2(binary, top / "bin/sessionctl")
    libs = set(ldd_closure(binary))
    for name in LAZY_LIBRARIES:
        for d in LIBRARY_DIRS:
            candidate = Path(d) / name
            if candidate.exists():
                libs.add(str(candidate))
                libs.update(ldd_closure(str(candidate)))
                break
    for lib in libs:
        # Copy under the name the binary asks for (the SONAME symlink), dereferenced.
        shutil.copy2(lib, top / "lib" / Path(lib).name)
    shutil.copy2(LOADER, top / "lib/ld-linux-x86-64.so.2")
    wrapper = top / "sessionctl"
    wrapper.write_text('#!/bin/sh\nexec /opt/sessionctl/lib/ld-linux-x86-64.so.2 '
                       '--library-path /opt/sessionctl/lib /opt/sessionctl/bin/sessionctl "$@"\n')
    wrapper.chmod(0o755)
    return "/opt/sessionctl/sessionctl", len(libs)


def install_suites(root):
    dest = root / "opt/sessionctl-tests"
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "django_integration").mkdir(parents=True)
    for helper in ("djangoharness.py", "sql_servers.py"):  # the suites' shared modules
        shutil.copy2(HERE / helper, dest / helper)
    for suite in SUITES:
        shutil.copy2(HERE / "django_integration" / suite, dest / "django_integration" / suite)
    # test_users.py's custom user model app
    shutil.copytree(HERE / "django_integration" / "sessionctl_members",
                    dest / "django_integration" / "sessionctl_members",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return "/opt/sessionctl-tests/django_integration"


def install_tls_certs(root):
    """Copies the TLS Redis's test CA and certificates to the same path inside ROOT."""
    certs = os.environ.get("SESSIONCTL_TEST_REDIS_TLS_CERTS")
    if not certs or not Path(certs).is_dir():
        return
    inside = root / Path(certs).relative_to("/")
    shutil.rmtree(inside, ignore_errors=True)
    shutil.copytree(certs, inside)


def run_suite(root, suite_dir, suite, sessionctl, filter_):
    env = {k: v for k, v in os.environ.items() if k.startswith("SESSIONCTL_")}
    env.update(PATH="/usr/sbin:/usr/bin:/sbin:/bin", HOME="/root", LANG="C.UTF-8", PYTHONDONTWRITEBYTECODE="1",
               PYTHONNOUSERSITE="1", TMPDIR="/tmp")
    argv = ["chroot", str(root), "/usr/bin/python3", f"{suite_dir}/{suite}", "--sessionctl", sessionctl,
            "--django", "6.1"]
    if filter_:
        argv += ["-k", filter_]
    return run_module_process(argv, env, f"django-6.1 {suite}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessionctl", required=True)
    p.add_argument("--root", required=True, help="the chroot made by trixie_chroot.sh")
    p.add_argument("-k", dest="filter", default=None, help="only tests whose name contains this")
    args = p.parse_args()

    if os.geteuid() != 0:
        if os.environ.get("SESSIONCTL_REQUIRE_SERVERS") == "1":
            print("FAIL django-6.1: the Django 6 chroot needs root, and SESSIONCTL_REQUIRE_SERVERS=1")
            return 1
        print("SKIP django-6.1: the Django 6 chroot needs root (chroot); run the suite as root")
        return 0
    root = Path(args.root).resolve()
    made = subprocess.run([str(HERE / "trixie_chroot.sh"), str(root)], text=True)
    if made.returncode != 0:
        print("FAIL django-6.1: could not make the trixie chroot (see above)")
        return 1
    sessionctl, nlibs = install_sessionctl(str(Path(args.sessionctl).resolve()), root)
    print(f"django6: sessionctl and {nlibs} libraries installed in {root}/opt/sessionctl", flush=True)
    check = subprocess.run(["chroot", str(root), sessionctl, "--version"], capture_output=True, text=True)
    if check.returncode != 0:
        print(f"FAIL django-6.1: sessionctl does not run in the chroot: {check.stderr.strip()}")
        return 1
    suite_dir = install_suites(root)
    install_tls_certs(root)

    passed = failed = 0
    for suite in SUITES:
        p_, f_ = run_suite(root, suite_dir, suite, sessionctl, args.filter)
        passed += p_
        failed += f_
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
