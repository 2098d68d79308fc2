#!/usr/bin/python3
"""Benchmark (not a test): sessionctl against Django on a PostgreSQL django_session.

    /usr/bin/python3 bench/pg_bench.py --sessionctl build/cli/sessionctl [--rows 1000000]
        [--pg-url postgres://postgres@127.0.0.1:5491/postgres]   (default: $SESSIONCTL_TEST_PG)
        [--skip-find] [--rounds N]

Creates its own database (sessionctl_bench_<pid>, dropped at the end), migrates it
with the Django on PYTHONPATH (system 3.2 by default), and fills django_session by
COPY with --rows sessions (60% expired; data encoded by Django, 1,000 distinct
users). Then, each on an identical copy of the table:

  1. `manage.py clearsessions` (call_command) vs `sessionctl clearsessions` (default
     batches) and `sessionctl clearsessions --one-transaction` (first round only), each
     on a fresh copy (--rounds pairs), while a writer (its own connection, autocommit)
     inserts and updates live sessions as a site would: the longest single statement
     it saw is printed beside each
  2. a Django find-by-user loop (iterator + get_decoded, as an admin script would)
     vs `sessionctl inspect --all --user 42 --keys-only`

prints both times, the ratio, and whether the results agree.
"""

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import timedelta


def parts(url):
    u = urllib.parse.urlsplit(url)
    return dict(HOST=u.hostname or "127.0.0.1", PORT=str(u.port or 5432),
                USER=urllib.parse.unquote(u.username or "postgres"), PASSWORD=urllib.parse.unquote(u.password or ""))


def admin(url, dbname="postgres"):
    import psycopg2
    p = parts(url)
    con = psycopg2.connect(host=p["HOST"], port=p["PORT"], user=p["USER"], password=p["PASSWORD"] or None,
                           dbname=dbname)
    con.autocommit = True
    return con


class Writer(threading.Thread):
    """A site's writes during a cleanup: new sessions and updates of live ones,
    one autocommit statement each; records the longest one."""

    def __init__(self, url, db, live_keys):
        super().__init__(daemon=True)
        self.url, self.db, self.live = url, db, live_keys
        self.stop = threading.Event()
        self.longest = 0.0
        self.writes = 0
        self.error = None

    def run(self):
        try:
            con = admin(self.url, self.db)
            cur = con.cursor()
            n = 0
            while not self.stop.is_set():
                t = time.monotonic()
                if n % 2:
                    cur.execute("INSERT INTO django_session VALUES (%s, 'e30:1ruzA4:x', now() + interval '14 days')",
                                [f"writer{os.getpid()}{n:012d}"])
                else:
                    cur.execute("UPDATE django_session SET expire_date = now() + interval '14 days' "
                                "WHERE session_key = %s", [random.choice(self.live)])
                self.longest = max(self.longest, time.monotonic() - t)
                self.writes += 1
                n += 1
                time.sleep(0.005)
            con.close()
        except Exception as e:  # noqa: BLE001
            self.error = f"{type(e).__name__}: {e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessionctl", required=True)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--pg-url", default=os.environ.get("SESSIONCTL_TEST_PG", ""))
    ap.add_argument("--skip-find", action="store_true", help="only the clearsessions rows")
    ap.add_argument("--rounds", type=int, default=1, help="clearsessions pairs (Django, sessionctl) to run")
    args = ap.parse_args()
    if not args.pg_url:
        sys.exit("pg_bench: set --pg-url or SESSIONCTL_TEST_PG (eval \"$(scripts/servers.sh start)\")")
    dbname = f"sessionctl_bench_{os.getpid()}"
    con = admin(args.pg_url)
    con.cursor().execute(f'CREATE DATABASE "{dbname}"')
    try:
        run(args, dbname)
    finally:
        from django.db import connections
        connections.close_all()
        con.cursor().execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def run(args, dbname):
    import django
    from django.conf import settings
    secret = "bench-secret-" + os.urandom(8).hex()
    p = parts(args.pg_url)
    database = {"ENGINE": "django.db.backends.postgresql", "NAME": dbname, **p}
    settings.configure(SECRET_KEY=secret, USE_TZ=True, TIME_ZONE="UTC", DATABASES={"default": database},
                       INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                                       "django.contrib.sessions"],
                       SESSION_ENGINE="django.contrib.sessions.backends.db")
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    call_command("migrate", verbosity=0, interactive=False)

    # Fill by COPY: payloads encoded by Django once per user, rows by the million.
    payloads = [SessionStore().encode({"_auth_user_id": str(u), "_auth_user_backend":
                                       "django.contrib.auth.backends.ModelBackend", "cart": list(range(u % 7))})
                for u in range(1000)]
    now = timezone.now()
    t0 = time.monotonic()
    buf = io.StringIO()
    live = []
    for i in range(args.rows):
        offset = -86400 - i if i % 10 < 6 else 86400 + i
        expire = (now + timedelta(seconds=offset)).isoformat()
        key = f"{i:08d}{os.urandom(12).hex()}"
        if offset > 0 and len(live) < 10000:
            live.append(key)
        buf.write(f"{key}\t{payloads[i % 1000]}\t{expire}\n")
    buf.seek(0)
    with connection.cursor() as cur:
        cur.copy_expert("COPY django_session (session_key, session_data, expire_date) FROM STDIN", buf)
        cur.execute("CREATE TABLE seed AS SELECT * FROM django_session")
        cur.execute("VACUUM ANALYZE django_session")
    print(f"filled {args.rows} rows in {time.monotonic() - t0:.1f}s", flush=True)

    def reset():
        with connection.cursor() as cur:
            cur.execute("TRUNCATE django_session")
            cur.execute("INSERT INTO django_session SELECT * FROM seed")
            cur.execute("VACUUM ANALYZE django_session")

    def keys_left():
        with connection.cursor() as cur:
            cur.execute("SELECT session_key FROM django_session WHERE session_key NOT LIKE 'writer%%'")
            return sorted(r[0] for r in cur.fetchall())

    tmp = tempfile.mkdtemp(prefix="pg-bench-")
    secret_file = os.path.join(tmp, "secret")
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, secret.encode())
    os.close(fd)
    config = os.path.join(tmp, "sessionctl.json")
    with open(config, "w") as f:
        json.dump({"SECRET_KEY_FILE": secret_file, "USE_TZ": True, "TIME_ZONE": "UTC",
                   "DATABASES": {"default": database}}, f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONCTL_")}

    def sessionctl(*argv):
        t = time.monotonic()
        r = subprocess.run([args.sessionctl, "--config", config, *argv], capture_output=True, text=True, env=env)
        if r.returncode not in (0, 1):
            sys.exit(f"sessionctl {argv} exited {r.returncode}: {r.stderr}")
        return time.monotonic() - t, r.stdout

    def report(what, django_s, ours_s, agree):
        print(f"{what}: Django {django_s:.2f}s, sessionctl {ours_s:.2f}s, ratio {django_s / ours_s:.1f}x, "
              f"results {'agree' if agree else 'DIFFER'}", flush=True)

    def with_writer(fn):
        w = Writer(args.pg_url, dbname, live)
        w.start()
        try:
            result = fn()
        finally:
            w.stop.set()
            w.join()
        if w.error:
            print(f"  the writer failed: {w.error}", flush=True)
        return result, w

    def timed_django():
        connection.close()
        t = time.monotonic()
        call_command("clearsessions")
        return time.monotonic() - t

    def load():
        return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())

    # 1. clearsessions, each side on a fresh copy of the same table
    for round_ in range(args.rounds):
        reset()
        django_s, w = with_writer(timed_django)
        left_django = keys_left()
        print(f"clearsessions: Django {django_s:.2f}s (writer's longest statement {w.longest * 1000:.0f} ms, "
              f"{w.writes} writes; {load()})", flush=True)
        for label, argv in (("sessionctl", ["clearsessions"]),
                            ("sessionctl --one-transaction", ["clearsessions", "--one-transaction"])):
            if round_ and "--one-transaction" in argv:
                continue
            reset()
            (ours_s, _), w = with_writer(lambda: sessionctl(*argv))
            agree = keys_left() == left_django
            print(f"clearsessions: {label} {ours_s:.2f}s, {ours_s / django_s:.2f}x Django's time (writer's longest "
                  f"statement {w.longest * 1000:.0f} ms, {w.writes} writes; {load()}), results "
                  f"{'agree' if agree else 'DIFFER'}", flush=True)
    if args.skip_find:
        return
    reset()

    # 2. find-by-user
    t = time.monotonic()
    keys = []
    for s in Session.objects.iterator(chunk_size=2000):
        if s.get_decoded().get("_auth_user_id") == "42":
            keys.append(s.session_key)
    django_s = time.monotonic() - t
    ours_s, out = sessionctl("inspect", "--all", "--user", "42", "--keys-only")
    report("find sessions of user 42", django_s, ours_s, sorted(out.split()) == sorted(keys))


if __name__ == "__main__":
    main()
