#!/usr/bin/python3
"""Real-Django integration tests of sessionctl's file engine
(SESSION_ENGINE = "django.contrib.sessions.backends.file").

Runs every test against ONE Django version (the one on PYTHONPATH) in this process:

    PYTHONPATH=... /usr/bin/python3 tests/system/django_integration/test_file_engine.py \
        --sessionctl PATH --django 5.2 [-k SUBSTRING] [--keep]

Normally started by django_integration_test.py, once per version, after
test_db_engine.py. Prints one line per test (`PASS django-5.2 test_file_x` /
`FAIL ...` + indented details / `SKIP ...`) and finally `RESULT <passed> <failed>`.

Each test gets a djangoharness Case (temp dir, migrated SQLite database for
django.contrib.auth, random SECRET_KEY) plus its own session directory
`<tmp>/sessions`. Django uses it through override_settings(SESSION_ENGINE=file,
SESSION_FILE_PATH=...). The file engine caches its directory per class
(SessionStore._storage_path), so every change of directory forgets that cache.
sessionctl gets a config JSON with the same settings.
"""

import contextlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/system: djangoharness
import djangoharness as h  # noqa: E402
from djangoharness import (Case, check, check_alice_logged_out, check_create_data_roundtrip,  # noqa: E402
                           check_eq, collect, fail, inspect_one, logged_in_world, parse_iso,
                           raise_collected)

FILE_ENGINE = "django.contrib.sessions.backends.file"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
COOKIE_AGE = 1209600
PREFIX = "sessionid"
DAY = 86400
NOBODY_UID = 65534

TESTS = h.Tests()
test = TESTS.test
variants = TESTS.variants


# --------------------------------------------------------------------------- the file case

def file_store_class():
    from django.contrib.sessions.backends.file import SessionStore
    return SessionStore


def forget_storage_path():
    """Django caches SESSION_FILE_PATH on the class at first use."""
    cls = file_store_class()
    if "_storage_path" in cls.__dict__:
        del cls._storage_path


class FileCase(Case):
    """A djangoharness Case whose sessions live in files in <tmp>/sessions."""

    def __init__(self, name, use_tz=True, time_zone="UTC", keep=False):
        super().__init__(name, use_tz=use_tz, time_zone=time_zone, keep=keep)
        self.sessions = self.tmp / "sessions"
        self.sessions.mkdir()

    def store_settings(self, path=None):
        """The file engine on <tmp>/sessions, or on `path`."""
        return {"SESSION_ENGINE": FILE_ENGINE,
                "SESSION_FILE_PATH": str(path if path is not None else self.tmp / "sessions")}

    def __enter__(self):
        super().__enter__()
        from django.test.utils import override_settings
        self._file_override = override_settings(SESSION_ENGINE=FILE_ENGINE,
                                                SESSION_FILE_PATH=str(self.sessions))
        self._file_override.enable()
        forget_storage_path()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._file_override.disable()
        forget_storage_path()
        if exc_type is None and not self.keep:
            restore_permissions(self.tmp)
        return super().__exit__(exc_type, exc, tb)

    @contextlib.contextmanager
    def django_dir(self, path):
        """Django's file engine on another directory for a while."""
        with self.settings(SESSION_FILE_PATH=str(path)):
            forget_storage_path()
            try:
                yield
            finally:
                forget_storage_path()
        forget_storage_path()

    def file_of(self, key, directory=None):
        return Path(directory or self.sessions) / (PREFIX + key)


def restore_permissions(root):
    """chmod 000 files of a test would stop rmtree for a non-root runner."""
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if not os.path.islink(p):
                try:
                    os.chmod(p, 0o700)
                except OSError:
                    pass


# --------------------------------------------------------------------------- helpers

def store(key=None):
    return file_store_class()(session_key=key)


def load(key):
    return store(key).load()


def encode(data):
    return store().encode(data)


def django_view(key, directory=None):
    """What Django's load() decides about a file, without load()'s side effects
    (it deletes expired files): (data, expired, expiry date or None for an
    integer expiry). Raises what load() would raise (UnicodeDecodeError, TypeError)."""
    s = store(key)
    with open(s._key_to_file(), encoding="ascii") as f:
        content = f.read()
    if not content:
        return {}, False, None
    data = s.decode(content)
    expiry = s._expiry_date(data)
    expired = s.get_expiry_age(expiry=expiry) <= 0
    if isinstance(expiry, int):
        return data, expired, None
    if isinstance(expiry, str):
        expiry = datetime.fromisoformat(expiry)
    return data, expired, expiry


def as_utc(dt):
    """A Django datetime (aware, or naive local time with USE_TZ=False) in UTC."""
    if dt.tzinfo is None:
        return dt.astimezone(dt_timezone.utc)  # naive = local time (Django set TZ)
    return dt.astimezone(dt_timezone.utc)


def session_names(directory):
    return sorted(n for n in os.listdir(directory) if n.startswith(PREFIX) and "_out_" not in n)


def temp_names(directory):
    return sorted(n for n in os.listdir(directory) if "_out_" in n)


def snapshot(directory):
    """name -> (kind, bytes or link target, mtime_ns), symbolic links not followed."""
    out = {}
    for n in os.listdir(directory):
        p = os.path.join(directory, n)
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            out[n] = ("link", os.readlink(p), st.st_mtime_ns)
        elif stat.S_ISREG(st.st_mode):
            try:
                with open(p, "rb") as f:
                    content = f.read()
            except PermissionError:
                content = None
            out[n] = ("file", content, st.st_mtime_ns, stat.S_IMODE(st.st_mode))
        else:
            out[n] = ("other", None, st.st_mtime_ns)
    return out


def describe_diff(a, b, label_a, label_b):
    only_a = sorted(set(a) - set(b))
    only_b = sorted(set(b) - set(a))
    changed = sorted(k for k in set(a) & set(b) if a[k] != b[k])
    return f"only after {label_a}: {only_a}; only after {label_b}: {only_b}; different: {changed}"


def write_file(path, content, age_seconds=0, mode=0o600):
    """A session file written directly, mtime `age_seconds` in the past."""
    p = Path(path)
    data = content.encode() if isinstance(content, str) else content
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    if age_seconds:
        t = time.time() - age_seconds
        os.utime(p, (t, t))
    return p


def age_file(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t), follow_symlinks=False)


def new_key():
    from django.utils.crypto import get_random_string
    from django.contrib.sessions.backends.base import VALID_KEY_CHARS
    return get_random_string(32, VALID_KEY_CHARS)


def django_session(data=None, expiry="<unset>"):
    """A session created by Django's file engine; returns its key."""
    s = store()
    for k, v in (data or {"x": 1}).items():
        s[k] = v
    if expiry != "<unset>":
        s.set_expiry(expiry)
    s.create()
    return s.session_key


def check_session_file(path, what):
    """A file as Django's save() leaves it: regular, mode 0600, ASCII, no newline."""
    st = os.lstat(path)
    check(stat.S_ISREG(st.st_mode), f"{what}: {path} is not a regular file")
    check_eq(oct(stat.S_IMODE(st.st_mode)), oct(0o600), f"{what}: mode of {path.name}")
    content = Path(path).read_bytes()
    check(content and all(b < 0x80 for b in content) and b"\n" not in content,
          f"{what}: content of {path.name} is not one ASCII line without newline: {content[:80]!r}")
    check_eq(temp_names(path.parent), [], f"{what}: temporary _out_ files left in the directory")


# --------------------------------------------------------------------------- 1. Django writes -> sessionctl reads

@variants(("", True, "UTC"), ("_chicago_naive", False, "America/Chicago"))
def test_file_django_writes_sessionctl_reads(c):
    users, clients, keys = logged_in_world(c)
    check_eq(session_names(c.sessions), sorted(PREFIX + k for k in keys.values()),
             "files Django wrote in SESSION_FILE_PATH")

    objs = c.sessionctl("--json", "inspect", "--all").ok().expect_quiet_stderr().json_lines()
    by_key = {o.get("key"): o for o in objs}
    check_eq(sorted(by_key), sorted(keys.values()), "keys from inspect --all")

    expect_user = {"alice1": "41", "alice2": "41", "bob": "1042", "carol": "7", "anon": None}
    failures = []
    for name, key in keys.items():
        def one(name=name, key=key):
            o = by_key[key]
            data, expired, expiry = django_view(key)
            check_eq(o.get("data"), data, f"inspect data of {name}'s session")
            check_eq(o.get("data"), load(key), f"inspect data vs Django's load() of {name}")
            check_eq(o.get("user_id"), expect_user[name], f"user_id of {name}")
            check_eq(o.get("verified_with"), "SECRET_KEY", f"verified_with of {name}")
            check_eq(o.get("error"), None, f"error of {name}")
            check_eq(o.get("expired"), expired, f"expired of {name}")
            check_eq(o.get("size"), c.file_of(key).stat().st_size, f"size of {name}")
            got = parse_iso(o.get("expire_date"), "expire_date")
            check_eq(got, as_utc(expiry), f"expire_date of {name} (Django: mtime + SESSION_COOKIE_AGE)")
            check(o["expire_date"].endswith("+00:00"), f"expire_date {o['expire_date']!r} is not UTC")
        collect(failures, name, one)
    raise_collected(failures)
    check_eq(by_key[keys["alice1"]]["data"].get("_auth_user_hash"),
             users["alice"].get_session_auth_hash(), "_auth_user_hash of alice (Django's value)")

    check_eq(inspect_one(c, keys["bob"]), by_key[keys["bob"]], "inspect KEY vs --all")
    r = c.sessionctl("inspect", keys["alice1"]).ok().expect_quiet_stderr()
    size = c.file_of(keys["alice1"]).stat().st_size
    for pat in (rf"^session\s+{keys['alice1']}$", r"^\s+user\s+41$", r"^\s+verified\s+SECRET_KEY$",
                r"^\s+expires\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in 1[34] days\)$",
                r'"color": "blue"', rf"^\s+size\s+{size} bytes( \(compressed\))?$"):
        check(re.search(pat, r.out, re.M), f"human inspect output lacks /{pat}/\n      {r.describe()}")
    r = c.sessionctl("inspect", "--user", "41", "--keys-only").ok()
    check_eq(sorted(r.out.split()), sorted([keys["alice1"], keys["alice2"]]), "inspect --user 41 --keys-only")
    r = c.sessionctl("inspect", "--all", "--where", "color=red", "--keys-only").ok()
    check_eq(r.out.split(), [keys["bob"]], "inspect --all --where color=red --keys-only")
    r = c.sessionctl("--json", "decode", c.file_of(keys["bob"]).read_text()).ok()
    check_eq(r.json().get("data"), load(keys["bob"]), "decode of bob's file content")


@test()
def test_file_inspect_expiry_kinds(c):
    """Every kind of expiry a file can carry: sessionctl's expired/expire_date vs Django's load()."""
    modern = h.django_version() >= (4, 1)
    keys = {
        "default": django_session({"k": "default"}),
        "int 3600": django_session({"k": "int"}, 3600),
        "browser close (0)": django_session({"k": "zero"}, 0),
        "negative int": django_session({"k": "neg"}, -5),
        "stale by mtime": django_session({"k": "stale"}),
        "browser close, stale mtime": django_session({"k": "zero-stale"}, 0),
        "int, stale mtime": django_session({"k": "int-stale"}, 60),
        "wrong secret, stale": None,
        "placeholder": None,
    }
    age_file(c.file_of(keys["stale by mtime"]), COOKIE_AGE + DAY)
    age_file(c.file_of(keys["browser close, stale mtime"]), COOKIE_AGE + 60)
    age_file(c.file_of(keys["int, stale mtime"]), 30 * DAY)
    with c.settings(SECRET_KEY=h.new_secret()):
        keys["wrong secret, stale"] = django_session({"k": "other"})
    age_file(c.file_of(keys["wrong secret, stale"]), COOKIE_AGE + DAY)
    keys["placeholder"] = new_key()
    write_file(c.file_of(keys["placeholder"]), b"", age_seconds=30 * DAY)
    if modern:
        future = datetime.now(dt_timezone.utc) + timedelta(days=3)
        past = datetime.now(dt_timezone.utc) - timedelta(hours=2)
        keys["ISO future, stale mtime"] = django_session({"k": "iso-future"}, future)
        keys["ISO past"] = django_session({"k": "iso-past"}, past)
        age_file(c.file_of(keys["ISO future, stale mtime"]), 30 * DAY)

    objs = c.sessionctl("--json", "inspect", "--all").ok().json_lines()
    by_key = {o.get("key"): o for o in objs}
    check_eq(sorted(by_key), sorted(keys.values()), "keys from inspect --all (placeholder included)")
    failures = []
    for label, key in keys.items():
        def one(label=label, key=key):
            o = by_key[key]
            data, expired, expiry = django_view(key)
            check_eq(o.get("expired"), expired, f"expired ({label})")
            if label == "placeholder":
                check_eq(o.get("expire_date"), None, "expire_date of an empty placeholder")
                check_eq(o.get("size"), 0, "size of an empty placeholder")
                return
            if label.startswith("wrong secret"):
                check(o.get("verified_with") is None and o.get("error"),
                      f"a session signed with another secret must show an error: {o!r}")
            else:
                check_eq(o.get("data"), data, f"data ({label})")
            if expiry is None:
                check_eq(o.get("expire_date"), None, f"expire_date ({label}: integer expiry, never server-side)")
            else:
                check_eq(parse_iso(o.get("expire_date"), label), as_utc(expiry), f"expire_date ({label})")
        collect(failures, label, one)
    raise_collected(failures)

    r = c.sessionctl("inspect", "--all", "--expired", "--keys-only").ok()
    want = sorted(k for k in keys.values() if django_view(k)[1])
    check_eq(sorted(r.out.split()), want, "inspect --all --expired --keys-only")
    check("stale by mtime" in [l for l, k in keys.items() if k in want], "sanity: a stale file is expired")


# --------------------------------------------------------------------------- 2. sessionctl writes -> Django reads

@test()
def test_file_create_login_accepted(c):
    user = c.make_user("dave", 314)
    r = c.sessionctl("create", "--user", "314", "--password-hash", user.password).ok()
    r.expect_quiet_stderr()
    lines = r.out.splitlines()
    check_eq(len(lines), 2, f"lines printed by create\n      {r.describe()}")
    key = lines[0]
    check(re.fullmatch(r"[a-z0-9]{32}", key), f"created key {key!r} is not 32 chars of [a-z0-9]")
    check_eq(lines[1], f"Cookie: sessionid={key}", "second line of create")
    path = c.file_of(key)
    check_session_file(path, "created session file")
    check_eq(session_names(c.sessions), [PREFIX + key], "files in the directory after create")

    check_eq(load(key), {"_auth_user_id": "314", "_auth_user_backend": MODEL_BACKEND,
                         "_auth_user_hash": user.get_session_auth_hash()}, "Django load() of the session")
    _, expired, expiry = django_view(key)
    check(not expired, "the created session is expired for Django")
    check_eq(parse_iso(inspect_one(c, key).get("expire_date"), "expire_date"), as_utc(expiry),
             "expire_date (mtime + age)")

    client = c.client_with_cookie(key)
    check_eq(c.get(client, "/whoami"), "314", "Django client with the created cookie")
    check_eq(c.session_key_of(client), key, "session cookie after /whoami (not cycled)")
    # Django rewrites the file sessionctl wrote; sessionctl reads Django's version
    c.get(client, "/set?theme=dark")
    o = inspect_one(c, key)
    check_eq((o.get("user_id"), o.get("data", {}).get("theme"), o.get("verified_with")),
             ("314", "dark", "SECRET_KEY"), "inspect after Django rewrote the session")

    r = c.sessionctl("--json", "create", "--user", "314", "--password-hash", "-",
                     stdin=user.password.encode()).ok()
    j = r.json()
    check_eq(c.get(c.client_with_cookie(j["key"]), "/whoami"), "314",
             "client with the cookie from create --json (--password-hash -)")
    check_session_file(c.file_of(j["key"]), "second created file")


@test(min_django=(4, 1))
def test_file_rekey_keeps_logins_and_mtime(c):
    """Issue 19: rekey on the file engine keeps each file's mtime (its expiry)."""
    def stored():
        out = {}
        for f in c.sessions.iterdir():
            if f.name.startswith(PREFIX):
                out[f.name[len(PREFIX):]] = (f.read_text(), f.stat().st_mtime_ns)
        return out
    h.check_rekey_keeps_logins(c, stored, store_extra={
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(c.db)}}})


@test()
def test_file_create_data_roundtrip(c):
    failures = []
    check_create_data_roundtrip(c, load, failures,
                                check_stored=lambda key, label: check_session_file(c.file_of(key), label))

    def expiry(arg, want_expiry):
        r = c.sessionctl("create", "--data", '{"k":1}', "--expiry", arg).ok()
        key = r.out.splitlines()[0]
        data = load(key)
        check_eq(data.get("_session_expiry", "<absent>"), want_expiry, f"_session_expiry for --expiry {arg}")
        s = store(key)
        s.load()
        check_eq(s.get_expire_at_browser_close(), want_expiry == 0, "get_expire_at_browser_close()")
        if want_expiry:
            check_eq(s.get_expiry_age(), want_expiry, "get_expiry_age()")
    collect(failures, "--expiry 3600", expiry, "3600", 3600)
    collect(failures, "--expiry browser-close", expiry, "browser-close", 0)
    raise_collected(failures)


@test()
def test_file_cookie_name_and_default_directory(c):
    """SESSION_COOKIE_NAME is the file prefix; no SESSION_FILE_PATH = tempfile.gettempdir() ($TMPDIR)."""
    failures = []

    def cookie_name():
        cfg = c.write_config("cookie.json", extra={"SESSION_COOKIE_NAME": "mysid"})
        key = c.sessionctl("create", "--data", '{"who":"mysid"}', config=cfg).ok().out.splitlines()[0]
        check_eq(sorted(os.listdir(c.sessions)), ["mysid" + key], "file name with SESSION_COOKIE_NAME=mysid")
        with c.settings(SESSION_COOKIE_NAME="mysid"):
            check_eq(load(key), {"who": "mysid"}, "Django load() with SESSION_COOKIE_NAME=mysid")
            k2 = django_session({"who": "django"})
        objs = c.sessionctl("--json", "inspect", "--all", config=cfg).ok().json_lines()
        check_eq(sorted(o["key"] for o in objs), sorted([key, k2]), "inspect --all with the mysid prefix")
        objs = c.sessionctl("--json", "inspect", "--all").ok().json_lines()
        check_eq(objs, [], "inspect --all with the default prefix (sessionid) sees no mysid file")
        for n in os.listdir(c.sessions):
            os.unlink(c.sessions / n)
    collect(failures, "SESSION_COOKIE_NAME", cookie_name)

    def default_dir():
        tmpdir = c.tmp / "tmpdir"
        tmpdir.mkdir()
        cfg = c.write_config("nopath.json", drop=("SESSION_FILE_PATH",))
        old = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = str(tmpdir)
        try:
            key = c.sessionctl("create", "--data", '{"where":"tmp"}', config=cfg).ok().out.splitlines()[0]
        finally:
            if old is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = old
        check_eq(os.listdir(tmpdir), [PREFIX + key], "file written in $TMPDIR without SESSION_FILE_PATH")
        saved = tempfile.tempdir
        tempfile.tempdir = str(tmpdir)   # what gettempdir() returns with that TMPDIR
        try:
            with c.settings(SESSION_FILE_PATH=None):
                forget_storage_path()
                check_eq(load(key), {"where": "tmp"}, "Django (SESSION_FILE_PATH=None) load()")
        finally:
            tempfile.tempdir = saved
            forget_storage_path()
    collect(failures, "default SESSION_FILE_PATH", default_dir)
    raise_collected(failures)


# --------------------------------------------------------------------------- 3. delete

@test()
def test_file_delete_user_logs_out(c):
    users, clients, keys = logged_in_world(c)
    before = snapshot(c.sessions)
    r = c.sessionctl("delete", "--user", "41").ok().expect_quiet_stderr()
    check_eq(r.out, "deleted 2 sessions\n", "stdout of delete --user 41")
    after = snapshot(c.sessions)
    gone = {PREFIX + keys["alice1"], PREFIX + keys["alice2"]}
    check_eq(sorted(after), sorted(set(before) - gone), "files left after delete --user 41")
    for n in after:
        check_eq(after[n], before[n], f"untouched file {n} (bytes, mtime, mode)")

    check_alice_logged_out(c, clients, keys, load)
    r = c.sessionctl("--json", "delete", "--where", "color=red", "--dry-run").ok()
    check_eq((r.json().get("matched"), r.json().get("deleted")), (1, 0), "delete --where --dry-run")
    check(c.file_of(keys["bob"]).exists(), "--dry-run deleted bob's file")
    r = c.sessionctl("--json", "delete", "--where", "color=red").ok()
    check_eq((r.json().get("matched"), r.json().get("deleted")), (1, 1), "delete --where color=red")
    check_eq(c.get(clients["bob"], "/whoami"), "anonymous", "bob after delete --where")
    r = c.sessionctl("delete", "--stdin", stdin=(keys["carol"] + "\n" + keys["anon"] + "\n").encode()).ok()
    check_eq(c.get(clients["carol"], "/whoami"), "anonymous", "carol after delete --stdin")
    check_eq(session_names(c.sessions), [], "files left after deleting everyone")
    check_eq(c.sessionctl("delete", keys["carol"]).rc, 0, "deleting an already-gone key exit code")


# --------------------------------------------------------------------------- 4. expire

def expire_one_mode(c, label, args, make_value, comparable):
    """`sessionctl expire A <args>` vs Django's set_expiry(<value>) + save() on twin B."""
    a, b = django_session({"x": "twin"}, 600), django_session({"x": "twin"}, 600)
    for k in (a, b):
        age_file(c.file_of(k), 3600)   # an old mtime: the rewrite must refresh it
    ino_a = c.file_of(a).stat().st_ino
    t0 = time.time()
    r = c.sessionctl("--json", "expire", a, *args).ok().expect_quiet_stderr()
    t1 = time.time()
    j = r.json()
    check_eq((j.get("matched"), j.get("updated")), (1, 1), "expire --json matched/updated")
    pa = c.file_of(a)
    check_session_file(pa, "file after expire")
    st = pa.stat()
    check(st.st_ino != ino_a, "expire rewrote the file in place (Django renames a new file over it)")
    check(t0 - 1 <= st.st_mtime <= t1 + 1, f"mtime after expire {st.st_mtime} not in [{t0}, {t1}]")

    value = make_value()
    if isinstance(value, datetime) and h.django_version() < (4, 1):
        # Django < 4.1 keeps a datetime in the session, which JSONSerializer cannot
        # save: there is no twin. sessionctl stores whole seconds from now instead
        # (set_expiry(int)), which Django 3.2 can load and judge.
        with open(pa) as f:
            stored = store().decode(f.read()).get("_session_expiry")
        check(isinstance(stored, int) and not isinstance(stored, bool),
              f"_session_expiry on Django < 4.1 should be whole seconds, got {stored!r}")
        if args[0] == "--now":
            check(stored < 0, f"--now stored {stored!r}, not a negative number of seconds")
        else:
            want = (as_utc(value) - datetime.now(dt_timezone.utc)).total_seconds() if c.use_tz else \
                (value - datetime.now()).total_seconds()
            check(abs(stored - want) <= 5, f"--at stored {stored!r} seconds, expected about {want:.0f}")
        data_a, expired_a, _ = django_view(a)
        live = load(a)
        check_eq(live, {} if args[0] == "--now" else data_a, "Django load() after expire")
        return

    sb = store(b)
    sb.set_expiry(value)
    sb.save()
    data_a, expired_a, expiry_a = django_view(a)
    data_b, expired_b, expiry_b = django_view(b)
    check_eq(data_a.get("x"), "twin", "session data kept")
    check_eq(expired_a, expired_b, "expired for Django (sessionctl's file vs Django's twin)")
    if comparable:
        check_eq(data_a, data_b, "session dict (sessionctl vs Django's twin)")
    else:
        check_eq(sorted(data_a), sorted(data_b), "session dict keys (sessionctl vs Django's twin)")
    if expiry_a is not None or expiry_b is not None:
        check(expiry_a is not None and expiry_b is not None
              and abs(as_utc(expiry_a) - as_utc(expiry_b)) <= timedelta(seconds=3),
              f"expiry date: sessionctl {expiry_a} vs Django {expiry_b}")
    o = inspect_one(c, a)
    check_eq(o.get("expired"), expired_a, "inspect expired after expire")
    if args[0] == "--now":
        check_eq(load(a), {}, "Django load() of a session expired with --now")
    else:
        check_eq(load(a), data_a, "Django load() after expire")


@variants(("", True, "UTC"), ("_chicago_naive", False, "America/Chicago"))
def test_file_expire_matches_django(c):
    at = "2030-01-02T03:04:05.250000+00:00" if c.use_tz else "2030-01-02T03:04:05"
    modes = [
        ("--in 3600", ["--in", "3600"], lambda: 3600, True),
        ("--browser-close", ["--browser-close"], lambda: 0, True),
        ("--default", ["--default"], lambda: None, True),
        ("--now", ["--now"], h.django_now, False),
        ("--at " + at, ["--at", at], lambda: datetime.fromisoformat(at), True),
    ]
    failures = []
    for label, args, value, comparable in modes:
        collect(failures, label, expire_one_mode, c, label, args, value, comparable)
    raise_collected(failures)

    missing = new_key()
    r = c.sessionctl("expire", missing, "--in", "10")
    check_eq(r.rc, 1, f"expire of a missing key\n      {r.describe()}")
    check(not c.file_of(missing).exists(), "expire created a file for a missing key")


# --------------------------------------------------------------------------- 5. clearsessions vs Django

def build_mixed_directory(c, d):
    """A directory Django's clear_expired() can sweep without aborting (for this
    Django and USE_TZ). Returns {label: (file name, expected to survive)}."""
    modern = h.django_version() >= (4, 1)
    entries = {}

    def add(label, name, survives):
        entries[label] = (name, survives)

    with c.django_dir(d):
        for i in range(3):
            add(f"live {i}", PREFIX + django_session({"n": i}), True)
        for i in range(3):
            k = django_session({"stale": i})
            age_file(c.file_of(k, d), COOKIE_AGE + DAY * (i + 1))
            add(f"stale {i}", PREFIX + k, False)
        k = django_session({"z": 0}, 0)
        age_file(c.file_of(k, d), COOKIE_AGE + 3600)
        add("_session_expiry 0, stale mtime", PREFIX + k, False)
        add("_session_expiry 0, fresh", PREFIX + django_session({"z": 1}, 0), True)
        k = django_session({"i": 1}, 3600)
        age_file(c.file_of(k, d), 60 * DAY)
        add("_session_expiry int, stale mtime", PREFIX + k, True)
        add("_session_expiry negative int", PREFIX + django_session({"i": 2}, -5), False)
        if modern:
            now = datetime.now(dt_timezone.utc) if c.use_tz else datetime.now()
            k = django_session({"iso": "past"}, now - timedelta(hours=1))
            add("_session_expiry ISO, past", PREFIX + k, False)
            k = django_session({"iso": "future"}, now + timedelta(days=2))
            age_file(c.file_of(k, d), 60 * DAY)
            add("_session_expiry ISO, future, stale mtime", PREFIX + k, True)
        with c.settings(SECRET_KEY=h.new_secret()):
            k = django_session({"other": "secret"})
        age_file(c.file_of(k, d), COOKIE_AGE + DAY)
        add("other secret, stale", PREFIX + k, False)
        stale_blob = c.file_of(k, d).read_text()
    k = new_key()
    write_file(d / (PREFIX + k), b"", age_seconds=60 * DAY)
    add("empty placeholder, stale", PREFIX + k, True)
    k = new_key()
    write_file(d / (PREFIX + k), "not a session at all", age_seconds=COOKIE_AGE + DAY)
    add("undecodable, stale", PREFIX + k, False)
    k = new_key()
    write_file(d / (PREFIX + k), "not a session at all")
    add("undecodable, fresh", PREFIX + k, True)
    for label, name in (("other prefix", "csrftoken" + new_key()),
                        ("other cookie name", "othersid" + new_key()),
                        ("temp _out_ file", PREFIX + new_key() + "_out_k3j9x2a1"),
                        ("uppercase key", PREFIX + "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"),
                        ("'..' key", PREFIX + "..abcdefghijklmnop"),
                        ("'_' key", PREFIX + "abc_defghijklmnop"),
                        ("short key", PREFIX + "abc1234"),
                        ("bare prefix", PREFIX)):
        write_file(d / name, stale_blob, age_seconds=COOKIE_AGE + DAY)
        add(label + ", stale", name, True)
    sub = d / (PREFIX + "subdirectory0123456789")
    sub.mkdir()
    age_file(sub, 60 * DAY)
    add("a directory", sub.name, True)
    return entries


@variants(("", True, "UTC"), ("_chicago_naive", False, "America/Chicago"))
def test_file_clearsessions_matches_django(c):
    mixed = c.tmp / "mixed"
    mixed.mkdir()
    entries = build_mixed_directory(c, mixed)
    dj, sc = c.tmp / "django-copy", c.tmp / "sessionctl-copy"
    shutil.copytree(mixed, dj, symlinks=True)
    shutil.copytree(mixed, sc, symlinks=True)
    check_eq(snapshot(dj), snapshot(sc), "the two copies (sanity)")
    cfg = c.write_config("sc.json", path=sc)

    original = snapshot(sc)
    r = c.sessionctl("--json", "clearsessions", "--dry-run", config=cfg).ok()
    dry = r.json()
    check_eq(snapshot(sc), original, "directory after clearsessions --dry-run")

    from django.core.management import call_command
    with c.django_dir(dj):
        call_command("clearsessions")
    r = c.sessionctl("-v", "clearsessions", config=cfg).ok()
    r.expect_quiet_stderr()
    after_dj, after_sc = snapshot(dj), snapshot(sc)
    check(after_dj == after_sc, "files left by Django's clearsessions vs sessionctl's: "
          + describe_diff(after_dj, after_sc, "Django", "sessionctl"))
    removed = sorted(set(original) - set(after_sc))
    check_eq(dry.get("matched"), len(removed), "clearsessions --dry-run --json matched count")
    check_eq(r.out.splitlines()[0], f"removed {len(removed)} expired session" + ("" if len(removed) == 1 else "s"),
             "clearsessions -v summary")
    # and both agree with what the spec says of each entry (so the test is not vacuous)
    wrong = [f"{label} ({'kept' if name in after_dj else 'removed'})"
             for label, (name, survives) in entries.items() if (name in after_dj) != survives]
    check_eq(wrong, [], "entries Django treated other than expected (sanity of the fixture)")
    r = c.sessionctl("--json", "clearsessions", config=cfg).ok()
    check_eq(r.json().get("deleted"), 0, "a second clearsessions removes nothing")


@test()
def test_file_clearsessions_needs_the_secret(c):
    """_session_expiry is inside the signed data: without SECRET_KEY every file
    would read as {} and an integer expiry with an old mtime would be swept."""
    k = django_session({"remember": "me"}, 3600)
    age_file(c.file_of(k), 60 * DAY)
    check(not django_view(k)[1], "sanity: Django keeps an integer expiry with an old mtime")
    before = snapshot(c.sessions)
    cfg = c.write_config("nosecret.json", drop=("SECRET_KEY_FILE",))
    failures = []
    for cmd in (["clearsessions"], ["clearsessions", "--dry-run"]):
        collect(failures, " ".join(cmd),
                lambda cmd=cmd: c.sessionctl(*cmd, config=cfg).expect_error(2, "SECRET_KEY"))
    raise_collected(failures)
    check_eq(snapshot(c.sessions), before, "directory after clearsessions without a secret")


# --------------------------------------------------------------------------- 6. bad input

@test()
def test_file_bad_key_names(c):
    """Files named with an uppercase or '..' key are never read, listed, swept or deleted."""
    blob = encode({"_auth_user_id": "5", "k": "v"})
    bad = {"uppercase": "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "dotdot": "..abcdefghijklmnop"}
    for label in ("uppercase", "dotdot"):
        write_file(c.sessions / (PREFIX + bad[label]), blob, age_seconds=COOKIE_AGE + DAY)
    good = django_session({"_auth_user_id": "5"})
    before = snapshot(c.sessions)
    failures = []
    objs = c.sessionctl("--json", "inspect", "--all").ok().json_lines()
    check_eq([o["key"] for o in objs], [good], "inspect --all lists only the valid key")
    for label in ("uppercase", "dotdot"):
        key = bad[label]
        for cmd in (["inspect", key], ["delete", key], ["expire", key, "--in", "10"]):
            collect(failures, f"{label}: {cmd[0]}", lambda cmd=cmd: c.sessionctl(*cmd).expect_error(2))
        check_eq(load(key), {}, f"Django's load() of the {label} key (sanity: InvalidSessionKey -> {{}})")
    for key in ("../" + PREFIX + good, "..%2F" + good, "../../etc/passwd"):
        collect(failures, f"traversal {key!r}", lambda key=key: c.sessionctl("delete", key).expect_error(2))
    r = c.sessionctl("--json", "delete", "--user", "5").ok()
    check_eq(r.json().get("deleted"), 1, "delete --user 5 removes only the valid session")
    r = c.sessionctl("clearsessions").ok().expect_quiet_stderr()
    raise_collected(failures)
    after = snapshot(c.sessions)
    check_eq(after, {n: v for n, v in before.items() if n != PREFIX + good}, "the bad-key files are untouched")


@test()
def test_file_symlink(c):
    """A symbolic link named like a session is never followed, never deleted."""
    outside = c.tmp / "outside"
    outside.mkdir()
    target = outside / "victim"
    blob = encode({"_auth_user_id": "9", "k": "outside"})
    write_file(target, blob, age_seconds=COOKIE_AGE + DAY)   # expired if it were a session
    target_before = snapshot(outside)
    link_key, dangling_key = new_key(), new_key()
    os.symlink(target, c.sessions / (PREFIX + link_key))
    os.symlink(outside / "nothing-here", c.sessions / (PREFIX + dangling_key))
    live = django_session({"_auth_user_id": "9"})
    stale = django_session({"stale": 1})
    age_file(c.file_of(stale), COOKIE_AGE + DAY)
    failures = []

    def inspect_all():
        objs = c.sessionctl("--json", "inspect", "--all").ok().json_lines()
        check_eq(sorted(o["key"] for o in objs), sorted([live, stale]), "inspect --all (links skipped)")
    collect(failures, "inspect --all", inspect_all)

    def inspect_link():
        r = c.sessionctl("--json", "inspect", link_key)
        check_eq(r.rc, 1, f"inspect of a symlinked key: exit code\n      {r.describe()}")
        check(blob not in r.out and '"outside"' not in r.out, "inspect printed the link target's content")
    collect(failures, "inspect LINK", inspect_link)
    collect(failures, "expire LINK", lambda: check_eq(c.sessionctl("expire", link_key, "--in", "60").rc, 1,
                                                      "expire of a symlinked key: exit code"))
    collect(failures, "delete --user 9", lambda: check_eq(
        c.sessionctl("--json", "delete", "--user", "9").ok().json().get("deleted"), 1,
        "delete --user 9 (only the real file)"))
    collect(failures, "delete LINK", lambda: c.sessionctl("delete", link_key).ok())

    def clear():
        r = c.sessionctl("-v", "clearsessions").ok()
        check_eq(r.out.splitlines()[0], "removed 1 expired session", "clearsessions -v summary")
        check("symbolic link" in r.err and PREFIX + link_key in r.err,
              f"clearsessions does not report the symbolic link\n      {r.describe()}")
    collect(failures, "clearsessions", clear)
    raise_collected(failures)
    check(os.path.islink(c.sessions / (PREFIX + link_key)), "the symbolic link was removed")
    check(os.path.islink(c.sessions / (PREFIX + dangling_key)), "the dangling symbolic link was removed")
    check_eq(snapshot(outside), target_before, "the link target (outside the directory) changed")
    check(not c.file_of(stale).exists() and not c.file_of(live).exists(), "the real files were not handled")
    h.note("Django's own clear_expired() follows such a link, judges the target and unlinks the link "
           "when the target is expired; sessionctl keeps it and reports it")


@test()
def test_file_non_ascii_and_unsweepable(c):
    """Files that abort Django's sweep are reported; sessionctl's sweep goes on."""
    good = encode({"k": "v"})
    i = len(good) // 2
    bad_files = {"non-ASCII": good[:i].encode() + b"\xe9" + good[i:].encode(),
                 # TypeError in every version: 3.2 never parses it, later ones compare naive with aware
                 "naive ISO expiry with USE_TZ": encode({"_session_expiry": "2001-01-01T00:00:00"}).encode()}
    names = {}
    for label, content in bad_files.items():
        k = new_key()
        write_file(c.file_of(k), content, age_seconds=COOKIE_AGE + DAY)
        names[label] = PREFIX + k
    stale = [django_session({"s": i}) for i in range(5)]
    for k in stale:
        age_file(c.file_of(k), COOKIE_AGE + DAY)
    live = django_session({"live": 1})

    # Django itself: each bad file raises out of clear_expired()
    from django.core.management import call_command
    for n, (label, name) in enumerate(names.items()):
        d = c.tmp / f"django-{n}"
        d.mkdir()
        shutil.copy2(c.sessions / name, d / name)
        with c.django_dir(d):
            try:
                call_command("clearsessions")
                fail(f"sanity: Django's clearsessions did not abort on the {label} file")
            except (UnicodeDecodeError, TypeError):
                pass

    failures = []

    def inspect_all():
        r = c.sessionctl("--json", "inspect", "--all")
        objs = r.json_lines()
        check_eq(len(objs), len(names) + len(stale) + 1, f"records from inspect --all\n      {r.describe()}")
    collect(failures, "inspect --all", inspect_all)

    def inspect_non_ascii():
        key = names["non-ASCII"][len(PREFIX):]
        r = c.sessionctl("--json", "inspect", key)
        check(r.rc in (0, 4), f"inspect of a non-ASCII file: exit code\n      {r.describe()}")
        objs = r.json_lines()
        check(len(objs) == 1 and objs[0].get("error"), f"inspect of a non-ASCII file shows no error\n      "
              f"{r.describe()}")
    collect(failures, "inspect non-ASCII KEY", inspect_non_ascii)

    r = c.sessionctl("-v", "clearsessions")
    collect(failures, "clearsessions exit", lambda: r.ok())
    for label, name in names.items():
        collect(failures, f"{label} reported", lambda name=name: check(
            name in r.err, f"clearsessions does not name {name}\n      {r.describe()}"))
        collect(failures, f"{label} kept", lambda name=name: check((c.sessions / name).exists(),
                                                                  f"{name} was removed"))
    raise_collected(failures)
    check("UnicodeDecodeError" in r.err, f"the non-ASCII file is not reported as UnicodeDecodeError\n      {r.describe()}")
    check_eq(session_names(c.sessions), sorted(list(names.values()) + [PREFIX + live]),
             "files left (the stale ones removed despite the bad files)")


def nobody_runner():
    """argv prefix that runs a command as nobody, or None (with a reason)."""
    if os.geteuid() != 0:
        return [], None
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, f"--reuid={NOBODY_UID}", f"--regid={NOBODY_UID}", "--clear-groups", "--"], None
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "nobody", "--"], None
    return None, "running as root and neither setpriv nor runuser is available"


@test()
def test_file_unreadable(c):
    """A chmod 000 file is reported and kept; the sweep goes on. As root, chmod 000
    does not stop reads, so sessionctl then runs as nobody (setpriv/runuser)."""
    prefix, reason = nobody_runner()
    if prefix is None:
        h.note(f"not run: {reason}")
        return
    # A world-traversable place that nobody can use: the test's own tmp is 0700 root.
    base = Path(tempfile.mkdtemp(prefix="sessionctl-integ-unreadable-"))
    try:
        os.chmod(base, 0o755)
        d = base / "sessions"
        d.mkdir()
        secret = base / "secret_key"
        secret.write_text(c.secret)
        cfg = base / "cfg.json"
        cfg.write_text(json.dumps({"SESSION_ENGINE": FILE_ENGINE, "SESSION_FILE_PATH": str(d),
                                   "SECRET_KEY_FILE": str(secret), "USE_TZ": True, "TIME_ZONE": "UTC"}))
        os.chmod(secret, 0o600)
        os.chmod(cfg, 0o600)
        blob = encode({"_auth_user_id": "3"})
        unreadable, stale, live = new_key(), new_key(), new_key()
        write_file(d / (PREFIX + unreadable), blob, age_seconds=COOKIE_AGE + DAY, mode=0o600)
        write_file(d / (PREFIX + stale), blob, age_seconds=COOKIE_AGE + DAY)
        write_file(d / (PREFIX + live), blob)
        if prefix:
            for p in (base, d, secret, cfg, *d.iterdir()):
                os.chown(p, NOBODY_UID, NOBODY_UID)
        os.chmod(d / (PREFIX + unreadable), 0)
        wrapper = base / "sessionctl-as-nobody"
        wrapper.write_text("#!/bin/sh\nexec " + " ".join(prefix + [h.SESSIONCTL]) + ' "$@"\n')
        os.chmod(wrapper, 0o755)
        saved, h.SESSIONCTL = h.SESSIONCTL, str(wrapper)
        failures = []
        try:
            r = c.sessionctl("--json", "inspect", "--all", config=cfg)
            collect(failures, "inspect --all", lambda: (
                check_eq(r.rc, 0, f"inspect --all exit code\n      {r.describe()}"),
                check_eq(sorted(o["key"] for o in r.json_lines()), sorted([stale, live]), "keys listed"),
                check(PREFIX + unreadable in r.err and "ermission denied" in r.err,
                      f"the unreadable file is not reported\n      {r.describe()}")))
            r = c.sessionctl("inspect", unreadable, config=cfg)
            collect(failures, "inspect KEY", lambda: check(
                r.rc != 0 and "ermission denied" in r.err, f"inspect of the unreadable file\n      {r.describe()}"))
            r = c.sessionctl("clearsessions", config=cfg)
            collect(failures, "clearsessions", lambda: (
                r.ok(),
                check(PREFIX + unreadable in r.err, f"clearsessions does not report the file\n      {r.describe()}")))
        finally:
            h.SESSIONCTL = saved
        raise_collected(failures)
        left = sorted(os.listdir(d))
        check_eq(left, sorted([PREFIX + unreadable, PREFIX + live]), "files left by clearsessions")
        if prefix:
            h.note("ran sessionctl as nobody via " + os.path.basename(prefix[0]))
    finally:
        restore_permissions(base)
        shutil.rmtree(base, ignore_errors=True)


@test()
def test_file_stale_temp_files(c):
    """Django's save() leaves <name>_out_XXXXXXXX behind when its process dies
    before the rename; inspect --all reports those older than a day and only
    clearsessions --include-temp removes them."""
    d = c.tmp / "sessions"
    live = django_session({"n": 1})
    old_temp = PREFIX + new_key() + "_out_k3j9x2a1"
    young_temp = PREFIX + new_key() + "_out_a1b2c3d4"
    write_file(d / old_temp, "half-written", age_seconds=DAY + 60)
    write_file(d / young_temp, "being written", age_seconds=60)
    r = c.sessionctl("inspect", "--all", "--keys-only").ok()
    check(live in r.out, f"inspect --all lost the live session\n      {r.describe()}")
    check("1 stale _out_ temporary file" in r.err and "--include-temp" in r.err,
          f"inspect --all does not report the stale temporary file\n      {r.describe()}")
    c.sessionctl("clearsessions").ok()
    check((d / old_temp).exists(), "clearsessions without --include-temp removed a temporary file")
    r = c.sessionctl("--json", "clearsessions", "--include-temp", "--dry-run").ok()
    check_eq((r.json().get("temp_matched"), r.json().get("temp_deleted")), (1, 0), "--dry-run --include-temp counts")
    check((d / old_temp).exists(), "--dry-run removed a temporary file")
    r = c.sessionctl("--json", "clearsessions", "--include-temp").ok()
    check_eq(r.json().get("temp_deleted"), 1, "clearsessions --include-temp removed")
    check(not (d / old_temp).exists(), "the stale temporary file survived --include-temp")
    check((d / young_temp).exists(), "a temporary file younger than a day (a save in flight?) was removed")
    check(load(live) == {"n": 1}, "the live session after clearsessions --include-temp")


@test()
def test_file_missing_directory(c):
    failures = []
    for label, path in (("missing", c.tmp / "nope" / "sessions"), ("a regular file", c.tmp / "plainfile")):
        if label == "a regular file":
            path.write_text("x")
        cfg = c.write_config(f"cfg-{len(label)}.json", path=path)
        for cmd in (["inspect", "--all"], ["inspect", "a" * 32], ["create", "--data", "{}"],
                    ["delete", "a" * 32], ["delete", "--user", "1"], ["expire", "a" * 32, "--now"],
                    ["clearsessions"], ["clearsessions", "--dry-run"]):
            collect(failures, f"{label}: {' '.join(cmd)}",
                    lambda cmd=cmd, cfg=cfg: c.sessionctl(*cmd, config=cfg).expect_error(2, "SESSION_FILE_PATH"))
    raise_collected(failures)
    check(not (c.tmp / "nope").exists(), "sessionctl created the missing directory")
    from django.core.exceptions import ImproperlyConfigured
    with c.settings(SESSION_FILE_PATH=str(c.tmp / "nope" / "sessions")):
        forget_storage_path()
        try:
            store()
            fail("sanity: Django accepted a missing SESSION_FILE_PATH")
        except ImproperlyConfigured:
            pass
    forget_storage_path()


TESTS.leak_check("test_file_no_secret_in_any_output", min_runs=20)

if __name__ == "__main__":
    sys.exit(h.run_module(__doc__, TESTS, FileCase))
