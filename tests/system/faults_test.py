#!/usr/bin/python3
"""Fault injection: sessionctl against broken, locked, full, read-only and
interrupted stores (issue 7).

    faults_test.py --sessionctl PATH [-k SUBSTRING] [--keep]

Every case asserts, as each applies:
  - exactly one line on stderr (`sessionctl: error: ...`, or a warning), that
    line naming the fault (a word the case lists) and never a secret;
  - the documented exit code (README "Exit codes"): 2 configuration, 3 store
    unavailable / locked / full / read-only, 4 not a database or corrupt,
    130 SIGINT, 143 SIGTERM;
  - the store intact: the SQLite file byte-identical, or the same rows, or the
    session directory's files unchanged;
  - a rerun, once the fault is gone, finishes the job (exit 0, nothing expired
    left, nothing live lost).

The lock case uses real Django (the system python3-django) holding a write
transaction. Disk-full cases mount a small tmpfs (root only; CI runs as root)
and skip with the reason otherwise. Read-only cases run sessionctl as
`nobody` via setpriv when run as root (root ignores file modes). Each case
prints "PASS name: exit N: <stderr line>" (the per-fault list for the closing
note), "SKIP name: why" or "FAIL name: why"; the last line is
"N passed, M failed, K skipped"; exit 1 on any failure.
"""

import argparse
import base64
import datetime
import fcntl
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import django_signing  # noqa: E402

SECRET = "fault-test-secret-4e9b1c7d2a-never-printed-0123456789abcdefXYZ"
DDL = ['CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, '
       '"session_data" text NOT NULL, "expire_date" datetime NOT NULL)',
       'CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")']
PYTHON = "/usr/bin/python3"
NOBODY = 65534


def dumps(obj):
    """A session value as Django's SessionStore.encode() makes it, signed with SECRET."""
    return django_signing.dumps(obj, SECRET)


def when(delta_seconds):
    t = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(seconds=delta_seconds)
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")


def key_of(prefix, i):
    return prefix + str(i).zfill(32 - len(prefix))


# ------------------------------------------------------------ fixtures

class Site:
    """A temporary site: secret file, config, and an SQLite django_session
    table holding `live` live and `expired` expired sessions (user 42 owns
    the first `user42` live ones)."""

    def __init__(self, root, live=20, expired=50, user42=5):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.db = self.root / "db.sqlite3"
        self.secret_file = self.root / "secret_key"
        self.secret_file.write_text(SECRET + "\n")
        os.chmod(self.secret_file, 0o600)
        self.config = self.root / "sessionctl.json"
        self.write_config()
        self.make_db(live, expired, user42)

    def settings(self, **extra):
        s = {"SESSION_ENGINE": "django.contrib.sessions.backends.db",
             "SECRET_KEY_FILE": str(self.secret_file), "USE_TZ": True, "TIME_ZONE": "UTC",
             "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(self.db),
                                       "OPTIONS": {"timeout": 0.5}}}}
        s.update(extra)
        return s

    def write_config(self, raw=None, **extra):
        self.config.write_text(raw if raw is not None else json.dumps(self.settings(**extra), indent=2))
        os.chmod(self.config, 0o600)

    def make_db(self, live, expired, user42):
        if self.db.exists():
            self.db.unlink()
        con = sqlite3.connect(self.db)
        for ddl in DDL:
            con.execute(ddl)
        rows = []
        for i in range(live):
            data = {"cart": [i], "n": i}
            if i < user42:
                data.update({"_auth_user_id": "42", "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                             "_auth_user_hash": "0" * 64})
            rows.append((key_of("live", i), dumps(data), when(86400 + i)))
        blob = dumps({"old": True})
        for i in range(expired):
            rows.append((key_of("expd", i), blob, when(-86400 - i)))
        con.executemany("INSERT INTO django_session VALUES (?, ?, ?)", rows)
        con.commit()
        con.close()

    def rows(self):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return sorted(con.execute("SELECT session_key, session_data, expire_date FROM django_session"))
        finally:
            con.close()

    def counts(self):
        live = expired = 0
        now = when(0)
        for _, _, exp in self.rows():
            if exp < now:
                expired += 1
            else:
                live += 1
        return live, expired


def file_site(root, live=10, expired=10):
    """A file-engine site: `live` fresh and `expired` month-old session files."""
    root = Path(root)
    sessions = root / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    secret_file = root / "secret_key"
    secret_file.write_text(SECRET + "\n")
    os.chmod(secret_file, 0o600)
    config = root / "sessionctl.json"
    config.write_text(json.dumps({"SESSION_ENGINE": "django.contrib.sessions.backends.file",
                                  "SESSION_FILE_PATH": str(sessions), "SECRET_KEY_FILE": str(secret_file)}))
    os.chmod(config, 0o600)
    old = time.time() - 30 * 86400
    for i in range(live + expired):
        p = sessions / ("sessionid" + key_of("f", i))
        p.write_text(dumps({"n": i}))
        os.chmod(p, 0o600)
        if i >= live:
            os.utime(p, (old, old))
    return config, sessions


def snapshot(directory):
    """{name: bytes} of a directory's files."""
    return {p.name: p.read_bytes() for p in sorted(Path(directory).iterdir()) if p.is_file()}


# ------------------------------------------------------------ running

class Skip(Exception):
    pass


class Failure(Exception):
    pass


class Result:
    def __init__(self, p, elapsed):
        self.code = p.returncode
        self.out = p.stdout if isinstance(p.stdout, str) else p.stdout.decode("utf-8", "replace")
        self.err = p.stderr if isinstance(p.stderr, str) else p.stderr.decode("utf-8", "replace")
        self.elapsed = elapsed

    @property
    def err_lines(self):
        return [line for line in self.err.splitlines() if line.strip()]


class Runner:
    def __init__(self, sessionctl, work, only):
        self.sessionctl = sessionctl
        self.work = Path(work)
        self.only = only
        self.passed = self.failed = self.skipped = 0
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONCTL_") and k != "XDG_CONFIG_HOME"}
        self.env["HOME"] = str(self.work)
        self.env["TZ"] = "UTC"
        self.current = None

    def run(self, config, *args, user=None, timeout=60, check_secret=True):
        argv = [self.sessionctl, "--config", str(config), *args]
        if user is not None:
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
        t0 = time.monotonic()
        p = subprocess.run(argv, capture_output=True, text=True, env=self.env, cwd=self.work, timeout=timeout)
        r = Result(p, time.monotonic() - t0)
        if check_secret and (SECRET in r.out or SECRET in r.err or SECRET[:16] in r.err):
            raise Failure(f"the secret appears in the output of {' '.join(args)}")
        return r

    def start(self, config, *args):
        return subprocess.Popen([self.sessionctl, "--config", str(config), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env, cwd=self.work)

    def case(self, name, fn):
        if self.only and self.only not in name:
            return
        root = self.work / name
        root.mkdir(parents=True)
        t0 = time.monotonic()
        try:
            line = fn(root)
        except Skip as e:
            self.skipped += 1
            print(f"SKIP {name}: {e}", flush=True)
        except Failure as e:
            self.failed += 1
            print(f"FAIL {name}: {e}", flush=True)
        except Exception as e:  # a broken case is a failure, never a pass
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        else:
            self.passed += 1
            print(f"PASS {name}: {line} [{time.monotonic() - t0:.1f}s]", flush=True)


def expect(r, code, words=(), lines=1, what="error"):
    """Exit `code`, exactly `lines` stderr lines, the first naming every word."""
    err = r.err_lines
    if r.code != code:
        raise Failure(f"exit {r.code}, expected {code}; stderr: {r.err.strip()[:400]!r}")
    if len(err) != lines:
        raise Failure(f"{len(err)} stderr lines, expected {lines}: {r.err.strip()[:400]!r}")
    if lines:
        first = err[0]
        if what == "error" and not first.startswith("sessionctl: error: "):
            raise Failure(f"stderr is not one 'sessionctl: error:' line: {first!r}")
        for w in words:
            if w.lower() not in first.lower():
                raise Failure(f"stderr does not mention {w!r}: {first!r}")
    return f"exit {r.code}: {err[0] if err else '(no stderr)'}"


def same(before, after, what="store"):
    if before != after:
        raise Failure(f"the {what} changed")


def must_be_root(why):
    if os.geteuid() != 0:
        raise Skip(f"needs root ({why})")


def mount_tmpfs(path, size):
    must_be_root("mount a small tmpfs")
    path.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise Skip(f"mount -t tmpfs not permitted here: {p.stderr.strip()}")


def umount(path):
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path):
    """Fill the filesystem holding `path` until a write fails with ENOSPC."""
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    chunk = b"\0" * 4096
    try:
        while True:
            os.write(fd, chunk)
    except OSError:
        pass
    try:  # then the last bytes, so that no block is left half free
        while True:
            os.write(fd, b"\0")
    except OSError:
        pass
    os.close(fd)
    return filler


def chown_tree(path, uid):
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, uid, uid)
        for n in filenames:
            os.chown(os.path.join(dirpath, n), uid, uid)


# ------------------------------------------------------------ cases: SQLite

DJANGO_HOLDER = r"""
import sys, time
import django
from django.conf import settings
settings.configure(
    SECRET_KEY=sys.argv[2], USE_TZ=True, INSTALLED_APPS=["django.contrib.sessions"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}},
)
django.setup()
from django.db import transaction
from django.contrib.sessions.backends.db import SessionStore
with transaction.atomic():
    s = SessionStore()
    s["held"] = "by a Django write transaction"
    s.create()  # INSERT: the transaction now holds SQLite's write lock
    print(s.session_key, flush=True)
    sys.stdin.readline()  # hold it until told
    if sys.stdin.readline().strip() == "rollback":
        transaction.set_rollback(True)
print("released", flush=True)
"""


def case_sqlite_locked_by_django(rn, root):
    site = Site(root)
    before = site.rows()
    holder = subprocess.Popen([PYTHON, "-c", DJANGO_HOLDER, str(site.db), SECRET], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        held_key = holder.stdout.readline().strip()
        if not held_key:
            raise Failure(f"the Django holder did not start: {holder.stderr.read()[:400]}")
        lines = []
        r = rn.run(site.config, "clearsessions")
        lines.append("clearsessions " + expect(r, 3, ["lock"]))
        r = rn.run(site.config, "delete", key_of("live", 0))
        lines.append("delete " + expect(r, 3, ["lock"]))
        r = rn.run(site.config, "expire", key_of("live", 1), "--in", "60")
        lines.append("expire " + expect(r, 3, ["lock"]))
        # Reads are not blocked by a writer (rollback journal: readers share).
        r = rn.run(site.config, "inspect", "--all", "--keys-only")
        if r.code != 0 or len(r.out.split()) != len(before):
            raise Failure(f"inspect under the lock: exit {r.code}, {len(r.out.split())} keys: {r.err.strip()!r}")
        same(before, site.rows())
    finally:
        holder.stdin.write("\ncommit\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    after_commit = site.rows()
    if len(after_commit) != len(before) + 1 or held_key not in [k for k, _, _ in after_commit]:
        raise Failure("Django's committed session is not in the table")
    r = rn.run(site.config, "clearsessions")
    expect(r, 0, lines=0)
    live, expired = site.counts()
    if expired or live != 21:
        raise Failure(f"rerun left {expired} expired and {live} live (expected 0 and 21)")
    return "; ".join(lines)


def case_sqlite_begin_immediate(rn, root):
    """The same with a bare BEGIN IMMEDIATE (any writer, not only Django)."""
    site = Site(root)
    before = site.rows()
    con = sqlite3.connect(site.db, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    try:
        r = rn.run(site.config, "-v", "clearsessions")
        line = expect(r, 3, ["lock"])
        if r.elapsed > 10:
            raise Failure(f"waited {r.elapsed:.1f}s for a 0.5 s timeout")
    finally:
        con.execute("ROLLBACK")
        con.close()
    same(before, site.rows())
    expect(rn.run(site.config, "clearsessions"), 0, lines=0)
    if site.counts() != (20, 0):
        raise Failure(f"rerun left {site.counts()}")
    return line


def corrupt_case(mutate, code, words):
    def case(rn, root):
        site = Site(root)
        mutate(site.db)
        before = site.db.read_bytes()
        lines = []
        for args in (["clearsessions"], ["inspect", "--all"], ["delete", "--user", "42"]):
            r = rn.run(site.config, *args)
            lines.append(args[0] + " " + expect(r, code, words))
            same(before, site.db.read_bytes(), "database file")
        if list(site.root.glob("db.sqlite3-*")):
            raise Failure(f"left {[p.name for p in site.root.glob('db.sqlite3-*')]} next to the database")
        # The job finishes once a good copy is back (here: rebuilt).
        site.make_db(20, 50, 5)
        expect(rn.run(site.config, "clearsessions"), 0, lines=0)
        if site.counts() != (20, 0):
            raise Failure(f"rerun left {site.counts()}")
        return "; ".join(lines)
    return case


def garbage(db):
    size = db.stat().st_size
    db.write_bytes(bytes((i * 37 + 11) % 256 for i in range(size)))


def bad_page(db):
    """A real SQLite header, then the table's pages overwritten."""
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    for i in range(page, len(data)):
        data[i] = 0xA5
    db.write_bytes(bytes(data))


def truncate_to(n):
    def mutate(db):
        with open(db, "r+b") as f:
            f.truncate(n if n > 0 else db.stat().st_size // 2)
    return mutate


def case_readonly_directory(rn, root):
    """The database is writable but its directory is not: SQLite cannot
    create its rollback journal, so no delete can run."""
    site = Site(root)
    user = NOBODY if os.geteuid() == 0 else None
    if user is not None:
        chown_tree(site.root, NOBODY)
    before = site.rows()
    os.chmod(site.root, 0o555)
    try:
        r = rn.run(site.config, "clearsessions", user=user)
        line = expect(r, 3, ["readonly"])
        same(before, site.rows())
        r = rn.run(site.config, "inspect", "--all", "--keys-only", user=user)
        if r.code != 0:
            raise Failure(f"inspect in a read-only directory: exit {r.code}: {r.err.strip()!r}")
    finally:
        os.chmod(site.root, 0o755)
    expect(rn.run(site.config, "clearsessions", user=user), 0, lines=0)
    if site.counts() != (20, 0):
        raise Failure(f"rerun left {site.counts()}")
    return line


def case_readonly_database(rn, root):
    site = Site(root)
    user = NOBODY if os.geteuid() == 0 else None
    if user is not None:
        chown_tree(site.root, NOBODY)
    os.chmod(site.db, 0o444)
    before = site.db.read_bytes()
    lines = []
    try:
        for args in (["clearsessions"], ["delete", "--user", "42"], ["create", "--data", "{}"]):
            r = rn.run(site.config, *args, user=user)
            lines.append(args[0] + " " + expect(r, 3, ["readonly"]))
            same(before, site.db.read_bytes(), "database file")
    finally:
        os.chmod(site.db, 0o644)
    expect(rn.run(site.config, "clearsessions", user=user), 0, lines=0)
    if site.counts() != (20, 0):
        raise Failure(f"rerun left {site.counts()}")
    return "; ".join(lines)


def case_disk_full_sqlite(rn, root):
    mnt = root / "mnt"
    mount_tmpfs(mnt, "2m")
    try:
        site = Site(mnt, live=20, expired=3000)
        filler = fill(mnt)
        before = site.rows()
        lines = []
        # Deleting needs room for the rollback journal; creating for a new page.
        pad = base64.b64encode(os.urandom(30000)).decode()  # incompressible: needs new pages
        for args in (["clearsessions"], ["create", "--data", json.dumps({"pad": pad})]):
            r = rn.run(site.config, *args)
            lines.append(args[0] + " " + expect(r, 3, ["full"]))
            same(before, site.rows())
        filler.unlink()
        expect(rn.run(site.config, "clearsessions"), 0, lines=0)
        if site.counts() != (20, 0):
            raise Failure(f"rerun left {site.counts()}")
        return "; ".join(lines)
    finally:
        umount(mnt)


def big_site(root, expired):
    """A table with many expired rows, written in one transaction, so that a
    clearsessions takes long enough to be interrupted."""
    site = Site(root, live=20, expired=0)
    con = sqlite3.connect(site.db)
    blob = dumps({"old": True})
    con.executemany("INSERT INTO django_session VALUES (?, ?, ?)",
                    ((key_of("expd", i), blob, when(-86400 - i % 1000)) for i in range(expired)))
    con.commit()
    con.close()
    return site


def batch_size_args(rn, config):
    """Small paced batches (when this build has the flags), so a run on a
    modest table lasts seconds: long enough to interrupt, quick to finish."""
    r = rn.run(config, "clearsessions", "--help")
    if "--batch-size" not in r.out:
        return [], 2000
    return ["--batch-size", "100"] + (["--sleep", "0.02"] if "--sleep" in r.out else []), 100


def signal_case(signum, code):
    def case(rn, root):
        total = 20_000
        site = big_site(root, total)
        live_before = [row for row in site.rows() if row[2] > when(0)]
        extra, batch = batch_size_args(rn, site.config)
        p = rn.start(site.config, "clearsessions", *extra)
        # Interrupt once some batches are done (the row count falls), or after 3 s.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
            try:
                con = sqlite3.connect(f"file:{site.db}?mode=ro", uri=True, timeout=0.05)
                n = con.execute("SELECT count(*) FROM django_session").fetchone()[0]
                con.close()
            except sqlite3.OperationalError:
                continue
            if n < 20 + total - 2 * batch:
                break
        if p.poll() is not None:
            raise Skip(f"clearsessions finished before it could be interrupted (exit {p.returncode})")
        p.send_signal(signum)
        try:
            out, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            raise Failure(f"still running 20 s after {signal.Signals(signum).name}")
        r = Result(subprocess.CompletedProcess(p.args, p.returncode, out, err), 0)
        if r.code < 0:
            raise Failure(f"killed by {signal.Signals(-r.code).name}: no exit {code}, nothing reported")
        line = expect(r, code, ["interrupted"], lines=len(r.err_lines) or 1, what="any")
        rows = site.rows()
        left = len(rows) - 20
        done = total - left
        if done % batch and left:
            raise Failure(f"{done} of {total} removed: not whole batches of {batch}")
        if [row for row in rows if row[2] > when(0)] != live_before:
            raise Failure("a live session changed or went missing")
        expect(rn.run(site.config, "clearsessions"), 0, lines=0)
        if site.counts() != (20, 0):
            raise Failure(f"rerun left {site.counts()}")
        return f"{line} ({done} of {total} removed, whole batches of {batch})"
    return case


def case_two_locked_runs(rn, root):
    site = big_site(root, 20_000)
    extra, _ = batch_size_args(rn, site.config)
    lock = root / "clear.lock"
    lines = []
    # 1. Another holder (a flock from here): the run exits 3 at once.
    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        r = rn.run(site.config, "clearsessions", "--lock", str(lock))
        lines.append("held elsewhere " + expect(r, 3, [str(lock)]))
    # 2. Two sessionctl runs: the first is stopped while it holds the lock.
    first = rn.start(site.config, "clearsessions", "--lock", str(lock), *extra)
    try:
        held = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and first.poll() is None and not held:
            with open(lock, "a") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(f, fcntl.LOCK_UN)
                    time.sleep(0.01)
                except BlockingIOError:
                    held = True
        if not held:
            raise Skip("the first run finished before a second could start")
        first.send_signal(signal.SIGSTOP)
        r = rn.run(site.config, "clearsessions", "--lock", str(lock))
        lines.append("second run " + expect(r, 3, ["another sessionctl"]))
        first.send_signal(signal.SIGCONT)
        out, err = first.communicate(timeout=60)
        if first.returncode != 0:
            raise Failure(f"the first run: exit {first.returncode}: {err.strip()!r}")
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGCONT)
            first.kill()
    if site.counts() != (20, 0):
        raise Failure(f"after both runs: {site.counts()}")
    return "; ".join(lines)


# ------------------------------------------------------------ cases: config and secrets

def config_case(raw, code, words):
    def case(rn, root):
        site = Site(root)
        site.write_config(raw=raw(site))
        before = site.db.read_bytes()
        r = rn.run(site.config, "clearsessions")
        line = expect(r, code, words)
        same(before, site.db.read_bytes(), "database file")
        site.write_config()
        expect(rn.run(site.config, "clearsessions"), 0, lines=0)
        return line
    return case


def case_secret_file_readable(rn, root):
    site = Site(root)
    os.chmod(site.secret_file, 0o644)
    r = rn.run(site.config, "inspect", key_of("live", 0))
    line = expect(r, 0, ["readable", str(site.secret_file)], what="warning")
    if "warning" not in line.lower():
        raise Failure(f"not a warning: {line!r}")
    # SECRET_KEY inside a config file others can read: warned the same way.
    site.write_config(SECRET_KEY=SECRET, SECRET_KEY_FILE=None)
    os.chmod(site.config, 0o644)
    r = rn.run(site.config, "inspect", key_of("live", 0))
    line2 = expect(r, 0, ["readable", str(site.config)], what="warning")
    return f"{line} | {line2}"


def case_secret_file_missing(rn, root):
    site = Site(root)
    site.secret_file.unlink()
    before = site.db.read_bytes()
    r = rn.run(site.config, "delete", "--user", "42")
    line = expect(r, 2, [str(site.secret_file)])
    same(before, site.db.read_bytes(), "database file")
    return line


# ------------------------------------------------------------ cases: file engine

def case_file_readonly_dir(rn, root):
    config, sessions = file_site(root)
    user = NOBODY if os.geteuid() == 0 else None
    if user is not None:
        chown_tree(root, NOBODY)
    before = snapshot(sessions)
    os.chmod(sessions, 0o555)
    lines = []
    try:
        r = rn.run(config, "clearsessions", user=user)
        lines.append("clearsessions " + expect(r, 3, ["permission"]))
        same(before, snapshot(sessions), "session directory")
        r = rn.run(config, "create", "--data", "{}", user=user)
        lines.append("create " + expect(r, 3, ["permission"]))
        same(before, snapshot(sessions), "session directory")
    finally:
        os.chmod(sessions, 0o700)
    r = rn.run(config, "clearsessions", user=user)
    expect(r, 0, lines=0)
    if len(list(sessions.iterdir())) != 10:
        raise Failure(f"rerun left {len(list(sessions.iterdir()))} files (expected the 10 live)")
    return "; ".join(lines)


def case_file_disk_full(rn, root):
    mnt = root / "mnt"
    mount_tmpfs(mnt, "1m")
    try:
        config, sessions = file_site(mnt)
        fill(mnt)
        before = snapshot(sessions)
        pad = base64.b64encode(os.urandom(30000)).decode()  # incompressible
        r = rn.run(config, "create", "--data", json.dumps({"pad": pad}))
        line = expect(r, 3, ["space"])
        same(before, snapshot(sessions), "session directory")
        (mnt / "filler").unlink()
        r = rn.run(config, "create", "--data", json.dumps({"pad": pad}))
        if r.code != 0 or len(list(sessions.iterdir())) != 21:
            raise Failure(f"create after freeing space: exit {r.code}: {r.err.strip()!r}")
        return line
    finally:
        umount(mnt)


# ------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessionctl", required=True)
    ap.add_argument("-k", dest="only", help="run only cases whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    sessionctl = str(Path(args.sessionctl).resolve())
    work = Path(tempfile.mkdtemp(prefix="sessionctl-faults-"))
    os.chmod(work, 0o755)  # `nobody` must reach the read-only cases
    rn = Runner(sessionctl, work, args.only)
    bad_json = '{"SESSION_ENGINE": "django.contrib.sessions.backends.db", "USE_TZ": tru'
    cases = [
        ("sqlite_locked_by_django_write", case_sqlite_locked_by_django),
        ("sqlite_locked_begin_immediate", case_sqlite_begin_immediate),
        ("sqlite_not_a_database", corrupt_case(garbage, 4, ["database"])),
        ("sqlite_corrupt_pages", corrupt_case(bad_page, 4, ["malformed"])),
        ("sqlite_truncated_half", corrupt_case(truncate_to(0), 4, ["malformed"])),
        ("sqlite_truncated_header", corrupt_case(truncate_to(50), 4, ["database"])),
        ("sqlite_readonly_directory", case_readonly_directory),
        ("sqlite_readonly_database", case_readonly_database),
        ("sqlite_disk_full", case_disk_full_sqlite),
        ("sigint_during_clearsessions", signal_case(signal.SIGINT, 130)),
        ("sigterm_during_clearsessions", signal_case(signal.SIGTERM, 143)),
        ("two_clearsessions_lock", case_two_locked_runs),
        ("config_bad_json", config_case(lambda s: bad_json, 2, ["invalid JSON"])),
        ("config_unknown_key", config_case(lambda s: json.dumps({**s.settings(), "SESSION_ENGIN": "db"}), 2,
                                           ["SESSION_ENGIN"])),
        ("config_wrong_type", config_case(lambda s: json.dumps({**s.settings(), "SESSION_COOKIE_AGE": "3600"}), 2,
                                          ["SESSION_COOKIE_AGE", "integer"])),
        ("secret_file_readable_by_others", case_secret_file_readable),
        ("secret_file_missing", case_secret_file_missing),
        ("file_engine_readonly_dir", case_file_readonly_dir),
        ("file_engine_disk_full", case_file_disk_full),
    ]
    try:
        for name, fn in cases:
            rn.case(name, lambda root, fn=fn: fn(rn, root))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            for mnt in work.glob("*/mnt"):
                umount(mnt)
            shutil.rmtree(work, ignore_errors=True)
    print(f"{rn.passed} passed, {rn.failed} failed, {rn.skipped} skipped")
    return 1 if rn.failed else 0


if __name__ == "__main__":
    sys.exit(main())
