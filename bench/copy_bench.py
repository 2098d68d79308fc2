#!/usr/bin/python3
"""Benchmark (not a test): `sessionctl copy` against the loop sites write by hand.

    /usr/bin/python3 bench/copy_bench.py --sessionctl build/cli/sessionctl \
        [--redis redis://127.0.0.1:6391] [--db 12] [-n 100000] [--work DIR]

Makes N sessions with Django (system 3.2: SessionStore.encode(), expiry 14 days,
1 in 3 logged in) in a SQLite django_session table, then times, each on fresh
identical copies of the source:
  1. db (SQLite) -> cache (Redis, django-redis): `sessionctl copy --to redis.json`
     vs one Python process looping over the rows: db SessionStore(key).load() and a
     cache SessionStore(key) updated with that dict and save(must_create=True);
  2. cache (Redis) -> db (SQLite, an empty migrated table): `sessionctl copy` vs the
     same loop the other way (the cache keys by SCAN).
Both sides' results are compared: the same keys, and Django's load() of each gives
the same dict. Prints the times and the ratio (python / sessionctl). Redis db --db is
FLUSHed: use one of its own.
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
    s.update(data)
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
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    redis_url = f"{args.redis.rstrip('/')}/{args.db}"
    work = args.work or tempfile.mkdtemp(prefix="sessionctl-copy-bench-")
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "source.sqlite3")
    if not os.path.exists(src):
        py(GEN, src, args.n)
    empty = os.path.join(work, "empty.sqlite3")
    if not os.path.exists(empty):
        py(GEN, empty, 0)

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

    results = {}
    # 1. db -> cache
    a = os.path.join(work, "a.sqlite3")
    shutil.copyfile(src, a)
    flush(redis_url)
    t_py = float(py(PY_LOOP, "db-to-cache", a, redis_url).split()[1])
    want = py(DUMP, "cache", a, redis_url)
    flush(redis_url)
    t_sc, out = timed([args.sessionctl, "--config", config("db.json", "db", a), "--json", "copy", "--to",
                       config("redis.json", "cache")])
    got = py(DUMP, "cache", a, redis_url)
    results["db (SQLite) -> cache (Redis)"] = (t_py, t_sc, want == got, json.loads(out)["copied"])
    # 2. cache -> db (the Redis store sessionctl just wrote, identical to Django's)
    b_py, b_sc = os.path.join(work, "b_py.sqlite3"), os.path.join(work, "b_sc.sqlite3")
    shutil.copyfile(empty, b_py)
    shutil.copyfile(empty, b_sc)
    t_py2 = float(py(PY_LOOP, "cache-to-db", b_py, redis_url).split()[1])
    t_sc2, out2 = timed([args.sessionctl, "--config", config("redis.json", "cache"), "--json", "copy", "--to",
                         config("b.json", "db", b_sc)])
    same = py(DUMP, "db", b_py, redis_url) == py(DUMP, "db", b_sc, redis_url)
    results["cache (Redis) -> db (SQLite)"] = (t_py2, t_sc2, same, json.loads(out2)["copied"])
    flush(redis_url)
    print(f"{args.n} sessions; python = one Django process (load on one side, save(must_create=True) "
          f"on the other); work in {work}")
    for name, (tp, ts, same, copied) in results.items():
        print(f"{name:32} python {tp:8.2f} s   sessionctl {ts:7.2f} s   x{tp / ts:6.1f}   "
              f"copied {copied}   same result: {same}")
    return 0 if all(r[2] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
