#!/usr/bin/python3
"""Benchmark (not a test): sessionctl against Django on a PostgreSQL django_session.

    /usr/bin/python3 bench/pg_bench.py --sessionctl build/cli/sessionctl [--rows 1000000]
        [--pg-url postgres://postgres@127.0.0.1:5491/postgres]   (default: $SESSIONCTL_TEST_PG)

Creates its own database (sessionctl_bench_<pid>, dropped at the end), migrates it
with the Django on PYTHONPATH (system 3.2 by default), and fills django_session by
COPY with --rows sessions (60% expired; data encoded by Django, 1,000 distinct
users). Then, each on an identical copy of the table:

  1. `manage.py clearsessions` (call_command) vs `sessionctl clearsessions`
  2. a Django find-by-user loop (iterator + get_decoded, as an admin script would)
     vs `sessionctl inspect --all --user 42 --keys-only`

prints both times, the ratio, and whether the results agree.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessionctl", required=True)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--pg-url", default=os.environ.get("SESSIONCTL_TEST_PG", ""))
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
    for i in range(args.rows):
        offset = -86400 - i if i % 10 < 6 else 86400 + i
        expire = (now + timedelta(seconds=offset)).isoformat()
        buf.write(f"{i:08d}{os.urandom(12).hex()}\t{payloads[i % 1000]}\t{expire}\n")
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

    def count():
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM django_session")
            return cur.fetchone()[0]

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

    # 1. clearsessions
    connection.close()
    t = time.monotonic()
    call_command("clearsessions")
    django_s = time.monotonic() - t
    left_django = count()
    reset()
    ours_s, _ = sessionctl("clearsessions")
    report("clearsessions", django_s, ours_s, count() == left_django)
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
