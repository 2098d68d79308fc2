#!/usr/bin/python3
"""Race tests against real Django (issue 7): Django workers keep saving,
extending and logging users in while sessionctl's clearsessions,
delete --user, delete --where and expire run, on the db (SQLite, MariaDB,
PostgreSQL), file, cache (Redis and memcached) and cached_db (SQLite + Redis)
engines.

    races_test.py --sessionctl PATH [--seconds 10] [--workers 3] [-k ENGINE]

ENGINE: db, db_mysql, db_pg, file, cache_redis, cache_memcached, cached_db.
db_mysql and db_pg run the db engine on the shared MariaDB
(SESSIONCTL_TEST_MYSQL, Django's mysql backend on python3-mysqldb) and
PostgreSQL (SESSIONCTL_TEST_PG, psycopg2), each in a database of the run's
own, created and dropped here (race_sql.py). The cache engines use the shared
servers in SESSIONCTL_TEST_REDIS / SESSIONCTL_TEST_MEMCACHED (Redis db 9, a
KEY_PREFIX of the run's own; see race_caches.py). Without its server an engine
SKIPs, or FAILs when SESSIONCTL_REQUIRE_SERVERS=1. Redis is reached through
django-redis (Django 3.2 has no RedisCache), memcached through PyMemcacheCache.

Each worker is a process running the system Django (3.2) that, in a loop:
creates sessions, short-lived ones (set_expiry 1-4 s: they expire mid-run,
so clearsessions removes workers' sessions too, racing the requests that
extend them just in time) and long ones (1-2 hours), reopens its own and
extends them (set_expiry 1-2 hours + save; most requests come from logged-in users,
and a view works 0-5 ms between load() and save()), and "logs in" users 1-5
(the three _auth_user_* keys login() writes; user 3, whom sessionctl logs
out, is the busiest). On the cache engines every cache.set pauses 0-10 ms
first (a busy network or GIL), which widens the windows the invariants are
about, so resurrections actually happen in a 10 s run.
Every request is journalled (key, expiry written, start and end time, user,
whether save() succeeded); UpdateError (the session vanished: Django's own
"never resurrect") makes the worker forget the key. The store starts with
1,000 expired sessions (some expire while the run goes on), and live
"target" sessions for expire.

New anonymous sessions hold hits=0; each extension increments it.

Meanwhile sessionctl runs in turn: `-v --json clearsessions`,
`-v --json delete --user 3`, `-v --json delete --where hits=0` (visitors who
never came back: a request extending one after the scan read it makes it no
longer match, so a delete that is not conditional loses a live session),
`expire TARGET --now` and `expire TARGET --in 7200`. When the workers have
stopped, the store is read directly (sqlite3 / MySQLdb / psycopg2, the
directory, redis-py / pymemcache), then a final clearsessions and
delete --user run, and it is read again.

Invariants (a removed key is one a sessionctl run reported as deleted):
  all engines:
  - no live session lost: every key whose last successful save wrote an
    expiry more than a minute after the run and hits >= 1 (or a logged-in
    user other than 3), and is not an expire --now target, is still there
    (cached_db: its row);
  - every `expire --in 7200` target is still there;
  - after the final clearsessions and delete --user: no expire --now target
    and no session of user 3 is left (cached_db: except the cached copies
    counted below, which sessionctl, listing the table, cannot see).
  db (Django's SQL is conditional): no removed key exists at the end, and no
    expired row is left after the final clearsessions.
  file (FileStore.save() checks the file exists, then renames a temporary
    file over it) and cache (SessionStore.save() of an existing session is
    cache.get, then a plain cache.set): a removed key that exists at the end
    is a resurrection, which Django's own delete allows too. Each must be
    explained by a successful journalled save of that key in flight while the
    removing command ran.
  cached_db: rows as on the db engine (strict). A removed key whose cache
    entry exists at the end (Django would serve it from the cache) is a
    resurrection; each must be explained by a journalled request on that key
    (a save's cache.set, or load()'s refill from the row it read before the
    delete) in flight while the removing command ran, or be the cached copy
    of a session clearsessions removed as expired that times out with it
    (TTL ends within a request's duration + 2 s of the expiry last saved:
    Django's cached_db serves that copy until then too).
Counts of each are printed, with how many sessions each delete kept because
a request rewrote them after the scan (exit 5).

Prints one PASS/FAIL/SKIP line per engine with the counts, then
"N passed, M failed, K skipped"; exit 1 on any failure.
"""

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from race_caches import CacheServer, server_missing  # noqa: E402
from race_sql import SqlDatabase, server_missing as sql_server_missing  # noqa: E402

SECRET = "race-test-secret-3f8a2c6e1b-never-printed-0123456789abcdefXYZ"
DB_ENGINE = "django.contrib.sessions.backends.db"
FILE_ENGINE = "django.contrib.sessions.backends.file"
CACHE_ENGINE = "django.contrib.sessions.backends.cache"
CACHED_DB_ENGINE = "django.contrib.sessions.backends.cached_db"
OUT_USER = "3"
# name -> (SESSION_ENGINE, cache server kind or None, SQL database kind: race_sql.py)
ENGINES = {
    "db": (DB_ENGINE, None, "sqlite"),
    "db_mysql": (DB_ENGINE, None, "mysql"),
    "db_pg": (DB_ENGINE, None, "pg"),
    "file": (FILE_ENGINE, None, "sqlite"),
    "cache_redis": (CACHE_ENGINE, "redis", "sqlite"),
    "cache_memcached": (CACHE_ENGINE, "memcached", "sqlite"),
    "cached_db": (CACHED_DB_ENGINE, "redis", "sqlite"),
}
HAS_DB = (DB_ENGINE, CACHED_DB_ENGINE)


def django_setup(engine, database, session_dir, caches=None):
    import django
    from django.conf import settings
    extra = {"CACHES": caches} if caches else {}
    settings.configure(
        SECRET_KEY=SECRET, USE_TZ=True, TIME_ZONE="UTC", INSTALLED_APPS=["django.contrib.sessions"],
        SESSION_ENGINE=engine, SESSION_FILE_PATH=str(session_dir),
        DATABASES={"default": database},
        **extra,
    )
    django.setup()


def worker(n, engine, database, session_dir, caches, journal_path, stop_at, seed):
    django_setup(engine, database, session_dir, caches)
    from importlib import import_module
    from django.conf import settings
    from django.contrib.sessions.backends.base import UpdateError
    from django.db.utils import OperationalError
    store = import_module(settings.SESSION_ENGINE).SessionStore
    rng = random.Random(seed)
    if engine in (CACHE_ENGINE, CACHED_DB_ENGINE):
        # A request can pause between reading and writing (GIL, network, a
        # busy cache): up to 10 ms before each cache.set widens the windows
        # the invariants are about (save's get..set, load()'s row..refill).
        from django.core.cache import caches
        cache = caches[settings.SESSION_CACHE_ALIAS]  # per thread: the instance SessionStore uses
        plain_set = cache.set

        def paused_set(*a, **kw):
            time.sleep(rng.uniform(0, 0.010))
            return plain_set(*a, **kw)
        cache.set = paused_set
    mine = []  # keys this worker keeps touching
    errors = {"locked": 0, "update_error": 0, "other": 0}
    with open(journal_path, "w") as journal:
        def record(key, expiry, start, user, ok=True, hits=None):
            journal.write(json.dumps([key, expiry, start, time.time(), user, ok, hits]) + "\n")

        def new_session(expiry, user=None):
            s = store()
            if user:
                s["_auth_user_id"] = user
                s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
                s["_auth_user_hash"] = "%064x" % rng.getrandbits(256)
            else:  # a visitor who never came back yet: what `delete --where hits=0` removes
                s["cart"] = [rng.randrange(100)]
                s["hits"] = 0
            s.set_expiry(expiry)
            s.save()
            mine.append((s.session_key, user))
            return s

        while time.time() < stop_at:
            start = time.time()
            op = rng.random()
            key = None
            try:
                if not mine or 0.15 <= op < 0.3:    # a new visitor
                    s = new_session(rng.randrange(3600, 7200))
                    record(s.session_key, s.get_expiry_date().timestamp(), start, None, hits=0)
                elif op < 0.15:                     # a visitor whose session expires within seconds
                    s = new_session(rng.randrange(1, 5))
                    record(s.session_key, s.get_expiry_date().timestamp(), start, None, hits=0)
                elif op < 0.45:                     # log a user in (what login() stores)
                    user = rng.choice("1233345")  # user 3, whom sessionctl logs out, is the busiest
                    s = new_session(rng.randrange(3600, 7200), user)
                    record(s.session_key, s.get_expiry_date().timestamp(), start, user)
                else:                               # a request that extends a session (often a recent one)
                    users = [j for j, m in enumerate(mine) if m[1]]
                    if op < 0.65 and users:         # logged-in users make most requests
                        i = rng.choice(users[-30:])
                    elif op < 0.85:
                        i = rng.randrange(max(0, len(mine) - 20), len(mine))
                    else:
                        i = rng.randrange(len(mine))
                    key, user = mine[i]
                    s = store(key)
                    if not s.exists(key):
                        mine.pop(i)
                        continue
                    s["hits"] = s.get("hits", 0) + 1  # load()
                    time.sleep(rng.uniform(0, 0.005))  # the view's own work
                    s.set_expiry(rng.randrange(3600, 7200))
                    s.save()
                    if s.session_key != key:        # it expired or vanished on load: a new session
                        mine[i] = (s.session_key, None)
                        user = None
                    record(s.session_key, s.get_expiry_date().timestamp(), start, user, hits=s["hits"])
            except UpdateError:
                errors["update_error"] += 1
                # Not saved, but cached_db's load() may have refilled the cache: journalled.
                record(key, None, start, user, ok=False)
                mine = [m for m in mine if m[0] != key]
            except OperationalError as e:
                errors["locked" if "locked" in str(e) else "other"] += 1
                if key:
                    record(key, None, start, user, ok=False)
            journal.flush()
    with open(str(journal_path) + ".errors", "w") as f:
        json.dump(errors, f)


def seed_store(engine, database, session_dir, caches, expired, targets):
    """Expired sessions and live expire targets, written by Django."""
    code = f"""
import sys, os, time, json
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from races_test import django_setup
django_setup({engine!r}, json.loads({json.dumps(database)!r}), {str(session_dir)!r},
             json.loads({json.dumps(caches)!r}))
from importlib import import_module
from django.conf import settings
from django.core.management import call_command
if settings.SESSION_ENGINE.endswith((".db", ".cached_db")):
    call_command("migrate", "sessions", verbosity=0)
from django.db import transaction
store = import_module(settings.SESSION_ENGINE).SessionStore
keys = []
atomic = transaction.atomic()  # one commit for the db engine's rows (fast); no effect on files
atomic.__enter__()
for i in range({expired} + {targets}):
    s = store()
    s["seed"] = i
    if i < {expired}:
        # Expired a while ago, or within the next seconds (they expire mid-run).
        # The cache engine stores no value for a timeout <= 0: only the latter exist there.
        s.set_expiry(-86400 if i % 4 else 1 + (i % 8))  # int seconds: 3.2 cannot store a datetime
    else:
        s.set_expiry(7200)
    s.save()
    keys.append(s.session_key)
    if i < {expired} and settings.SESSION_ENGINE.endswith(".file") and i % 4:
        path = os.path.join(settings.SESSION_FILE_PATH, settings.SESSION_COOKIE_NAME + s.session_key)
        old = time.time() - 30 * 86400
        os.utime(path, (old, old))
atomic.__exit__(None, None, None)
print(" ".join(keys[{expired}:]))
"""
    p = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"seeding failed: {p.stderr[-500:]}")
    return p.stdout.split()


class Site:
    """One engine's store: where it lives and how to read what it holds."""

    def __init__(self, name, root):
        self.name = name
        self.engine, kind, sql_kind = ENGINES[name]
        self.sql = SqlDatabase(sql_kind, root)
        self.session_dir = root / "sessions"
        self.cache = CacheServer(kind, self.engine) if kind else None
        self.caches = self.cache.caches if self.cache else None

    def state(self, keys):
        """What the store holds: {"rows": {key: expiry} (db engines), "files": set, "cache": {key: ttl}}
        and "present": the keys Django would find (cached_db: row or cache entry)."""
        st = {"rows": {}, "files": set(), "cache": {}}
        if self.engine in HAS_DB:
            st["rows"] = self.sql.rows()
        if self.engine == FILE_ENGINE:
            st["files"] = {p.name[len("sessionid"):] for p in self.session_dir.iterdir()
                           if p.name.startswith("sessionid") and "_out_" not in p.name}
        if self.cache:
            st["cache"] = self.cache.remaining(keys)
        st["present"] = set(st["rows"]) | st["files"] | set(st["cache"])
        # The authority for "still there": the row on cached_db, else whatever holds it.
        st["kept"] = set(st["rows"]) if self.engine == CACHED_DB_ENGINE else st["present"]
        return st


def run_engine(name, sessionctl, work, seconds, workers):
    root = work / name
    root.mkdir()
    site = Site(name, root)
    engine = site.engine
    site.session_dir.mkdir()
    secret_file = root / "secret_key"
    secret_file.write_text(SECRET + "\n")
    os.chmod(secret_file, 0o600)
    config = root / "sessionctl.json"
    settings = {"SESSION_ENGINE": engine, "SECRET_KEY_FILE": str(secret_file), "USE_TZ": True,
                "TIME_ZONE": "UTC", "DJANGO_VERSION": "3.2", "SESSION_FILE_PATH": str(site.session_dir),
                "DATABASES": {"default": site.sql.settings}}
    if site.caches:
        settings["CACHES"] = site.caches
    config.write_text(json.dumps(settings))
    os.chmod(config, 0o600)
    journal, procs = [], []
    try:
        site.sql.create()
        return check_engine(site, sessionctl, config, root, seconds, workers, journal, procs)
    finally:
        for p in procs:  # after a failure mid-run: no worker outlives its database and folder
            if p.is_alive():
                p.terminate()
                p.join()
        site.sql.drop()
        if site.cache:
            site.cache.cleanup({r[0] for r in journal if r[0]})


def check_engine(site, sessionctl, config, root, seconds, workers, journal, procs):
    engine = site.engine
    # The cache engine keeps no expired sessions: a few seeds suffice there.
    seeds = 200 if engine == CACHE_ENGINE else 1000
    targets = seed_store(engine, site.sql.settings, site.session_dir, site.caches, seeds, 40)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONCTL_")}

    stop_at = time.time() + seconds
    for n in range(workers):
        p = mp.Process(target=worker, args=(n, engine, site.sql.settings, site.session_dir, site.caches,
                                            root / f"journal{n}", stop_at, 1000 + n))
        p.start()
        procs.append(p)

    runs = []  # (command, start, end, removed keys, exit code, kept because rewritten meanwhile)
    problems = []

    def sessionctl_run(*args):
        t0 = time.time()
        p = subprocess.run([sessionctl, "--config", str(config), *args], capture_output=True, text=True, env=env,
                           timeout=120)
        t1 = time.time()
        removed, kept = [], 0
        if "--json" in args and p.stdout.strip():
            try:
                out = json.loads(p.stdout.strip().splitlines()[-1])
                removed = out.get("keys", [])
                kept = out.get("matched", 0) - out.get("deleted", 0)
            except ValueError:
                problems.append(f"{' '.join(args)}: unreadable JSON {p.stdout[:200]!r}")
        if p.returncode not in (0, 1, 5):
            problems.append(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.strip()[:300]!r}")
        runs.append((" ".join(args), t0, t1, removed, p.returncode, kept))
        return p

    expired_now, extended, not_extended = [], [], []
    i = 0
    while time.time() < stop_at:
        sessionctl_run("-v", "--json", "clearsessions", *(["--sleep", "0.01"] if engine in HAS_DB else []))
        sessionctl_run("-v", "--json", "delete", "--user", OUT_USER)
        sessionctl_run("-v", "--json", "delete", "--where", "hits=0")
        if i + 1 < len(targets):
            sessionctl_run("expire", targets[i], "--now")
            expired_now.append(targets[i])
            r = sessionctl_run("expire", targets[i + 1], "--in", "7200")
            (extended if r.returncode == 0 else not_extended).append((targets[i + 1], r.stderr.strip()[:200]))
            i += 2
        time.sleep(0.05)
    for p in procs:
        p.join(timeout=60)
        if p.exitcode != 0:
            problems.append(f"a Django worker exited with {p.exitcode}")
    end_time = time.time()
    if not_extended:  # nothing else touches the targets: each must succeed
        problems.append(f"{len(not_extended)} of {len(not_extended) + len(extended)} expire --in 7200 failed, "
                        f"e.g. {not_extended[0]}")
    extended = [k for k, _ in extended]

    errors = {}
    for n in range(workers):
        with open(root / f"journal{n}") as f:
            journal += [json.loads(line) for line in f if line.strip()]
        with open(root / f"journal{n}.errors") as f:
            for k, v in json.load(f).items():
                errors[k] = errors.get(k, 0) + v
    journal.sort(key=lambda r: r[3])
    removed_by = {}
    for cmd, t0, t1, keys, _, _ in runs:
        for k in keys:
            removed_by.setdefault(k, []).append((t0, t1, cmd))
    known = {r[0] for r in journal if r[0]} | set(removed_by) | set(targets)
    st = site.state(known)
    probe_time = time.time()

    # No live session lost.
    last = {}
    for key, expiry, start, end, user, ok, hits in journal:
        if ok:
            last[key] = (expiry, user, hits)
    # Sessions sessionctl was asked to remove (user 3's; never extended, hits=0) may go.
    lost = [k for k, (expiry, user, hits) in last.items()
            if expiry > end_time + 60 and user != OUT_USER and hits != 0 and k not in expired_now
            and k not in st["kept"]]
    if lost:
        problems.append(f"{len(lost)} live sessions lost, e.g. {lost[:3]}")
    gone_targets = [k for k in extended if k not in st["kept"]]
    if gone_targets:
        problems.append(f"{len(gone_targets)} sessions extended by expire --in 7200 are gone, e.g. {gone_targets[:3]}")

    # Removed keys that are back.
    by_key = {}
    for key, expiry, start, end, user, ok, _ in journal:
        by_key.setdefault(key, []).append((start, end, ok, expiry))

    def in_flight(k, saves_only):
        return any(s <= t1 and e >= t0 for (t0, t1, _) in removed_by[k] for (s, e, ok, _) in by_key.get(k, [])
                   if ok or not saves_only)

    def lingering(k):
        # cached_db: the cached copy of a session clearsessions removed as expired, timing out with it.
        ttl = st["cache"].get(k)
        ops = by_key.get(k, [])
        saved = [x for (_, _, ok, x) in ops if ok]
        if ttl is None or not saved or not all("clearsessions" in c for (_, _, c) in removed_by[k]):
            return False
        if saved[-1] > max(t1 for (_, t1, _) in removed_by[k]):
            return False  # it was not expired when clearsessions removed it
        longest = max(e - s for (s, e, _, _) in ops)
        return probe_time + ttl <= saved[-1] + longest + 2

    back = [k for k in removed_by if k in st["present"]]
    rows_back = [k for k in back if k in st["rows"]]
    linger, explained, unexplained = [], [], []
    for k in back:
        if k in rows_back:
            continue
        if engine == CACHED_DB_ENGINE and lingering(k):
            linger.append(k)
        elif in_flight(k, saves_only=engine != CACHED_DB_ENGINE):
            explained.append(k)
        else:
            unexplained.append(k)
    if engine == DB_ENGINE and back:
        problems.append(f"{len(back)} deleted sessions came back, e.g. {back[:3]}")
    if engine == CACHED_DB_ENGINE and rows_back:
        problems.append(f"{len(rows_back)} deleted rows came back, e.g. {rows_back[:3]}")
    if engine != DB_ENGINE and unexplained:
        problems.append(f"{len(unexplained)} resurrections not explained by an in-flight Django request, "
                        f"e.g. {unexplained[:3]}")

    # A final clearsessions and delete --user, with nothing racing them, finish the job.
    sessionctl_run("-v", "--json", "clearsessions")
    sessionctl_run("-v", "--json", "delete", "--user", OUT_USER)
    st = site.state(known)
    left = [k for k in expired_now if k in st["present"]]
    if left:
        problems.append(f"{len(left)} expire --now targets still there after clearsessions, e.g. {left[:3]}")
    user_keys = {r[0] for r in journal if r[4] == OUT_USER and r[0]}
    still_in = [k for k in user_keys if k in st["present"]]
    # cached_db included: a cached copy a racing request wrote back after its
    # row was deleted is found in the cache by the final delete --user.
    if still_in:
        problems.append(f"{len(still_in)} sessions of user {OUT_USER} left after a final delete --user, "
                        f"e.g. {still_in[:3]}")
    if engine in HAS_DB:  # nothing expired is left (by expire_date)
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 1))
        stale = [k for k, e in st["rows"].items() if e < now]
        if stale:
            problems.append(f"{len(stale)} expired sessions left after the final clearsessions")

    saves = sum(1 for r in journal if r[5])
    def removed(what):
        return sum(len(r[3]) for r in runs if what in r[0]), sum(r[5] for r in runs if what in r[0])
    cleared = removed("clearsessions")[0]
    summary = (f"{saves} Django saves by {workers} workers in {seconds}s, {len(runs)} sessionctl runs "
               f"(clearsessions removed {cleared}, delete --user removed %d and kept %d rewritten meanwhile, "
               f"delete --where hits=0 removed %d and kept %d, {len(expired_now)} expire --now), "
               % (removed("--user") + removed("--where")) +
               f"lost {len(lost)}, came back {len(back)} "
               f"({len(explained)} explained by an in-flight request"
               + (f", {len(linger)} cached copies timing out with the expired row" if engine == CACHED_DB_ENGINE
                  else "")
               + f"), Django errors {errors}")
    return problems, summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessionctl", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("-k", dest="only", action="append", choices=list(ENGINES),
                    help="run only this engine (repeatable)")
    args = ap.parse_args()
    sessionctl = str(Path(args.sessionctl).resolve())
    work = Path(tempfile.mkdtemp(prefix="sessionctl-race-"))
    passed = failed = skipped = 0
    try:
        for name, (engine, kind, sql_kind) in ENGINES.items():
            if args.only and name not in args.only:
                continue
            missing = (server_missing(kind) if kind else None) or (sql_server_missing(sql_kind) if engine in HAS_DB
                                                                   else None)
            if missing:
                verdict, reason = missing
                print(f"{verdict} race_{name}: {reason}", flush=True)
                if verdict == "FAIL":
                    failed += 1
                else:
                    skipped += 1
                continue
            t = time.time()
            try:
                problems, summary = run_engine(name, sessionctl, work, args.seconds, args.workers)
            except Exception as e:
                problems, summary = [f"{type(e).__name__}: {e}"], ""
            took = f" [{time.time() - t:.0f}s]"
            if problems:
                failed += 1
                print(f"FAIL race_{name}: {'; '.join(problems)} [{summary}]{took}", flush=True)
            else:
                passed += 1
                print(f"PASS race_{name}: {summary}{took}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    mp.set_start_method("fork")
    sys.exit(main())
