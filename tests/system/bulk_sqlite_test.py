#!/usr/bin/python3
"""Batched clearsessions on a large SQLite table, against a live Django (issue 6).

    /usr/bin/python3 tests/system/bulk_sqlite_test.py --sessionctl PATH [--rows N] [--keep]

1. concurrent writer: while `sessionctl clearsessions` empties a table of N rows
   (70% expired), a separate Django process (the system Django) keeps creating
   sessions and saving existing ones. It must never see "database is locked" (no
   OperationalError at all), and every session it wrote must be there afterwards
   with the data it last saved.
2. Ctrl-C: SIGINT during `clearsessions --batch-size B --sleep S` exits 130, says on
   stderr what it removed, and leaves only whole batches done (the table holds its
   expired rows first, so exactly k*B rows are gone); a rerun removes the rest.
3. Ctrl-C during `clearsessions --one-transaction`: the running DELETE stops at once,
   its transaction is rolled back whole, no hot journal is left; a rerun removes all.

Prints PASS/FAIL lines; exit status 1 on any failure.
"""

import argparse
import datetime
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

SECRET = "bulk-sqlite-test-secret-not-real-3b9d0c"


def configure_django(db):
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY=SECRET,
        INSTALLED_APPS=["django.contrib.sessions"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}},
        USE_TZ=True,
        TIME_ZONE="UTC",
    )
    django.setup()


def make_table(db, rows, expired_fraction=0.7):
    """migrate with Django, then bulk rows: all expired ones first (rowids follow expiry)."""
    subprocess.run([sys.executable, __file__, "--migrate", db], check=True)
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    rng = random.Random(6)
    chars = "abcdefghijklmnopqrstuvwxyz0123456789"
    expired = int(rows * expired_fraction)
    blob = "x" * 200  # clearsessions never decodes
    conn = sqlite3.connect(db)
    with conn:
        def gen():
            for i in range(rows):
                key = "".join(rng.choice(chars) for _ in range(32))
                if i < expired:
                    when = now - datetime.timedelta(days=14) + datetime.timedelta(seconds=i * 600.0 / max(1, expired))
                else:
                    when = now + datetime.timedelta(days=1, seconds=i)
                yield key, blob, str(when)
        conn.executemany("INSERT INTO django_session VALUES (?, ?, ?)", gen())
    conn.close()
    return expired


def config(tmp, db):
    path = os.path.join(tmp, "sessionctl.json")
    with open(path, "w") as f:
        json.dump({"USE_TZ": True, "TIME_ZONE": "UTC",
                   "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}}}, f)
    return path


def count(db, sql):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


# --------------------------------------------------------------------------- the writer process

def writer(db, stop_file, ready_file, out_file):
    """Creates and re-saves sessions until stop_file exists; records the outcome."""
    configure_django(db)
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import OperationalError

    saved = {}      # key -> last data dict saved
    errors = []
    writes = []     # time of each successful write
    n = 0
    while not os.path.exists(stop_file):
        n += 1
        try:
            if saved and n % 3 == 0:  # update an existing one (UPDATE)
                key = random.choice(list(saved))
                s = SessionStore(session_key=key)
                s["n"] = n
                s.save()
                saved[key] = dict(s.items())
            else:  # create a new one (INSERT)
                s = SessionStore()
                s["n"] = n
                s["user"] = str(n % 97)
                s.create()
                saved[s.session_key] = dict(s.items())
            writes.append(time.time())
        except OperationalError as e:
            errors.append(str(e))
        except Exception as e:  # noqa: BLE001 - UpdateError wraps a lock error in save()
            cause = e.__context__ or e.__cause__
            errors.append("%s (%s)" % (type(e).__name__, cause or e))
        if n == 20:
            open(ready_file, "w").close()
        time.sleep(0.002)
    with open(out_file, "w") as f:
        json.dump({"saved": saved, "errors": errors, "writes": writes}, f)


# --------------------------------------------------------------------------- tests

def test_concurrent_writer(args, tmp):
    db = os.path.join(tmp, "writer.sqlite3")
    expired = make_table(db, args.rows)
    stop, ready, out = (os.path.join(tmp, n) for n in ("stop", "ready", "writer.json"))
    w = subprocess.Popen([sys.executable, __file__, "--writer", db, stop, ready, out])
    deadline = time.time() + 60
    while not os.path.exists(ready):
        if time.time() > deadline or w.poll() is not None:
            raise AssertionError("the Django writer did not start")
        time.sleep(0.05)
    started = time.time()
    p = subprocess.run([args.sessionctl, "--config", config(tmp, db), "--json", "clearsessions"],
                       capture_output=True, text=True)
    ended = time.time()
    time.sleep(0.3)
    open(stop, "w").close()
    w.wait(timeout=60)
    with open(out) as f:
        result = json.load(f)
    problems = []
    if p.returncode != 0:
        problems.append("clearsessions exited %d: %s" % (p.returncode, p.stderr.strip()))
    else:
        j = json.loads(p.stdout)
        if j["deleted"] != expired or not j["complete"]:
            problems.append("clearsessions removed %s of %d: %s" % (j["deleted"], expired, p.stdout.strip()))
    if result["errors"]:
        problems.append("the Django writer saw %d errors, first: %s" % (len(result["errors"]), result["errors"][0]))
    during = sum(1 for t in result["writes"] if started <= t <= ended)
    if during < 10:
        problems.append("only %d writes overlapped the clearsessions run (%.1f s): the test proves nothing"
                        % (during, ended - started))
    # Every session the writer saved is there, with its last data.
    configure_django(db)
    from django.contrib.sessions.backends.db import SessionStore
    lost = [k for k, data in result["saved"].items() if dict(SessionStore(session_key=k).load()) != data]
    if lost:
        problems.append("%d live sessions lost or changed, e.g. %s" % (len(lost), lost[0]))
    left = count(db, "SELECT COUNT(*) FROM django_session WHERE expire_date < '%s'"
                 % datetime.datetime.utcnow().isoformat(" ", "seconds"))
    return problems, "%d expired removed in %.1f s while Django made %d writes (%d during), %d sessions checked, %d expired left" % (
        expired, ended - started, len(result["writes"]), during, len(result["saved"]), left)


def test_sigint_whole_batches(args, tmp):
    db = os.path.join(tmp, "sigint.sqlite3")
    rows = max(20000, args.rows // 4)
    expired = make_table(db, rows)
    batch = 1000
    cfg = config(tmp, db)
    p = subprocess.Popen([args.sessionctl, "--config", cfg, "--json", "clearsessions", "--batch-size", str(batch),
                          "--sleep", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.8)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    problems = []
    if p.returncode != 130:
        problems.append("exit status %d, not 130 (stderr: %s)" % (p.returncode, err.strip()))
    deleted = json.loads(out)["deleted"] if out.strip() else None
    if deleted is None or json.loads(out)["complete"]:
        problems.append("stdout did not report an incomplete run: %r" % out)
    if "interrupted: removed %s expired session" % deleted not in err:
        problems.append("stderr does not say what was removed: %r" % err)
    left = count(db, "SELECT COUNT(*) FROM django_session WHERE rowid <= %d" % expired)
    if deleted is not None and (deleted % batch != 0 or deleted == 0 or left != expired - deleted):
        problems.append("not whole batches: %s removed (batch %d), %d of %d expired left" % (deleted, batch, left, expired))
    rerun = subprocess.run([args.sessionctl, "--config", cfg, "--json", "clearsessions"], capture_output=True, text=True)
    if rerun.returncode != 0 or json.loads(rerun.stdout)["deleted"] != expired - (deleted or 0):
        problems.append("rerun: exit %d, %s %s" % (rerun.returncode, rerun.stdout.strip(), rerun.stderr.strip()))
    if count(db, "SELECT COUNT(*) FROM django_session") != rows - expired:
        problems.append("after the rerun the table does not hold exactly the live rows")
    return problems, "interrupted after %s of %d (batches of %d); rerun removed the rest" % (deleted, expired, batch)


def test_sigint_one_transaction(args, tmp):
    """SIGINT while --one-transaction's DELETE runs: rolled back at once, not waited for."""
    db = os.path.join(tmp, "one.sqlite3")
    rows = args.rows
    expired = make_table(db, rows)
    cfg = config(tmp, db)
    journal = db + "-journal"
    p = subprocess.Popen([args.sessionctl, "--config", cfg, "--json", "clearsessions", "--one-transaction"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The journal gets its first page when the DELETE changes one: the statement is running.
    while p.poll() is None and not (os.path.exists(journal) and os.path.getsize(journal) > 0):
        time.sleep(0.001)
    signalled = time.time()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    waited = time.time() - signalled
    problems = []
    if p.returncode != 130:
        problems.append("exit status %d, not 130 (stdout: %s, stderr: %s)" % (p.returncode, out.strip(), err.strip()))
    elif json.loads(out) != {"matched": 0, "deleted": 0, "complete": False}:
        problems.append("stdout: %r" % out)
    if "interrupted: removed 0 expired sessions" not in err or "the one in flight was rolled back" not in err:
        problems.append("stderr does not say nothing was removed and the transaction rolled back: %r" % err)
    if waited > 0.5:
        problems.append("took %.2f s to stop after SIGINT" % waited)
    if count(db, "SELECT COUNT(*) FROM django_session") != rows:
        problems.append("the interrupted transaction was not rolled back whole")
    if os.path.exists(journal) and os.path.getsize(journal) > 0:
        with open(journal, "rb") as f:
            if any(f.read(28)):
                problems.append("a hot journal was left behind")
    if count(db, "PRAGMA quick_check") != "ok":
        problems.append("quick_check failed")
    rerun = subprocess.run([args.sessionctl, "--config", cfg, "--json", "clearsessions", "--one-transaction"],
                           capture_output=True, text=True)
    if rerun.returncode != 0 or json.loads(rerun.stdout)["deleted"] != expired:
        problems.append("rerun: exit %d, %s %s" % (rerun.returncode, rerun.stdout.strip(), rerun.stderr.strip()))
    return problems, "stopped %.0f ms after SIGINT, all %d rows there; rerun removed %d" % (
        waited * 1000, rows, expired)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--writer":
        return writer(*sys.argv[2:6])
    if len(sys.argv) > 1 and sys.argv[1] == "--migrate":
        configure_django(sys.argv[2])
        from django.core.management import call_command
        call_command("migrate", "sessions", verbosity=0)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessionctl", required=True)
    ap.add_argument("--rows", type=int, default=300000)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sessionctl-bulk-")
    failed = 0
    # The writer test configures Django in this process: it runs last.
    for test in (test_sigint_whole_batches, test_sigint_one_transaction, test_concurrent_writer):
        try:
            problems, summary = test(args, tmp)
        except Exception as e:  # noqa: BLE001 - report, don't crash the suite
            problems, summary = ["%s: %s" % (type(e).__name__, e)], ""
        if problems:
            failed += 1
            print("FAIL %s: %s" % (test.__name__, "; ".join(problems)), flush=True)
        else:
            print("PASS %s: %s" % (test.__name__, summary), flush=True)
    if not args.keep:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("kept", tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
