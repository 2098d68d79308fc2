#!/usr/bin/python3
"""sessionctl loads libpq and libmemcached only when a store needs them (issue 6).

Linked, they pulled some twenty libraries (Kerberos, LDAP, GnuTLS, SASL...)
into every run and were most of the start-up time of one-off commands. Now
backends/libpq_api.cpp and backends/libmemcached_api.cpp dlopen them on first
use. This runs the binary with the dynamic loader's own trace (LD_DEBUG=files,
written to files, not stderr) and checks:
  * --version, --help and `decode` of a session Django 3.2 encoded load none
    of those libraries;
  * a command on a PostgreSQL database does load libpq, and one on a memcached
    cache loads libmemcached (so the trace would see them if they were linked),
    and with nothing listening both fail as the store being unavailable (exit 3,
    one line on stderr) rather than crashing;
  * with the library unloadable (as root: /dev/null bind-mounted over it in a
    private mount namespace; skipped otherwise) the command fails with exit 3
    and one line naming the library and the package to install.

Usage: lazy_libs_test.py --sessionctl PATH
"""

import argparse
import ctypes
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

# Libraries only libpq / libmariadb / libmemcached bring in (on Debian 12).
HEAVY = ("libpq.so", "libmariadb.so", "libmemcached.so", "libhashkit.so", "libsasl2.so", "libgssapi_krb5.so", "libkrb5.so",
         "libldap", "liblber", "libgnutls.so", "libp11-kit.so")

SECRET = "lazy-libs-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def closed_port():
    """A TCP port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def django_encoded(tmp):
    """session_data as real Django 3.2 (system) writes it for {"lazy": 1}."""
    code = ("import django; from django.conf import settings; "
            f"settings.configure(SECRET_KEY={SECRET!r}, INSTALLED_APPS=['django.contrib.sessions']); "
            "django.setup(); from django.contrib.sessions.backends.db import SessionStore; "
            "print(SessionStore().encode({'lazy': 1}))")
    return subprocess.run(["/usr/bin/python3", "-c", code], check=True, capture_output=True, text=True,
                          cwd=tmp).stdout.strip()


def run_traced(sessionctl, args, tmp):
    """Runs sessionctl; returns (exit code, stdout, stderr, names of every shared object it loaded)."""
    trace_dir = Path(tempfile.mkdtemp(dir=tmp))
    env = dict(os.environ, LD_DEBUG="files", LD_DEBUG_OUTPUT=str(trace_dir / "ld"))
    proc = subprocess.run([sessionctl, *args], capture_output=True, text=True, env=env, timeout=60)
    loaded = set()
    traces = list(trace_dir.iterdir())
    if not traces:
        raise SystemExit("FAIL: the dynamic loader wrote no LD_DEBUG trace; cannot tell what was loaded")
    for trace in traces:
        loaded |= set(re.findall(r"\bfile=(\S+)", trace.read_text(errors="replace")))
    return proc.returncode, proc.stdout, proc.stderr, loaded


def loaded_path(soname):
    """The file the dynamic loader opens for `soname` (loaded here to find out), symlinks resolved."""
    ctypes.CDLL(soname)
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if os.path.basename(path) == soname or os.path.basename(os.path.realpath(path)).startswith(soname):
                return os.path.realpath(path)
    return None


def heavy_in(loaded):
    return sorted(name for name in loaded if any(name.startswith(h) for h in HEAVY))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessionctl", required=True)
    args = p.parse_args()
    sessionctl = str(Path(args.sessionctl).resolve())
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory(prefix="sessionctl-lazy-") as tmp:
        tmp_path = Path(tmp)
        secret = tmp_path / "secret_key"
        secret.write_text(SECRET)
        secret.chmod(0o600)
        base = {"SECRET_KEY_FILE": str(secret), "USE_TZ": True, "TIME_ZONE": "UTC"}

        sqlite_cfg = tmp_path / "sqlite.json"
        sqlite_cfg.write_text(json.dumps(dict(base, DATABASES={"default": {
            "ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db.sqlite3")}})))
        pg_cfg = tmp_path / "pg.json"
        pg_cfg.write_text(json.dumps(dict(base, DATABASES={"default": {
            "ENGINE": "django.db.backends.postgresql", "NAME": "sessionctl_lazy", "USER": "postgres",
            "HOST": "127.0.0.1", "PORT": str(closed_port()), "OPTIONS": {"connect_timeout": 5}}})))
        mysql_cfg = tmp_path / "mysql.json"
        mysql_cfg.write_text(json.dumps(dict(base, DATABASES={"default": {
            "ENGINE": "django.db.backends.mysql", "NAME": "sessionctl_lazy", "USER": "root",
            "HOST": "127.0.0.1", "PORT": str(closed_port()), "OPTIONS": {"connect_timeout": 5}}})))
        mc_cfg = tmp_path / "memcached.json"
        mc_cfg.write_text(json.dumps(dict(base, SESSION_ENGINE="django.contrib.sessions.backends.cache", CACHES={
            "default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                        "LOCATION": f"127.0.0.1:{closed_port()}"}})))

        for label, argv in (("--version", ["--version"]), ("--help", ["--help"]),
                            ("decode", ["--config", str(sqlite_cfg), "--json", "decode", django_encoded(tmp)])):
            rc, out, err, loaded = run_traced(sessionctl, argv, tmp)
            check(rc == 0, f"{label}: exit 0 (got {rc}; stderr {err.strip()!r})")
            check(heavy_in(loaded) == [], f"{label}: loads none of {', '.join(HEAVY)} (loaded {heavy_in(loaded)})")
            if label == "decode":
                try:
                    data = json.loads(out).get("data")
                except ValueError:
                    data = None
                check(data == {"lazy": 1}, f"decode: prints Django's data (got {out.strip()[:200]!r})")

        sonames = {}
        for label, cfg, library in (("PostgreSQL", pg_cfg, "libpq.so"), ("MySQL", mysql_cfg, "libmariadb.so"),
                                    ("memcached", mc_cfg, "libmemcached.so")):
            rc, out, err, loaded = run_traced(sessionctl, ["--config", str(cfg), "stats"], tmp)
            sonames.update({library: name for name in loaded if name.startswith(library)})
            check(any(name.startswith(library) for name in loaded),
                  f"{label} stats: loads {library} when the store is used (loaded {heavy_in(loaded)})")
            check(rc == 3, f"{label} stats with nothing listening: exit 3, store unavailable (got {rc})")
            lines = err.strip().splitlines()
            check(len(lines) == 1 and lines[0].startswith("sessionctl: error: "),
                  f"{label} stats: one error line on stderr (got {err.strip()!r})")

        # The library gone at run time: hidden by bind-mounting /dev/null over
        # it in a private mount namespace (root only; skipped otherwise).
        for label, cfg, soname, feature in (("PostgreSQL", pg_cfg, sonames.get("libpq.so"), "PostgreSQL support"),
                                            ("MySQL", mysql_cfg, sonames.get("libmariadb.so"), "MySQL/MariaDB support"),
                                            ("memcached", mc_cfg, sonames.get("libmemcached.so"),
                                             "memcached support")):
            path = soname and loaded_path(soname)
            if not path:
                check(False, f"{label}: found where {soname} lives, to hide it")
                continue
            script = 'mount --bind /dev/null "$1" && shift && exec "$@"'
            hide = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", path]
            probe = subprocess.run(hide + ["true"], capture_output=True, text=True)
            if probe.returncode != 0:
                print(f"SKIP {label} without {soname}: cannot hide it ({probe.stderr.strip() or 'unshare failed'};"
                      " needs root)")
                continue
            proc = subprocess.run(hide + [sessionctl, "--config", str(cfg), "stats"], capture_output=True, text=True,
                                  timeout=60)
            lines = proc.stderr.strip().splitlines()
            pattern = (rf"sessionctl: error: {feature} needs {re.escape(soname)}"
                       r"( \(Debian: apt-get install [a-z0-9.+-]+\))?: \S.*")
            check(proc.returncode == 3, f"{label} without {soname}: exit 3 (got {proc.returncode})")
            check(len(lines) == 1 and re.fullmatch(pattern, lines[0]) is not None,
                  f"{label} without {soname}: one line naming the library (got {proc.stderr.strip()!r})")

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
