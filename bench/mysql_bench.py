#!/usr/bin/python3
"""Benchmark (not a test): sessionctl against Django on a MySQL/MariaDB django_session.

    /usr/bin/python3 bench/mysql_bench.py --sessionctl build/cli/sessionctl [--rows 1000000]
        [--mysql-url mysql://sessionctl@127.0.0.1:3391]   (default: $SESSIONCTL_TEST_MYSQL)
        [--skip-find] [--rounds N]

Creates its own database (sessionctl_bench_<pid>, dropped at the end), migrates it
with the Django on PYTHONPATH (system 3.2 by default, Debian's python3-mysqldb), and
fills django_session with --rows sessions (60% expired, in no particular expiry order;
data encoded by Django, 1,000 distinct users). Then, each on an identical copy of the
table:

  1. `manage.py clearsessions` (call_command) vs `sessionctl clearsessions` (default
     batches) and `sessionctl clearsessions --one-transaction` (first round only), each
     on a fresh copy of the same table (--rounds pairs), while a writer
     (its own connection, autocommit) inserts and updates live sessions as a site
     would: the longest single statement it saw is printed beside each
  2. a Django find-by-user loop (iterator + get_decoded, as an admin script would)
     vs `sessionctl inspect --all --user 42 --keys-only`

prints both times, the ratio, and whether the results agree.
"""

import argparse
import os
import random
import sys
import time
import urllib.parse
from datetime import timedelta

from sql_bench_common import Sessionctl, Writer, clearsessions_rounds, process_cpu


def parts(url):
    u = urllib.parse.urlsplit(url)
    return dict(HOST=u.hostname or "127.0.0.1", PORT=str(u.port or 3306),
                USER=urllib.parse.unquote(u.username or "root"), PASSWORD=urllib.parse.unquote(u.password or ""))


def connect(url, db=None):
    import MySQLdb
    p = parts(url)
    kw = dict(host=p["HOST"], port=int(p["PORT"]), user=p["USER"], password=p["PASSWORD"])
    if db:
        kw["database"] = db
    con = MySQLdb.connect(**kw)
    con.autocommit(True)
    return con


def datadir(connection):
    with connection.cursor() as cur:
        cur.execute("SELECT @@datadir")
        return cur.fetchone()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessionctl", required=True)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--mysql-url", default=os.environ.get("SESSIONCTL_TEST_MYSQL", ""))
    ap.add_argument("--skip-find", action="store_true", help="only the clearsessions rows")
    ap.add_argument("--rounds", type=int, default=1, help="clearsessions pairs (Django, sessionctl) to run")
    ap.add_argument("--keep-db", action="store_true", help="leave the bench's database (and config) in place")
    args = ap.parse_args()
    if not args.mysql_url:
        sys.exit("mysql_bench: set --mysql-url or SESSIONCTL_TEST_MYSQL (eval \"$(scripts/servers.sh start)\")")
    dbname = f"sessionctl_bench_{os.getpid()}"
    con = connect(args.mysql_url)
    con.cursor().execute(f"CREATE DATABASE `{dbname}` CHARACTER SET utf8mb4")
    try:
        run(args, dbname)
    finally:
        from django.db import connections
        connections.close_all()
        if args.keep_db:
            print(f"kept database {dbname}", flush=True)
        else:
            con.cursor().execute(f"DROP DATABASE IF EXISTS `{dbname}`")


def run(args, dbname):
    import django
    from django.conf import settings
    secret = "bench-secret-" + os.urandom(8).hex()
    p = parts(args.mysql_url)
    database = {"ENGINE": "django.db.backends.mysql", "NAME": dbname, **p}
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

    payloads = [SessionStore().encode({"_auth_user_id": str(u), "_auth_user_backend":
                                       "django.contrib.auth.backends.ModelBackend", "cart": list(range(u % 7))})
                for u in range(1000)]
    now = timezone.now().replace(tzinfo=None)
    t0 = time.monotonic()
    order = list(range(args.rows))
    random.Random(16).shuffle(order)  # rows written in no expiry order, as a site writes them
    live = []
    with connection.cursor() as cur:
        chunk = []
        for i in order:
            offset = -86400 - i if i % 10 < 6 else 86400 + i
            key = f"{i:08d}{os.urandom(12).hex()}"
            if offset > 0 and len(live) < 10000:
                live.append(key)
            chunk.append((key, payloads[i % 1000], now + timedelta(seconds=offset)))
            if len(chunk) == 5000:
                cur.executemany("INSERT INTO django_session VALUES (%s, %s, %s)", chunk)
                chunk = []
        if chunk:
            cur.executemany("INSERT INTO django_session VALUES (%s, %s, %s)", chunk)
        cur.execute("CREATE TABLE seed AS SELECT * FROM django_session")
        cur.execute("ANALYZE TABLE django_session")
    print(f"filled {args.rows} rows in {time.monotonic() - t0:.1f}s", flush=True)

    def reset():
        with connection.cursor() as cur:
            cur.execute("TRUNCATE django_session")
            cur.execute("INSERT INTO django_session SELECT * FROM seed")
            cur.execute("ANALYZE TABLE django_session")

    def keys_left():
        with connection.cursor() as cur:
            cur.execute("SELECT session_key FROM django_session WHERE session_key NOT LIKE 'writer%%'")
            return sorted(r[0] for r in cur.fetchall())

    sessionctl = Sessionctl(args.sessionctl, secret, database, "mysql-bench-")
    if args.keep_db:
        print(f"sessionctl config {sessionctl.config}", flush=True)

    def new_writer():
        return Writer(lambda: connect(args.mysql_url, dbname), "UTC_TIMESTAMP(6) + INTERVAL 14 DAY", live)

    def django_clearsessions():
        connection.close()  # a new connection, as manage.py makes
        call_command("clearsessions")

    def purged():
        # InnoDB removes deleted rows later, in its purge threads: Django's one
        # DELETE leaves all of that for after it returns, sessionctl's batches
        # have most of it done while they run. Waits until none is left.
        t = time.monotonic()
        while time.monotonic() - t < 600:
            with connection.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS LIKE 'Innodb_history_list_length'")
                if int(cur.fetchone()[1]) == 0:
                    return
            time.sleep(0.05)

    def reset_settled():
        reset()
        purged()

    with connection.cursor() as cur:  # a local server: the bench reads /proc
        cur.execute("SELECT @@pid_file")
        pid_file = cur.fetchone()[0]
    with open(pid_file if os.path.isabs(pid_file) else os.path.join(datadir(connection), pid_file)) as f:
        server = int(f.read().split()[0])

    # 1. clearsessions, each side on a fresh copy of the same table (the same
    # bytes in the same order: the filled table was written at random, the
    # copies are not)
    clearsessions_rounds(args.rounds, reset_settled, keys_left, new_writer, django_clearsessions, sessionctl,
                         lambda: process_cpu(server), settle=purged)
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
    print(f"find sessions of user 42: Django {django_s:.2f}s, sessionctl {ours_s:.2f}s, ratio "
          f"{django_s / ours_s:.1f}x, results {'agree' if sorted(out.split()) == sorted(keys) else 'DIFFER'}",
          flush=True)


if __name__ == "__main__":
    main()
