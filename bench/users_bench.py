#!/usr/bin/python3
"""bench/users_bench.py: what reads the user table (issue 19), timed.

    bench/users_bench.py --sessionctl build/cli/sessionctl [--sessions 1000000]
        [--users 100000] [--rekey-sessions 100000] [--runs 3] [--work DIR]

1. `delete --dead` against `delete --user 42` on the same store (SQLite, N sessions of
   U users: 80% logged in with a valid _auth_user_hash, of which 2% are dead — a
   deleted user, an inactive one or a changed password — and 20% anonymous), each
   on a fresh copy. Target: --dead within 1.3x of --user.
2. `rekey` of R sessions signed with an old key (their hashes made with it too)
   against the loop a Django user would write (get_decoded() with the old key as
   fallback, the hash recomputed from the user's password, encode() with the new
   key, save(update_fields=...), one transaction per 2000 sessions as sessionctl
   writes them; one autocommit save per session took over 15 minutes for 100k
   here), each on a fresh copy. Target: >= 10x.

Stores are generated once per size in --work (default $TMPDIR/sessionctl-users-bench)
with Django's own signing (the system Django). Wall-clock medians of --runs.
"""

import argparse
import hashlib
import hmac
import json
import multiprocessing
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

NEW_KEY = "users-bench-new-key-not-a-real-secret-9c2e7f1a5b3d"
OLD_KEY = "users-bench-old-key-not-a-real-secret-4d8a6c0e2f1b"
SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
BACKEND = "django.contrib.auth.backends.ModelBackend"
KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
CHUNK = 5000


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def setup_django(db, secret, fallbacks=()):
    import django
    from django.conf import settings
    if not settings.configured:
        settings.configure(SECRET_KEY=secret, SECRET_KEY_FALLBACKS=list(fallbacks),
                           INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                                           "django.contrib.sessions"],
                           DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}},
                           USE_TZ=True, TIME_ZONE="UTC", DEFAULT_AUTO_FIELD="django.db.models.AutoField")
        django.setup()


def auth_hash(password, secret):
    key = hashlib.sha256((SALT + secret).encode()).digest()
    return hmac.new(key, password.encode(), hashlib.sha256).hexdigest()


def password_of(uid):
    return "pbkdf2_sha256$600000$%022d$%043d=" % (uid, uid * 7919)


def _encode_chunk(args):
    start, count, users, secret, seed, dead_share = args
    from django.contrib.sessions.backends.db import SessionStore
    store = SessionStore()
    rng = random.Random("%s-%d" % (seed, start))
    out = []
    for _ in range(count):
        key = "".join(rng.choices(KEY_CHARS, k=32))
        d = {}
        if rng.random() < 0.8:
            uid = rng.randint(1, users)
            d = {"_auth_user_id": str(uid), "_auth_user_backend": BACKEND,
                 "_auth_user_hash": auth_hash(password_of(uid), secret)}
            if rng.random() < dead_share:  # a password changed since
                d["_auth_user_hash"] = auth_hash("old-" + password_of(uid), secret)
        if rng.random() < 0.5:
            d["_language"] = rng.choice(["en", "fr", "de"])
        if rng.random() < 0.3:
            d["cart"] = {"items": [{"sku": "SKU-%05d" % rng.randrange(100000), "qty": 1}]}
        if not d:
            d["testcookie"] = "worked"
        out.append((key, store.encode(d), "2030-01-01 00:00:00"))
    return out


def generate(path, sessions, users, secret, dead_share):
    """A migrated Django database with `users` users (a few inactive, a few
    deleted) and `sessions` sessions signed with `secret`."""
    if os.path.exists(path):
        return
    log("generating %s (%d sessions, %d users) ..." % (path, sessions, users))
    tmp = path + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    proc = subprocess.run([sys.executable, __file__, "--_generate", tmp, str(sessions), str(users), secret,
                           str(dead_share)])
    if proc.returncode != 0:
        raise SystemExit("generation failed")
    os.rename(tmp, path)


def generate_in_process(path, sessions, users, secret, dead_share):
    setup_django(path, secret)
    from django.core.management import call_command
    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connections
    connections.close_all()
    conn = sqlite3.connect(path)
    conn.execute("BEGIN")
    # 1% of the users deleted (never inserted), 1% inactive.
    conn.executemany(
        'INSERT INTO auth_user (id, password, last_login, is_superuser, username, last_name, email, is_staff, '
        'is_active, date_joined, first_name) VALUES (?, ?, NULL, 0, ?, "", "", 0, ?, "2024-01-01 00:00:00", "")',
        ((uid, password_of(uid), "user%d" % uid, 0 if uid % 100 == 7 else 1)
         for uid in range(1, users + 1) if uid % 100 != 3))
    chunks = [(s, min(CHUNK, sessions - s), users, secret, "users-bench", dead_share)
              for s in range(0, sessions, CHUNK)]
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
        for part in pool.imap(_encode_chunk, chunks):
            conn.executemany('INSERT OR IGNORE INTO django_session VALUES (?, ?, ?)', part)
    conn.execute("COMMIT")
    conn.close()


def fresh_copy(src, work):
    dst = os.path.join(work, "run.sqlite3")
    shutil.copyfile(src, dst)
    return dst


def config_for(work, db, fallback=False):
    with open(os.path.join(work, "new_key"), "w") as f:
        f.write(NEW_KEY + "\n")
    with open(os.path.join(work, "old_keys"), "w") as f:
        f.write(OLD_KEY + "\n")
    os.chmod(os.path.join(work, "new_key"), 0o600)
    os.chmod(os.path.join(work, "old_keys"), 0o600)
    cfg = {"SECRET_KEY_FILE": os.path.join(work, "new_key"),
           "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}}}
    if fallback:
        cfg["SECRET_KEY_FALLBACKS_FILE"] = os.path.join(work, "old_keys")
    path = os.path.join(work, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    os.chmod(path, 0o600)
    return path


def timed(argv):
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit("%s exited %d: %s" % (" ".join(argv[:6]), proc.returncode, proc.stderr[-1000:]))
    return elapsed, proc.stdout


DJANGO_LOOP = r'''
import sys, json
sys.path.insert(0, sys.argv[1])
import users_bench as b
b.setup_django(sys.argv[2], b.NEW_KEY, [b.OLD_KEY])
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils.crypto import constant_time_compare, salted_hmac
passwords = dict(get_user_model().objects.values_list("id", "password"))
def hash_with(password, secret):
    return salted_hmac(b.SALT, password, secret=secret, algorithm="sha256").hexdigest()
from django.db import transaction
store = SessionStore()
changed = 0
# One transaction per 2000 sessions, as sessionctl batches its writes (one
# autocommit save per session is ~100x slower on SQLite).
keys = list(Session.objects.values_list("session_key", flat=True))
for start in range(0, len(keys), 2000):
    with transaction.atomic():
        for s in Session.objects.filter(session_key__in=keys[start:start + 2000]):
            d = s.get_decoded()
            uid = d.get("_auth_user_id")
            if uid is not None and int(uid) in passwords:
                pw = passwords[int(uid)]
                if constant_time_compare(d.get("_auth_user_hash", ""), hash_with(pw, b.OLD_KEY)):
                    d["_auth_user_hash"] = hash_with(pw, b.NEW_KEY)
            s.session_data = store.encode(d)
            s.save(update_fields=["session_data"])
            changed += 1
print(changed)
'''


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--_generate":
        _, _, path, sessions, users, secret, dead_share = sys.argv
        generate_in_process(path, int(sessions), int(users), secret, float(dead_share))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessionctl", required=True)
    ap.add_argument("--sessions", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--rekey-sessions", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "sessionctl-users-bench"))
    ap.add_argument("--only", choices=["dead", "rekey"], default=None)
    ap.add_argument("--django-cache", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__))), "build", "django-cache"), help="tests/system/fetch_django.sh's folder (Django 5.2 is used: "
                                                 "SECRET_KEY_FALLBACKS needs 4.1+)")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pythonpath = subprocess.run([os.path.join(root, "tests/system/django_env.sh"), "5.2", args.django_cache],
                                capture_output=True, text=True, check=True).stdout.strip()
    os.environ["PYTHONPATH"] = pythonpath
    os.makedirs(args.work, exist_ok=True)
    sessionctl = os.path.abspath(args.sessionctl)
    here = os.path.dirname(os.path.abspath(__file__))
    results = {}

    if args.only in (None, "dead"):
        src = os.path.join(args.work, "dead-%d-%d.sqlite3" % (args.sessions, args.users))
        generate(src, args.sessions, args.users, NEW_KEY, 0.02)
        times = {"user": [], "dead": []}
        for _ in range(args.runs):
            for which, flag in (("user", ["--user", "42"]), ("dead", ["--dead"])):
                db = fresh_copy(src, args.work)
                cfg = config_for(args.work, db)
                t, out = timed([sessionctl, "--config", cfg, "--json", "delete", *flag])
                times[which].append(t)
                results.setdefault("dead_counts", {})[which] = json.loads(out)
        user, dead = statistics.median(times["user"]), statistics.median(times["dead"])
        results["delete"] = {"sessions": args.sessions, "users": args.users, "user_s": round(user, 3),
                             "dead_s": round(dead, 3), "ratio": round(dead / user, 2)}
        log("delete --user 42: %.2fs, delete --dead: %.2fs (%.2fx); %s" % (user, dead, dead / user,
                                                                          results["dead_counts"]))

    if args.only in (None, "rekey"):
        src = os.path.join(args.work, "rekey-%d-%d.sqlite3" % (args.rekey_sessions, args.users))
        generate(src, args.rekey_sessions, args.users, OLD_KEY, 0.0)
        times = {"sessionctl": [], "django": []}
        for _ in range(args.runs):
            db = fresh_copy(src, args.work)
            cfg = config_for(args.work, db, fallback=True)
            t, out = timed([sessionctl, "--config", cfg, "--json", "rekey"])
            times["sessionctl"].append(t)
            results["rekey_counts"] = json.loads(out)
            check, _ = timed([sessionctl, "--config", cfg, "--json", "rekey", "--dry-run"])
            db = fresh_copy(src, args.work)
            t, out = timed([sys.executable, "-c", DJANGO_LOOP, here, db])
            times["django"].append(t)
        ours, theirs = statistics.median(times["sessionctl"]), statistics.median(times["django"])
        results["rekey"] = {"sessions": args.rekey_sessions, "users": args.users, "sessionctl_s": round(ours, 3),
                            "django_s": round(theirs, 3), "speedup": round(theirs / ours, 1)}
        log("rekey %d sessions: sessionctl %.2fs, Django loop %.2fs (%.1fx)" % (args.rekey_sessions, ours, theirs,
                                                                               theirs / ours))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
