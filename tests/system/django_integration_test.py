#!/usr/bin/python3
"""Real-Django integration suite for sessionctl's db (SQLite) and file engines.

    /usr/bin/python3 tests/system/django_integration_test.py --sessionctl PATH \
        --django-cache DIR [--versions 3.2,4.2,5.2] [-k SUBSTRING] [--keep]

Django 4.2 and 5.2 come from DIR as prepared by `tests/system/fetch_django.sh DIR`;
3.2 is the system one. Every version runs in its own /usr/bin/python3 process
(tests/system/django_integration/: test_db_engine.py, test_file_engine.py,
test_memcached_engine.py, test_pg_engine.py, test_mysql_engine.py, test_cache_engines.py,
test_django_redis_codecs.py, test_memcached_servers.py, test_copy.py,
test_users.py, test_db_time_zone.py) with the
PYTHONPATH printed by `tests/system/django_env.sh VERSION DIR`. Prints one line per test
(`PASS django-5.2 test_x`, `FAIL ...` with details, `SKIP ...`) and finally
`N passed, M failed`. Exit status 1 when a test failed or a version could not be
imported, 2 on a usage error.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DJANGO_ENV = HERE / "django_env.sh"
# test_memcached_engine.py needs SESSIONCTL_TEST_MEMCACHED (scripts/servers.sh); it
# skips without it, and fails without it under SESSIONCTL_REQUIRE_SERVERS=1.
# test_pg_engine.py needs SESSIONCTL_TEST_PG likewise, test_mysql_engine.py SESSIONCTL_TEST_MYSQL.
MODULES = HERE / "django_integration"
TEST_MODULES = [MODULES / "test_db_engine.py", MODULES / "test_file_engine.py", MODULES / "test_memcached_engine.py",
                MODULES / "test_pg_engine.py", MODULES / "test_mysql_engine.py", MODULES / "test_cache_engines.py", MODULES / "test_redis_tls.py",
                MODULES / "test_redis_sentinel.py", MODULES / "test_django_redis_codecs.py",
                MODULES / "test_memcached_servers.py", MODULES / "test_copy.py",
                MODULES / "test_users.py", MODULES / "test_db_time_zone.py"]
PYTHON = "/usr/bin/python3"


def pythonpath_for(version, cache):
    """PYTHONPATH for `version` (None + a message when unavailable)."""
    argv = [str(DJANGO_ENV), version] + ([cache] if cache else [])
    if version != "3.2" and not cache:
        return None, "--django-cache is needed for Django " + version
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        return None, (p.stderr.strip() or f"{DJANGO_ENV} exited {p.returncode}")
    return p.stdout.strip(), None


def run_version(version, args, tests):
    label = f"django-{version}"
    pp, problem = pythonpath_for(version, args.django_cache)
    if problem:
        print(f"FAIL {label} import_django: {problem}", flush=True)
        return 0, 1
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pp:
        env["PYTHONPATH"] = pp
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    argv = [PYTHON, str(tests), "--sessionctl", args.sessionctl, "--django", version]
    if args.filter:
        argv += ["-k", args.filter]
    if args.keep:
        argv.append("--keep")
    return run_module_process(argv, env, f"{label} runner")


def run_module_process(argv, env, what):
    """Runs one test module process (djangoharness.run_module), echoing its lines;
    returns (passed, failed) from its `RESULT p f` line, (0, 1) when it has none.
    Also used by django6_test.py, which runs the modules inside a chroot."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    result = None
    for line in proc.stdout:
        if line.startswith("RESULT "):
            result = line.split()
            continue
        print(line, end="", flush=True)
    rc = proc.wait()
    if result is None or len(result) != 3:
        print(f"FAIL {what}: test process exited {rc} without a result", flush=True)
        return 0, 1
    return int(result[1]), int(result[2])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessionctl", required=True, help="the sessionctl binary under test")
    p.add_argument("--django-cache", default=None,
                   help="folder prepared by tests/system/fetch_django.sh (for 4.2 and 5.2)")
    p.add_argument("--versions", default="3.2,4.2,5.2", help="comma-separated (default 3.2,4.2,5.2)")
    p.add_argument("-k", dest="filter", default=None, help="only tests whose name contains this")
    p.add_argument("--keep", action="store_true", help="keep every test's temp directory")
    args = p.parse_args()

    exe = Path(args.sessionctl)
    if not (exe.is_file() and os.access(exe, os.X_OK)):
        print(f"django_integration_test: error: {args.sessionctl} is not an executable file", file=sys.stderr)
        return 2
    args.sessionctl = str(exe.resolve())
    if args.django_cache:
        args.django_cache = str(Path(args.django_cache).resolve())
    versions = [v.strip() for v in args.versions.split(",") if v.strip()]
    bad = [v for v in versions if v not in ("3.2", "4.2", "5.2")]
    if bad or not versions:
        print(f"django_integration_test: error: unsupported version(s) {bad or versions}; use 3.2, 4.2, 5.2",
              file=sys.stderr)
        return 2

    passed = failed = 0
    for v in versions:
        for tests in TEST_MODULES:
            p_, f_ = run_version(v, args, tests)
            passed += p_
            failed += f_
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
