#!/usr/bin/python3
"""Race tests against real Django (issue 7): Django workers keep saving,
extending and logging users in while sessionctl's clearsessions,
delete --user and expire run, on the db (SQLite) and file engines.

    run_race_tests.py --sessionctl PATH [--seconds 10] [--workers 3] [-k ENGINE]

Each worker is a process running the system Django (3.2) that, in a loop:
creates sessions (set_expiry 1-2 hours), reopens its own and extends them
(set_expiry + save), and "logs in" users 1-5 (the three _auth_user_* keys
login() writes; user 3 is the one sessionctl logs out). Every successful
save is journalled (key, expiry written, start and end time); UpdateError
(the row or file vanished: Django's own "never resurrect") makes the worker
forget the key. The table / directory starts with 1,000 expired sessions
(some expire while the run goes on), and live "target" sessions for expire.

Meanwhile sessionctl runs in turn: `-v --json clearsessions`,
`-v --json delete --user 3`, `expire TARGET --now` (then a clearsessions
removes it) and `expire TARGET --in 7200`. Checked afterwards:

db engine (Django's SQL is conditional, so the invariants are strict):
  - no live session lost: every key whose last journalled save wrote a future
    expiry, not owned by user 3 and not an expire --now target, still exists;
  - no deleted session comes back: no key that clearsessions or delete --user
    reported as removed exists at the end;
  - no expired-only session left once a final clearsessions ran.
file engine (Django's FileStore.save() checks the file exists, then renames a
temporary file over it; a delete between the two brings the file back, in
Django itself): a removed key that exists at the end is a resurrection. Each
must be explained by a journalled Django save of that key that was in flight
while the removing command ran; the count is printed. Lost live sessions are
checked as for the db engine.

Prints one PASS/FAIL line per engine with the counts, "N passed, M failed";
exit 1 on any failure.
"""

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECRET = "race-test-secret-3f8a2c6e1b-never-printed-0123456789abcdefXYZ"
DB_ENGINE = "django.contrib.sessions.backends.db"
FILE_ENGINE = "django.contrib.sessions.backends.file"
OUT_USER = "3"


def django_setup(engine, db, session_dir):
    import django
    from django.conf import settings
    settings.configure(
        SECRET_KEY=SECRET, USE_TZ=True, TIME_ZONE="UTC", INSTALLED_APPS=["django.contrib.sessions"],
        SESSION_ENGINE=engine, SESSION_FILE_PATH=str(session_dir),
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db),
                               "OPTIONS": {"timeout": 10}}},
    )
    django.setup()


def worker(n, engine, db, session_dir, journal_path, stop_at, seed):
    django_setup(engine, db, session_dir)
    from importlib import import_module
    from django.conf import settings
    from django.contrib.sessions.backends.base import UpdateError
    from django.db.utils import OperationalError
    store = import_module(settings.SESSION_ENGINE).SessionStore
    rng = random.Random(seed)
    mine = []  # keys this worker keeps touching
    errors = {"locked": 0, "update_error": 0, "other": 0}
    with open(journal_path, "w") as journal:
        def record(s, start, user):
            expiry = s.get_expiry_date().timestamp()
            journal.write(json.dumps([s.session_key, expiry, start, time.time(), user]) + "\n")

        while time.time() < stop_at:
            start = time.time()
            op = rng.random()
            try:
                if op < 0.3 or not mine:            # a new visitor
                    s = store()
                    s["cart"] = [rng.randrange(100)]
                    s.set_expiry(rng.randrange(3600, 7200))
                    s.save()
                    mine.append((s.session_key, None))
                    record(s, start, None)
                elif op < 0.5:                      # log a user in (what login() stores)
                    user = str(rng.randrange(1, 6))
                    s = store()
                    s["_auth_user_id"] = user
                    s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
                    s["_auth_user_hash"] = "%064x" % rng.getrandbits(256)
                    s.set_expiry(rng.randrange(3600, 7200))
                    s.save()
                    mine.append((s.session_key, user))
                    record(s, start, user)
                else:                               # a request that extends a session
                    i = rng.randrange(len(mine))
                    key, user = mine[i]
                    s = store(key)
                    if not s.exists(key):
                        mine.pop(i)
                        continue
                    s["hits"] = s.get("hits", 0) + 1
                    s.set_expiry(rng.randrange(3600, 7200))
                    s.save()
                    if s.session_key != key:        # it expired or vanished on load: a new session
                        mine[i] = (s.session_key, None)
                        user = None
                    record(s, start, user)
            except UpdateError:
                errors["update_error"] += 1
                mine = [m for m in mine if m[0] != key]
            except OperationalError as e:
                errors["locked" if "locked" in str(e) else "other"] += 1
            journal.flush()
    with open(str(journal_path) + ".errors", "w") as f:
        json.dump(errors, f)


def seed_store(engine, db, session_dir, expired, targets):
    """Expired sessions and live expire targets, written by Django."""
    code = f"""
import sys, os, time, datetime
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, {str(Path(__file__).parent)!r})
from run_race_tests import django_setup
django_setup({engine!r}, {str(db)!r}, {str(session_dir)!r})
from importlib import import_module
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
if settings.SESSION_ENGINE.endswith(".db"):
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


def existing_keys(engine, db, session_dir):
    if engine == DB_ENGINE:
        con = sqlite3.connect(db, timeout=30)
        try:
            return {k: e for k, e in con.execute("SELECT session_key, expire_date FROM django_session")}
        finally:
            con.close()
    return {p.name[len("sessionid"):]: None for p in Path(session_dir).iterdir()
            if p.name.startswith("sessionid") and "_out_" not in p.name}


def run_engine(engine, sessionctl, work, seconds, workers):
    short = "db" if engine == DB_ENGINE else "file"
    root = work / short
    root.mkdir()
    db = root / "db.sqlite3"
    session_dir = root / "sessions"
    session_dir.mkdir()
    secret_file = root / "secret_key"
    secret_file.write_text(SECRET + "\n")
    os.chmod(secret_file, 0o600)
    config = root / "sessionctl.json"
    config.write_text(json.dumps({"SESSION_ENGINE": engine, "SECRET_KEY_FILE": str(secret_file), "USE_TZ": True,
                                  "TIME_ZONE": "UTC", "SESSION_FILE_PATH": str(session_dir),
                                  "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3",
                                                            "NAME": str(db), "OPTIONS": {"timeout": 10}}}}))
    os.chmod(config, 0o600)
    targets = seed_store(engine, db, session_dir, 1000, 40)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONCTL_")}

    stop_at = time.time() + seconds
    procs = []
    for n in range(workers):
        p = mp.Process(target=worker, args=(n, engine, db, session_dir, root / f"journal{n}", stop_at, 1000 + n))
        p.start()
        procs.append(p)

    runs = []  # (command, start, end, removed keys, exit code)
    problems = []

    def sessionctl_run(*args):
        t0 = time.time()
        p = subprocess.run([sessionctl, "--config", str(config), *args], capture_output=True, text=True, env=env,
                           timeout=120)
        t1 = time.time()
        removed = []
        if "--json" in args and p.stdout.strip():
            try:
                removed = json.loads(p.stdout.strip().splitlines()[-1]).get("keys", [])
            except ValueError:
                problems.append(f"{' '.join(args)}: unreadable JSON {p.stdout[:200]!r}")
        if p.returncode not in (0, 1, 5):
            problems.append(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.strip()[:300]!r}")
        runs.append((" ".join(args), t0, t1, removed, p.returncode))
        return p

    expired_now = []
    i = 0
    while time.time() < stop_at:
        sessionctl_run("-v", "--json", "clearsessions", *(["--sleep", "0.01"] if engine == DB_ENGINE else []))
        sessionctl_run("-v", "--json", "delete", "--user", OUT_USER)
        if i < len(targets):
            sessionctl_run("expire", targets[i], "--now")
            expired_now.append(targets[i])
            sessionctl_run("expire", targets[i + 1], "--in", "7200")
            i += 2
        time.sleep(0.05)
    for p in procs:
        p.join(timeout=60)
    end_time = time.time()
    sessionctl_run("-v", "--json", "clearsessions")

    journal = []
    errors = {}
    for n in range(workers):
        with open(root / f"journal{n}") as f:
            journal += [json.loads(line) for line in f if line.strip()]
        with open(root / f"journal{n}.errors") as f:
            for k, v in json.load(f).items():
                errors[k] = errors.get(k, 0) + v
    final = existing_keys(engine, db, session_dir)

    # Last journalled save per key.
    last = {}
    for key, expiry, start, end, user in sorted(journal, key=lambda r: r[3]):
        last[key] = (expiry, user)
    lost = [k for k, (expiry, user) in last.items()
            if expiry > end_time + 60 and user != OUT_USER and k not in expired_now and k not in final]
    if lost:
        problems.append(f"{len(lost)} live sessions lost, e.g. {lost[:3]}")

    removed_by = {}
    for cmd, t0, t1, keys, _ in runs:
        for k in keys:
            removed_by.setdefault(k, []).append((t0, t1))
    back = [k for k in removed_by if k in final]
    explained = []
    for k in back:
        saves = [(s, e) for key, _, s, e, _ in journal if key == k]
        if any(s <= t1 and e >= t0 for (t0, t1) in removed_by[k] for (s, e) in saves):
            explained.append(k)
    unexplained = [k for k in back if k not in explained]
    if engine == DB_ENGINE and back:
        problems.append(f"{len(back)} deleted sessions came back, e.g. {back[:3]}")
    elif unexplained:
        problems.append(f"{len(unexplained)} resurrections not explained by an in-flight Django save, "
                        f"e.g. {unexplained[:3]}")
    # After the final clearsessions nothing expired is left (db: by expire_date).
    if engine == DB_ENGINE:
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 1))
        stale = [k for k, e in final.items() if e < now]
        if stale:
            problems.append(f"{len(stale)} expired sessions left after the final clearsessions")

    user_out = sum(len(r[3]) for r in runs if "--user" in r[0])
    cleared = sum(len(r[3]) for r in runs if "clearsessions" in r[0])
    summary = (f"{len(journal)} Django saves by {workers} workers in {seconds}s, "
               f"{len(runs)} sessionctl runs (clearsessions removed {cleared}, delete --user {user_out}, "
               f"{len(expired_now)} expire --now), lost {len(lost)}, came back {len(back)} "
               f"({len(explained)} explained by an in-flight save), Django errors {errors}")
    return problems, summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessionctl", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("-k", dest="only", help="db or file")
    args = ap.parse_args()
    sessionctl = str(Path(args.sessionctl).resolve())
    work = Path(tempfile.mkdtemp(prefix="sessionctl-race-"))
    passed = failed = 0
    try:
        for engine in (DB_ENGINE, FILE_ENGINE):
            name = "db" if engine == DB_ENGINE else "file"
            if args.only and args.only != name:
                continue
            try:
                problems, summary = run_engine(engine, sessionctl, work, args.seconds, args.workers)
            except Exception as e:
                problems, summary = [f"{type(e).__name__}: {e}"], ""
            if problems:
                failed += 1
                print(f"FAIL race_{name}: {'; '.join(problems)} [{summary}]", flush=True)
            else:
                passed += 1
                print(f"PASS race_{name}: {summary}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    mp.set_start_method("fork")
    sys.exit(main())
