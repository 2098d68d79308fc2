#!/usr/bin/env python3
"""Generate a django_session table in SQLite with real Django.

    BENCH_DB=store.sqlite3 python3 bench/gen_store.py ROWS MANIFEST.json [--seed S] [--jobs J]

session_data comes from Django's own SessionStore.encode() (signing.dumps with
the session salt, compress=True) with the fixed SECRET_KEY of bench/benchsite,
so every byte is what Django writes; expire_date is the text Django's SQLite
backend binds for an aware UTC datetime (str() of the naive UTC value). The
rows are then bulk-inserted with the sqlite3 module into the table that
`manage.py migrate` created, in creation order, as a site inserts them: a
session is INSERTed when it is created (with a random key) and later saves
UPDATE it in place, moving its expiry 14 days (SESSION_COOKIE_AGE) past the
last save; 70% were never saved again, the others were extended by up to 7
days. So rowid order roughly follows expire_date, as on a real table; this
matters to every bulk delete, whose cost depends on how many pages it touches.

The mix: 60% expired (1 hour to 14 days ago), 40% live (6 hours to 14 days
ahead, so nothing expires while the benchmark runs), 80% logged in. User ids
are drawn from 1..max(100, ROWS // 8) except KNOWN_USER, which owns exactly
KNOWN_SESSIONS sessions (ids such as 4, 420 and 4200 belong to others). The
manifest lists the known user's keys, the counts, and one of its blobs for the
one-off decode.
"""

import argparse
import datetime
import json
import multiprocessing
import os
import random
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KNOWN_USER = "42"
KNOWN_SESSIONS = 25
KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"  # django.contrib.sessions VALID_KEY_CHARS
LANGS = ["en", "fr", "de", "es", "pt-br", "ja", "zh-hans"]
BACKEND = "django.contrib.auth.backends.ModelBackend"
CHUNK = 5000
GENERATOR_VERSION = 2  # bench/run regenerates cached stores of another version

_STORE = None
_NOW = None


def _setup_django():
    sys.path.insert(0, HERE)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
    import django

    django.setup()


def _known(index, rows):
    stride = max(1, rows // KNOWN_SESSIONS)
    return index % stride == 3 % stride and index // stride < KNOWN_SESSIONS


def _payload(rng, logged_in, uid):
    d = {}
    if logged_in:
        d["_auth_user_id"] = uid
        d["_auth_user_backend"] = BACKEND
        d["_auth_user_hash"] = "%064x" % rng.getrandbits(256)
    r = rng.random()
    if r < 0.5:
        d["_language"] = rng.choice(LANGS)
    if rng.random() < 0.3:
        items = [{"sku": "SKU-%05d" % rng.randrange(100000), "qty": rng.randint(1, 5)}
                 for _ in range(rng.randint(1, 8))]
        cart = {"items": items}
        if rng.random() < 0.2:
            cart["coupon"] = rng.choice(["SPRING", "WELCOME10", "VIP"])
        d["cart"] = cart
    if rng.random() < 0.2:
        d["last_seen"] = "2024-%02d-%02dT%02d:%02d:00" % (rng.randint(1, 12), rng.randint(1, 28),
                                                       rng.randrange(24), rng.randrange(60))
    if rng.random() < 0.05:  # a few big ones: the tail of the size distribution
        d["history"] = ["/catalog/%d/item/%d/" % (rng.randrange(500), rng.randrange(100000))
                        for _ in range(rng.randint(20, 80))]
    if not logged_in and not d:
        d["testcookie"] = "worked"
    return d


def _encode_chunk(args):
    """Rows index start..start+count: (key, data, expire_text, expired, user or None, created)."""
    seed, start, count, rows, now_ts = args
    from django.contrib.sessions.backends.db import SessionStore

    global _STORE
    if _STORE is None:
        _STORE = SessionStore()
    now = datetime.datetime.fromtimestamp(now_ts, datetime.timezone.utc).replace(tzinfo=None)
    rng = random.Random("%s-%d" % (seed, start))
    user_pool = max(100, rows // 8)
    out = []
    for index in range(start, start + count):
        key = "".join(rng.choices(KEY_CHARS, k=32))
        if _known(index, rows):
            logged_in, uid = True, KNOWN_USER
        else:
            logged_in = rng.random() < 0.8
            uid = None
            if logged_in:
                n = 42
                while n == 42:
                    n = rng.randint(1, user_pool)
                uid = str(n)
        expired = rng.random() < 0.6
        if expired:
            delta = -rng.uniform(3600, 14 * 86400)
        else:
            delta = rng.uniform(6 * 3600, 14 * 86400)
        expire = now + datetime.timedelta(seconds=delta)
        extended = 0.0 if rng.random() < 0.7 else rng.uniform(0, 7 * 86400)
        created = delta - 14 * 86400 - extended  # seconds from now
        data = _STORE.encode(_payload(rng, logged_in, uid))
        out.append((key, data, str(expire), expired, uid, created))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rows", type=int)
    ap.add_argument("manifest")
    ap.add_argument("--seed", default="sessionctl-bench-6")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    db = os.environ["BENCH_DB"]
    if os.path.exists(db):
        os.unlink(db)
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connections

    connections.close_all()

    started = time.time()
    now_ts = int(started)
    chunks = [(args.seed, s, min(CHUNK, args.rows - s), args.rows, now_ts) for s in range(0, args.rows, CHUNK)]
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA cache_size = -262144")
    seen = set()
    expired = logged_in = 0
    known_keys = []
    sample = None
    conn.execute("CREATE TEMP TABLE generated (session_key, session_data, expire_date, created REAL)")
    with multiprocessing.get_context("fork").Pool(max(1, args.jobs)) as pool:
        conn.execute("BEGIN")
        for part in pool.imap(_encode_chunk, chunks):
            rows = []
            for key, data, expire, was_expired, uid, created in part:
                if key in seen:  # 36**32 keys: never, but a collision must not abort the insert
                    continue
                seen.add(key)
                rows.append((key, data, expire, created))
                expired += was_expired
                logged_in += uid is not None
                if uid == KNOWN_USER:
                    known_keys.append(key)
                    if sample is None and not was_expired:
                        sample = data
            conn.executemany("INSERT INTO generated VALUES (?, ?, ?, ?)", rows)
        conn.execute('INSERT INTO "django_session" ("session_key", "session_data", "expire_date") '
                     "SELECT session_key, session_data, expire_date FROM generated ORDER BY created")
        conn.execute("COMMIT")
    conn.close()

    import django

    manifest = {
        "rows": len(seen),
        "expired": expired,
        "logged_in": logged_in,
        "known_user": KNOWN_USER,
        "known_keys": sorted(known_keys),
        "sample_blob": sample,
        "generated_at": now_ts,
        "seconds": round(time.time() - started, 2),
        "django": django.get_version(),
        "seed": args.seed,
        "generator": GENERATOR_VERSION,
    }
    with open(args.manifest, "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
