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
import os
import sys
import time
import urllib.parse
from datetime import timedelta

from sql_bench_common import Sessionctl, Writer, clearsessions_rounds, process_cpu


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
    ap.add_argument("--skip-find", action="store_true", help="only the clearsessions rows")
    ap.add_argument("--rounds", type=int, default=1, help="clearsessions pairs (Django, sessionctl) to run")
    ap.add_argument("--keep-db", action="store_true", help="leave the bench's database (and config) in place")
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
        if args.keep_db:
            print(f"kept database {dbname}", flush=True)
        else:
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

    sessionctl = Sessionctl(args.sessionctl, secret, database, "pg-bench-")
    if args.keep_db:
        print(f"sessionctl config {sessionctl.config}", flush=True)

    def report(what, django_s, ours_s, agree):
        print(f"{what}: Django {django_s:.2f}s, sessionctl {ours_s:.2f}s, ratio {django_s / ours_s:.1f}x, "
              f"results {'agree' if agree else 'DIFFER'}", flush=True)

    def new_writer():
        return Writer(lambda: admin(args.pg_url, dbname), "now() + interval '14 days'", live)

    def django_clearsessions():
        connection.close()  # a new connection, as manage.py makes
        call_command("clearsessions")

    # The postmaster and its backends (a local server: the bench reads /proc).
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    with open(f"/proc/{backend}/stat") as f:
        postmaster = int(f.read().rsplit(")", 1)[1].split()[1])

    # 1. clearsessions, each side on a fresh copy of the same table
    clearsessions_rounds(args.rounds, reset, keys_left, new_writer, django_clearsessions, sessionctl,
                         lambda: process_cpu(postmaster, children=True))
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
