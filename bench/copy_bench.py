#!/usr/bin/python3
"""Benchmark (not a test): `sessionctl copy` against the loop sites write by hand.

    /usr/bin/python3 bench/copy_bench.py --sessionctl build/cli/sessionctl \
        [--redis redis://127.0.0.1:6391] [--db 12] [-n 100000] [--python-n 10000] [--work DIR]

Makes N sessions with Django (system 3.2: SessionStore.encode(), expiry 14 days,
1 in 3 logged in) in a SQLite django_session table, then times, each on fresh
identical copies of the source:
  1. db (SQLite) -> cache (Redis, django-redis): `sessionctl copy --to redis.json`
     vs one Python process looping over the rows: db SessionStore(key).load() and a
     cache SessionStore(key) given that dict and save(must_create=True) (Django then
     writes the expiry from SESSION_COOKIE_AGE, not the source's: the comparison
     is of keys and data);
  2. cache (Redis) -> db (SQLite, an empty migrated table): `sessionctl copy` vs the
     same loop the other way (the cache keys by SCAN).
Both sides' results are compared: the same keys, and Django's load() of each gives
the same dict. With --python-n below -n (the Python loop takes minutes per 10k on a
busy machine) both sides run on the first --python-n sessions (and are compared),
then sessionctl alone on all -n (checked by count). Prints times, per-session rates
and their ratio. Redis db --db is FLUSHed: use one of its own.
"""

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

SECRET = "bench-secret-key-for-copy-0123456789abcdef"
PY_LOOP = r'''
import sys, time
import django
from django.conf import settings
direction, db_path, redis_url = sys.argv[1], sys.argv[2], sys.argv[3]
settings.configure(
    SECRET_KEY=%(secret)r, USE_TZ=True, TIME_ZONE="UTC",
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db_path}},
    CACHES={"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url}},
)
django.setup()
from django.contrib.sessions.backends import cache as cache_engine, db as db_engine
from django.contrib.sessions.models import Session
from django.core.cache import cache
t0 = time.monotonic()
n = 0
if direction == "db-to-cache":
    keys = Session.objects.values_list("session_key", flat=True).iterator()
    src, dst = db_engine, cache_engine
else:
    prefix = cache.make_key("django.contrib.sessions.cache")
    raw = cache.client.get_client()
    keys = (k.decode()[len(prefix):] for k in raw.scan_iter(match=prefix + "*", count=1000))
    src, dst = cache_engine, db_engine
for key in keys:
    data = src.SessionStore(key).load()
    if not data:
        continue
    s = dst.SessionStore(key)
    # Not s.update(data): that load()s the key from the target first, finds
    # nothing, drops the key, and save() then makes a new one (every user
    # logged out: the classic hand-written migration bug).
    s._session_cache = data
    s.save(must_create=True)
    n += 1
print(n, time.monotonic() - t0)
''' % {"secret": SECRET}

GEN = r'''
import sys, secrets, sqlite3
import django
from django.conf import settings
settings.configure(SECRET_KEY=%(secret)r, USE_TZ=True, TIME_ZONE="UTC",
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}})
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from datetime import timedelta
n = int(sys.argv[2])
s = SessionStore()
now = timezone.now()
rows = []
for i in range(n):
    data = {"cart": [1, 2, {"sku": "x%%d" %% i}], "seen": i}
    if i %% 3 == 0:
        data.update({"_auth_user_id": str(i), "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                     "_auth_user_hash": secrets.token_hex(32)})
    expire = now + timedelta(seconds=1209600 - i %% 86400)
    rows.append((secrets.token_hex(16), s.encode(data), expire.replace(tzinfo=None).isoformat(" ")))
con = sqlite3.connect(sys.argv[1])
con.executemany("INSERT INTO django_session VALUES (?, ?, ?)", rows)
con.commit()
''' % {"secret": SECRET}

DUMP = r'''
import sys, json
import django
from django.conf import settings
kind, db_path, redis_url = sys.argv[1], sys.argv[2], sys.argv[3]
settings.configure(SECRET_KEY=%(secret)r, USE_TZ=True, TIME_ZONE="UTC",
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db_path}},
    CACHES={"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url}})
django.setup()
from django.contrib.sessions.backends import cache as cache_engine, db as db_engine
from django.contrib.sessions.models import Session
from django.core.cache import cache
import hashlib
h = hashlib.sha256()
if kind == "db":
    keys = sorted(Session.objects.values_list("session_key", flat=True))
    engine = db_engine
else:
    prefix = cache.make_key("django.contrib.sessions.cache")
    raw = cache.client.get_client()
    keys = sorted(k.decode()[len(prefix):] for k in raw.scan_iter(match=prefix + "*", count=1000))
    engine = cache_engine
for k in keys:
    h.update(k.encode() + json.dumps(engine.SessionStore(k).load(), sort_keys=True).encode())
print(len(keys), h.hexdigest())
''' % {"secret": SECRET}


def py(script, *args):
    p = subprocess.run(["/usr/bin/python3", "-c", script, *map(str, args)], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"python failed: {p.stderr}")
    return p.stdout.strip()


def flush(redis_url):
    import redis
    redis.Redis.from_url(redis_url).flushdb()


def timed(argv):
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True)
    t = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"{argv[0]} failed ({p.returncode}): {p.stderr}")
    return t, p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessionctl", required=True)
    ap.add_argument("--redis", default=os.environ.get("SESSIONCTL_TEST_REDIS", "redis://127.0.0.1:6379"))
    ap.add_argument("--db", type=int, default=12)
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--python-n", type=int, default=None,
                    help="sessions the Python loop copies (default -n): on a slow machine, its rate at a "
                         "smaller n; sessionctl then runs at this n too (for the same-result check) and at -n")
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    small_n = min(args.python_n or args.n, args.n)
    redis_url = f"{args.redis.rstrip('/')}/{args.db}"
    work = args.work or tempfile.mkdtemp(prefix="sessionctl-copy-bench-")
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, f"source-{args.n}.sqlite3")
    if not os.path.exists(src):
        py(GEN, src, args.n)
    empty = os.path.join(work, "empty.sqlite3")
    if not os.path.exists(empty):
        py(GEN, empty, 0)
    # The first small_n rows of the source, for the Python loop.
    src_small = os.path.join(work, f"source-{args.n}-first-{small_n}.sqlite3")
    if small_n < args.n and not os.path.exists(src_small):
        shutil.copyfile(src, src_small)
        con = sqlite3.connect(src_small)
        con.execute("DELETE FROM django_session WHERE rowid > ?", (small_n,))
        con.commit()
        con.execute("VACUUM")
        con.close()
    elif small_n == args.n:
        src_small = src

    def config(name, engine, db=None):
        cfg = {"SESSION_ENGINE": f"django.contrib.sessions.backends.{engine}", "SECRET_KEY": SECRET}
        if db:
            cfg["DATABASES"] = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}}
        if engine == "cache":
            cfg["CACHES"] = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url}}
        path = os.path.join(work, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f)
        return path

    def sessionctl_copy(source_cfg, target_cfg):
        t, out = timed([args.sessionctl, "--config", source_cfg, "--json", "copy", "--to", target_cfg])
        return t, json.loads(out)["copied"]

    def redis_size():
        import redis
        return redis.Redis.from_url(redis_url).dbsize()

    def db_rows(path):
        con = sqlite3.connect(path)
        try:
            return con.execute("SELECT count(*) FROM django_session").fetchone()[0]
        finally:
            con.close()

    rows = []  # (direction, n, who, seconds, copied, same result)
    redis_cfg = config("redis.json", "cache")
    # At small_n: both sides, and their resulting stores compared through Django.
    a = os.path.join(work, "a.sqlite3")
    shutil.copyfile(src_small, a)
    flush(redis_url)
    n_py, t_py = py(PY_LOOP, "db-to-cache", a, redis_url).split()
    want = py(DUMP, "cache", a, redis_url)
    flush(redis_url)
    t_sc, copied = sessionctl_copy(config("a.json", "db", a), redis_cfg)
    same = py(DUMP, "cache", a, redis_url) == want
    rows.append(("db (SQLite) -> cache (Redis)", small_n, "python", float(t_py), int(n_py), same))
    rows.append(("db (SQLite) -> cache (Redis)", small_n, "sessionctl", t_sc, copied, same))
    # Redis now holds sessionctl's copy, identical to Django's.
    b_py, b_sc = os.path.join(work, "b_py.sqlite3"), os.path.join(work, "b_sc.sqlite3")
    shutil.copyfile(empty, b_py)
    shutil.copyfile(empty, b_sc)
    n_py2, t_py2 = py(PY_LOOP, "cache-to-db", b_py, redis_url).split()
    t_sc2, copied2 = sessionctl_copy(redis_cfg, config("b.json", "db", b_sc))
    same2 = py(DUMP, "db", b_py, redis_url) == py(DUMP, "db", b_sc, redis_url)
    rows.append(("cache (Redis) -> db (SQLite)", small_n, "python", float(t_py2), int(n_py2), same2))
    rows.append(("cache (Redis) -> db (SQLite)", small_n, "sessionctl", t_sc2, copied2, same2))
    if small_n < args.n:
        # sessionctl alone at n (the result: every session there).
        full = os.path.join(work, "full.sqlite3")
        shutil.copyfile(src, full)
        flush(redis_url)
        t, copied = sessionctl_copy(config("full.json", "db", full), redis_cfg)
        rows.append(("db (SQLite) -> cache (Redis)", args.n, "sessionctl", t, copied,
                     copied == args.n and redis_size() == args.n))
        c_sc = os.path.join(work, "c_sc.sqlite3")
        shutil.copyfile(empty, c_sc)
        t, copied = sessionctl_copy(redis_cfg, config("c.json", "db", c_sc))
        rows.append(("cache (Redis) -> db (SQLite)", args.n, "sessionctl", t, copied,
                     copied == args.n and db_rows(c_sc) == args.n))
    flush(redis_url)
    print(f"python = one Django process (load on one side, save(must_create=True) on the other, timed "
          f"after django.setup()); sessionctl = the whole process; work in {work}")
    rate = {}
    for direction, n, who, t, copied, same in rows:
        rate[(direction, n, who)] = copied / t
        print(f"{direction:30} n={n:<7} {who:10} {t:8.2f} s  {copied / t:9.0f} sessions/s  copied {copied}  "
              f"same result: {same}")
    for direction in dict.fromkeys(r[0] for r in rows):
        py_rate = rate[(direction, small_n, "python")]
        for n in sorted({r[1] for r in rows if r[0] == direction and r[2] == "sessionctl"}):
            print(f"{direction:30} sessionctl at n={n} vs python at n={small_n}: "
                  f"x{rate[(direction, n, 'sessionctl')] / py_rate:.1f} (per-session rates)")
    return 0 if all(r[5] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
