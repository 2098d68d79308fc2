#!/usr/bin/python3
"""bench/file_engine.py: sessionctl vs Django on a SESSION_ENGINE=file directory.

    bench/file_engine.py --sessionctl build/cli/sessionctl [--files 100000]
        [--expired 0.6] [--users 1000] [--user 42] [--django 3.2|4.2|5.2]
        [--django-cache build/django-cache] [--workdir DIR] [--runs 1] [--keep]

Builds a directory of --files session files (default 100,000), named
`sessionid` + a random key. Their content comes from Django's own encode(): one
encoded login session per distinct user (--users, default 1000), reused for all
of that user's files. os.utime makes --expired of them (default 60%) stale by
mtime (15 to 45 days old; SESSION_COOKIE_AGE is 14 days). The rest are 0 to 12
days old. Nothing is near the boundary, so a second more or less between two
runs changes nothing.

Then, every time on a fresh `cp -a` copy of that directory (same bytes, same
mtimes, both copies in the page cache):

  clearsessions  `manage.py clearsessions` (a minimal settings module with
                 SESSION_ENGINE file) vs `sessionctl clearsessions`
  delete         a Django loop over every file (SessionStore(key), read the
                 file, decode(), delete() when _auth_user_id matches) vs
                 `sessionctl delete --user N`. The loop does what load() does
                 without load()'s side effect: load() also deletes every
                 expired file it meets, which would leave a different directory.
                 Skipping that side effect makes Django faster, so the ratio
                 is conservative.

Python runs with a bytecode cache in the work folder (PYTHONPYCACHEPREFIX),
filled before anything is timed: the fetched Django trees ship no .pyc files.
Times are wall clock for the whole process, as an operator sees them: Python
and Django start-up are included, and so is sessionctl's. With --runs N each
time is the median of N runs. For each operation the script prints both times,
the ratio Django/sessionctl, and whether the two resulting directories are
identical: the same names, and for each name the same bytes and mtime. After
clearsessions it also times `xargs rm` of exactly the files that went, on
another copy: the file system's floor for that sweep (--no-floor skips it).

Django 3.2 is the system one. 4.2 and 5.2 come from tests/system/django_env.sh
and the cache (default build/django-cache). The default is 5.2 when the cache
has it, else 3.2. The work folder defaults to $TMPDIR/sessionctl-file-bench.
Without --keep it is removed at the end. Exit 0 when both results are
identical, 1 otherwise. The targets (clearsessions >= 5x, delete >= 3.5x) are
printed, not enforced.
"""

import argparse
import os
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
PYTHON = "/usr/bin/python3"
SECRET = "sessionctl-file-bench-not-a-real-secret-0c9d3e7a51b2f486"
PREFIX = "sessionid"
COOKIE_AGE = 1209600
KEY_CHARS = string.ascii_lowercase + string.digits
DAY = 86400

SETTINGS_PY = f'''
import os
SECRET_KEY = {SECRET!r}
INSTALLED_APPS = ["django.contrib.sessions"]
SESSION_ENGINE = "django.contrib.sessions.backends.file"
SESSION_FILE_PATH = os.environ["BENCH_SESSION_DIR"]
USE_TZ = True
TIME_ZONE = "UTC"
DATABASES = {{}}
'''

MANAGE_PY = '''#!/usr/bin/python3
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "filebench_settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
'''

# The Django side of "delete --user N": every file decoded, matching ones deleted.
DELETE_LOOP_PY = '''
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "filebench_settings")
import django
django.setup()
from django.conf import settings
from django.contrib.sessions.backends.file import SessionStore
user = sys.argv[1]
prefix = settings.SESSION_COOKIE_NAME
deleted = 0
for name in os.listdir(settings.SESSION_FILE_PATH):
    if not name.startswith(prefix):
        continue
    s = SessionStore(name[len(prefix):])
    try:
        with open(s._key_to_file(), encoding="ascii") as f:
            data = s.decode(f.read())
    except Exception:
        continue
    if data.get("_auth_user_id") == user:
        s.delete()
        deleted += 1
print(deleted)
'''

ENCODE_PY = '''
import hashlib, json, sys
from django.conf import settings
settings.configure(SECRET_KEY=sys.argv[1], INSTALLED_APPS=["django.contrib.sessions"],
                   SESSION_ENGINE="django.contrib.sessions.backends.file", USE_TZ=True)
import django
django.setup()
from django.contrib.sessions.backends.file import SessionStore
s = SessionStore()
for u in range(1, int(sys.argv[2]) + 1):
    data = {"_auth_user_id": str(u),
            "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
            "_auth_user_hash": hashlib.sha256(b"pw-%d" % u).hexdigest()}
    if u % 3 == 0:
        data["cart"] = {"items": list(range(u % 7)), "coupon": "SPRING"}
    print(s.encode(data))
print(django.get_version(), file=sys.stderr)
'''


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def django_pythonpath(version, cache):
    if version == "3.2":
        return ""
    out = subprocess.run([os.path.join(ROOT, "tests", "system", "django_env.sh"), version, cache],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"file_engine.py: {out.stderr.strip()}")
    return out.stdout.strip()


PYCACHE = None  # PYTHONPYCACHEPREFIX: set in main()


def make_env(pythonpath, session_dir=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONCTL_")}
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    # The fetched Django trees have no .pyc files: without a bytecode cache every
    # Django start would compile Django first. The encode step fills this cache.
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    env["TZ"] = "UTC"
    if session_dir:
        env["BENCH_SESSION_DIR"] = session_dir
    return env


def encoded_values(pythonpath, users):
    p = subprocess.run([PYTHON, "-c", ENCODE_PY, SECRET, str(users)], capture_output=True, text=True,
                       env=make_env(pythonpath))
    if p.returncode != 0:
        sys.exit(f"file_engine.py: encoding with Django failed:\n{p.stderr}")
    values = p.stdout.split()
    assert len(values) == users
    return values, p.stderr.strip()


def build_directory(path, files, expired_share, values, seed=20240611):
    rng = random.Random(seed)
    os.makedirs(path)
    now = time.time()
    n_expired = int(round(files * expired_share))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    keys = set()
    for i in range(files):
        key = "".join(rng.choices(KEY_CHARS, k=32))
        while key in keys:
            key = "".join(rng.choices(KEY_CHARS, k=32))
        keys.add(key)
        name = os.path.join(path, PREFIX + key)
        fd = os.open(name, flags, 0o600)
        os.write(fd, values[rng.randrange(len(values))].encode())
        os.close(fd)
        if i < n_expired:
            mtime = now - 15 * DAY - rng.uniform(0, 30 * DAY)
        else:
            mtime = now - rng.uniform(0, 12 * DAY)
        os.utime(name, (mtime, mtime))
    return n_expired


def copy_dir(src, dst):
    if os.path.exists(dst):
        shutil.rmtree(dst)
    subprocess.run(["cp", "-a", src, dst], check=True)
    # Read every file once so that both sides start with a warm page cache.
    subprocess.run(["find", dst, "-type", "f", "-exec", "cat", "{}", "+"], check=True,
                   stdout=subprocess.DEVNULL)
    # Write the copy back now: otherwise its writeback lands in the timed runs.
    os.sync()


def snapshot(path):
    out = {}
    with os.scandir(path) as it:
        for e in it:
            st = e.stat(follow_symlinks=False)
            with open(e.path, "rb") as f:
                out[e.name] = (f.read(), st.st_mtime_ns)
    return out


def timed(argv, env, cwd=None):
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"file_engine.py: {' '.join(argv)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return seconds, p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessionctl", required=True)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--expired", type=float, default=0.6)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--user", type=int, default=42, help="the user of `delete --user` (default 42)")
    ap.add_argument("--django", default=None, help="3.2, 4.2 or 5.2 (default: 5.2 if cached, else 3.2)")
    ap.add_argument("--django-cache", default=os.path.join(ROOT, "build", "django-cache"))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--ops", default="clearsessions,delete")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--no-floor", dest="floor", action="store_false",
                    help="skip timing `rm` of the removed files (the file system's floor)")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the base directory a --keep run left in --workdir (same options)")
    args = ap.parse_args()

    sessionctl = os.path.abspath(args.sessionctl)
    if not os.access(sessionctl, os.X_OK):
        sys.exit(f"file_engine.py: {args.sessionctl} is not executable")
    version = args.django
    if version is None:
        version = "5.2" if os.path.isfile(os.path.join(args.django_cache, "django-5.2", ".fetch_django.ok")) \
            else "3.2"
    pythonpath = django_pythonpath(version, args.django_cache)
    work = args.workdir or os.path.join(tempfile.gettempdir(), "sessionctl-file-bench")
    base = os.path.join(work, "base")
    meta = os.path.join(work, "base.meta")
    wanted_meta = f"{args.files} {args.expired} {args.users} {version}\n"
    reuse = args.reuse and os.path.isfile(meta) and open(meta).read() == wanted_meta
    if os.path.exists(work) and not reuse:
        shutil.rmtree(work)
    os.makedirs(work, exist_ok=True)
    global PYCACHE
    PYCACHE = os.path.join(work, "pycache")
    ops = [o.strip() for o in args.ops.split(",") if o.strip()]

    # the Django project and the sessionctl config
    with open(os.path.join(work, "filebench_settings.py"), "w") as f:
        f.write(SETTINGS_PY)
    with open(os.path.join(work, "manage.py"), "w") as f:
        f.write(MANAGE_PY)
    with open(os.path.join(work, "delete_loop.py"), "w") as f:
        f.write(DELETE_LOOP_PY)
    secret_file = os.path.join(work, "secret_key")
    with open(secret_file, "w") as f:
        f.write(SECRET)
    os.chmod(secret_file, 0o600)

    def sessionctl_config(session_dir):
        path = os.path.join(work, "sessionctl-" + os.path.basename(session_dir) + ".json")
        with open(path, "w") as f:
            f.write('{"SESSION_ENGINE": "django.contrib.sessions.backends.file", '
                    f'"SESSION_FILE_PATH": "{session_dir}", "SECRET_KEY_FILE": "{secret_file}", '
                    '"USE_TZ": true, "TIME_ZONE": "UTC"}')
        return path

    values, got_version = encoded_values(pythonpath, args.users)
    if reuse:
        n_expired = int(round(args.files * args.expired))
        log(f"reusing {base}")
    else:
        t0 = time.perf_counter()
        n_expired = build_directory(base, args.files, args.expired, values)
        with open(meta, "w") as f:
            f.write(wanted_meta)
        log(f"built {args.files} files ({n_expired} expired, {args.users} users, content from Django "
            f"{got_version}'s encode) in {time.perf_counter() - t0:.1f}s: {base}")
    print(f"files {args.files}, expired {n_expired}, users {args.users}, Django {got_version}, "
          f"cpus {os.cpu_count()}, runs {args.runs}")

    identical_all = True
    targets = {"clearsessions": 5.0, "delete": 3.5}
    for op in ops:
        d_times, s_times = [], []
        identical = True
        for run in range(args.runs):
            dj_dir, sc_dir = os.path.join(work, "django"), os.path.join(work, "sessionctl")
            copy_dir(base, dj_dir)
            copy_dir(base, sc_dir)
            env_dj = make_env(pythonpath, dj_dir)
            cfg = sessionctl_config(sc_dir)
            if op == "clearsessions":
                dj_argv = [PYTHON, os.path.join(work, "manage.py"), "clearsessions"]
                sc_argv = [sessionctl, "--config", cfg, "clearsessions"]
            elif op == "delete":
                dj_argv = [PYTHON, os.path.join(work, "delete_loop.py"), str(args.user)]
                sc_argv = [sessionctl, "--config", cfg, "delete", "--user", str(args.user)]
            else:
                sys.exit(f"file_engine.py: unknown op {op}")
            td, _ = timed(dj_argv, env_dj, cwd=work)
            ts, p = timed(sc_argv, make_env(""), cwd=work)
            d_times.append(td)
            s_times.append(ts)
            a, b = snapshot(dj_dir), snapshot(sc_dir)
            same = a == b
            if not same:
                only_a = sorted(set(a) - set(b))[:5]
                only_b = sorted(set(b) - set(a))[:5]
                changed = sorted(k for k in set(a) & set(b) if a[k] != b[k])[:5]
                log(f"{op}: directories differ: only after Django {only_a}, only after sessionctl "
                    f"{only_b}, different {changed}")
            identical = identical and same
            log(f"{op} run {run + 1}: Django {td:.2f}s, sessionctl {ts:.2f}s, {len(a)} files left "
                f"({'identical' if same else 'DIFFERENT'}); sessionctl said: {p.stdout.strip()!r}")
        if op == "clearsessions" and args.floor:
            # The file system's own cost: `rm` of exactly the files that went.
            removed = sorted(set(os.listdir(base)) - set(a))
            floor_dir = os.path.join(work, "floor")
            copy_dir(base, floor_dir)
            listing = os.path.join(work, "removed.list")
            with open(listing, "wb") as f:
                f.write(b"\0".join(n.encode() for n in removed) + b"\0")
            tf, _ = timed(["xargs", "-0", "-a", listing, "rm", "-f", "--"], make_env(""), cwd=floor_dir)
            shutil.rmtree(floor_dir, ignore_errors=True)
            print(f"{'':14s} floor: `rm` of the same {len(removed)} files {tf:.2f}s", flush=True)
        td, ts = statistics.median(d_times), statistics.median(s_times)
        ratio = td / ts if ts > 0 else float("inf")
        verdict = "meets" if ratio >= targets[op] else "BELOW"
        print(f"{op:14s} Django {td:7.2f}s  sessionctl {ts:6.2f}s  ratio {ratio:5.1f}x "
              f"(target {targets[op]}x: {verdict})  directories {'identical' if identical else 'DIFFERENT'}",
              flush=True)
        identical_all = identical_all and identical

    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        for sub in ("django", "sessionctl"):
            shutil.rmtree(os.path.join(work, sub), ignore_errors=True)
        log(f"kept {base} (--reuse uses it again)")
    return 0 if identical_all else 1


if __name__ == "__main__":
    sys.exit(main())
