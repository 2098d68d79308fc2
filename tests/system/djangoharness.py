"""Helpers for the real-Django integration tests of sessionctl
(django_integration/test_*_engine.py, test_cache_engines.py): each module
registers its tests in a `Tests` registry and its main() is `run_module(...)`
(argument parsing, Django setup, skip rules, PASS/FAIL lines and the `RESULT`
line django_integration_test.py reads).

One Python process = one Django version. `setup_django()` configures Django once;
each test then runs inside a `Case`: a fresh temporary directory with its own
`db.sqlite3` (created by `call_command("migrate")`), its own random SECRET_KEY
(written to a 0600 file and referenced from a sessionctl config JSON), and
`override_settings(...)` for SECRET_KEY / USE_TZ / TIME_ZONE (the setting_changed
receivers of django.test reset the process TZ and the connection time zone).

Every sessionctl run goes through `Case.sessionctl()`, which records the output
so that the suite can assert globally that no secret ever shows up.

The MariaDB and PostgreSQL modules run on a database of their own on a shared
server (`ServerDatabase`, sql_servers.py), each test in a `ServerCase`.
"""

import argparse
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import types
from pathlib import Path

import sql_servers  # tests/system, on sys.path like this module

# --------------------------------------------------------------------------- state

SESSIONCTL = None            # path of the binary under test (set by setup_django)
SECRETS = set()              # every SECRET_KEY / fallback any test used
OUTPUTS = []                 # (argv, stdout, stderr) of every sessionctl run
SECRET_LEAKS = []            # (argv, which stream) where a secret was found
NOTES = []                   # remarks of the running test, printed under its PASS line

# The environment sessionctl runs with: no secret or config from the caller, and a
# deliberately "wrong" local time zone: with USE_TZ true nothing may depend on it,
# with USE_TZ false sessionctl must switch to TIME_ZONE itself.
SESSIONCTL_TZ = "Asia/Tokyo"

EXPIRE_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$")


class TestFailure(AssertionError):
    pass


def fail(msg):
    raise TestFailure(msg)


def note(msg):
    NOTES.append(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def check_eq(actual, expected, what):
    if actual != expected:
        fail(f"{what}:\n      expected {expected!r}\n      got      {actual!r}")


def check_no_secret_leaks(min_runs):
    """No sessionctl run of this process printed a SECRET_KEY or fallback any
    test used (the last test of each module)."""
    check(len(OUTPUTS) > min_runs, f"only {len(OUTPUTS)} sessionctl runs recorded (sanity)")
    for argv, out, err in OUTPUTS:
        for s in SECRETS:
            check(s not in out and s not in err, f"a secret appears in the output of {argv}")
    check_eq(SECRET_LEAKS, [], "runs that printed a secret")


# --------------------------------------------------------------------------- Django

def setup_django(sessionctl_path, database=None, extra_apps=()):
    """settings.configure() + django.setup(), once per process; `database` is the
    default connection's settings (an in-memory SQLite one, switched per Case,
    when None); `extra_apps` are added to INSTALLED_APPS."""
    global SESSIONCTL
    SESSIONCTL = str(Path(sessionctl_path).resolve())

    import django
    from django.conf import settings

    sys.modules["sessionctl_integ_urls"] = _make_urlconf()
    os.environ["TZ"] = "UTC"
    time.tzset()
    settings.configure(
        DEBUG=False,
        SECRET_KEY="placeholder-replaced-by-every-test",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            *extra_apps,
        ],
        DATABASES={"default": database or {"ENGINE": "django.db.backends.sqlite3",
                                           "NAME": ":memory:"}},
        SESSION_ENGINE="django.contrib.sessions.backends.db",
        USE_TZ=True,
        TIME_ZONE="UTC",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        ROOT_URLCONF="sessionctl_integ_urls",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        LOGGING_CONFIG=None,
    )
    django.setup()
    # Django logs e.g. "Session data corrupted" when a test loads a session on
    # purpose with the wrong key; keep the report clean.
    logging.getLogger("django").addHandler(logging.NullHandler())
    logging.getLogger("django").propagate = False
    # Import django.test now: it connects the setting_changed receivers that keep
    # the process TZ and the connections' time zone in step with override_settings.
    import django.test  # noqa: F401
    return django.get_version()


def _make_urlconf():
    from django.http import HttpResponse
    from django.urls import path

    def whoami(request):
        user = request.user
        return HttpResponse(str(user.pk) if user.is_authenticated else "anonymous",
                            content_type="text/plain")

    def set_values(request):
        for k, v in request.GET.items():
            request.session[k] = v
        return HttpResponse("ok", content_type="text/plain")

    mod = types.ModuleType("sessionctl_integ_urls")
    mod.urlpatterns = [path("whoami", whoami), path("set", set_values)]
    return mod


def django_version():
    import django
    return django.VERSION[:2]


def use_database(path):
    """Point Django's default connection at another SQLite file."""
    from django.db import connections
    conn = connections["default"]
    conn.close()
    conn.settings_dict["NAME"] = str(path)


def migrate(path):
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    use_database(path)
    ContentType.objects.clear_cache()
    call_command("migrate", verbosity=0, interactive=False)


def new_secret():
    from django.core.management.utils import get_random_secret_key
    s = get_random_secret_key()
    SECRETS.add(s)
    return s


def session_store(key=None):
    from django.contrib.sessions.backends.db import SessionStore
    return SessionStore(session_key=key)


def django_now():
    from django.utils import timezone
    return timezone.now()


def db_datetime_text(dt):
    """The text Django binds for a datetime in a SQLite DateTimeField."""
    from django.db import connection
    return connection.ops.adapt_datetimefield_value(dt)


def parse_db_datetime(text):
    """expire_date text -> datetime (naive, as stored)."""
    from datetime import datetime
    return datetime.fromisoformat(text)


def check_expire_date_format(text, what):
    check(isinstance(text, str) and EXPIRE_DATE_RE.match(text) is not None,
          f"{what}: expire_date {text!r} is not 'YYYY-MM-DD HH:MM:SS[.ffffff]'")
    check(not text.endswith(".000000"),
          f"{what}: expire_date {text!r} has a zero fraction (Django omits it)")


def parse_iso(text, what):
    """An ISO 8601 text from sessionctl's JSON -> datetime (a failure otherwise)."""
    from datetime import datetime
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        fail(f"{what}: {text!r} is not an ISO 8601 datetime")


def collect(failures, label, fn, *args):
    """Run one sub-check, remembering its failure so the others still run."""
    try:
        fn(*args)
    except TestFailure as e:
        failures.append(f"[{label}] {e}")


def raise_collected(failures):
    if failures:
        fail("\n    ".join(failures))


def inspect_one(c, key, config=None):
    """`sessionctl --json inspect KEY`: its one JSON object."""
    objs = c.sessionctl("--json", "inspect", key, config=config).ok().json_lines()
    check_eq(len(objs), 1, f"number of JSON lines from inspect {key}")
    return objs[0]


def logged_in_world(c):
    """Five browser sessions written by Django: alice twice (force_login, real
    login), bob, carol, anonymous; each client's /whoami checked."""
    users = {"alice": c.make_user("alice", 41), "bob": c.make_user("bob", 1042),
             "carol": c.make_user("carol", 7)}
    clients = {}
    clients["alice1"] = c.client()
    clients["alice1"].force_login(users["alice"])
    c.get(clients["alice1"], "/set?color=blue&n=1")
    clients["alice2"] = c.client()
    check(clients["alice2"].login(username="alice", password="pw-alice"), "client.login(alice) failed")
    c.get(clients["alice2"], "/set?device=phone")
    clients["bob"] = c.client()
    check(clients["bob"].login(username="bob", password="pw-bob"), "client.login(bob) failed")
    c.get(clients["bob"], "/set?color=red")
    clients["carol"] = c.client()
    clients["carol"].force_login(users["carol"])
    clients["anon"] = c.client()
    c.get(clients["anon"], "/set?cart=3")
    keys = {name: c.session_key_of(cl) for name, cl in clients.items()}
    for name, who in (("alice1", "41"), ("alice2", "41"), ("bob", "1042"), ("carol", "7"),
                      ("anon", "anonymous")):
        check_eq(c.get(clients[name], "/whoami"), who, f"/whoami of {name} before sessionctl")
    return users, clients, keys


def check_alice_logged_out(c, clients, keys, load):
    """After `delete --user 41` in a logged_in_world: alice's two clients are
    logged out, bob, carol and the anonymous session untouched (load(key) is the
    engine's Django load), and a second run matches nothing (exit 1)."""
    check_eq(c.get(clients["alice1"], "/whoami"), "anonymous", "alice (force_login client) after delete")
    check_eq(c.get(clients["alice2"], "/whoami"), "anonymous", "alice (login client) after delete")
    check_eq(c.get(clients["bob"], "/whoami"), "1042", "bob after deleting alice")
    check_eq(c.get(clients["carol"], "/whoami"), "7", "carol after deleting alice")
    check_eq(load(keys["anon"]).get("cart"), "3", "anonymous session data after deleting alice")

    r = c.sessionctl("delete", "--user", "41")
    check_eq(r.rc, 1, f"delete --user 41 again (nothing matches) exit code\n      {r.describe()}")


def check_create_data_roundtrip(c, load, failures, check_stored=None):
    """`create --data` and `--data-file` with nested, non-ASCII, float and big-int
    JSON: Django's load(key) and inspect give back exactly that (types too).
    check_stored(key, label) looks at the stored session first; failures are
    appended to `failures`."""
    text = '{"a":[1,2,{"b":"é😀"}],"n":1.5,"big":12345678901234567890123}'
    want = {"a": [1, 2, {"b": "é😀"}], "n": 1.5, "big": 12345678901234567890123}

    def via(label, *args):
        r = c.sessionctl("create", *args).ok().expect_quiet_stderr()
        key = r.out.splitlines()[0]
        if check_stored:
            check_stored(key, label)
        got = load(key)
        check_eq(got, want, f"Django's load() of a session created with {label}")
        check_eq(json.dumps(got), json.dumps(want), "types (int/float) of the loaded data")
        check_eq(inspect_one(c, key).get("data"), want, "inspect data")

    collect(failures, "--data", via, "--data", "--data", text)
    data_file = c.tmp / "data.json"
    data_file.write_text(text, encoding="utf-8")
    collect(failures, "--data-file", via, "--data-file", "--data-file", str(data_file))


def check_rekey_keeps_logins(c, stored, store_extra=None):
    """Issue 19's key rotation on any engine (Django 4.1+): alice and bob log in
    and an anonymous session gets data under the old key; then the new key, the
    old one as fallback: `rekey --dry-run` counts 3 and changes nothing, `rekey`
    re-signs the 3, keeping keys and expiry (`stored()` -> {key: (data,
    expiry)}, the engine's raw view); Django without the fallback keeps both
    users logged in under the same session keys, the data intact; a second
    dry run counts 0. `store_extra` is added to sessionctl's config."""
    alice, bob = c.make_user("alice", 7, password="pw-a"), c.make_user("bob", 8, password="pw-b")
    clients = {"alice": c.client(), "bob": c.client(), "anon": c.client()}
    check(clients["alice"].login(username="alice", password="pw-a"), "alice logs in")
    check(clients["bob"].login(username="bob", password="pw-b"), "bob logs in")
    c.get(clients["alice"], "/set?color=blue")
    c.get(clients["anon"], "/set?cart=3")
    keys = {name: c.session_key_of(cl) for name, cl in clients.items()}
    old = c.secret
    new = new_secret()
    new_file = c.write_secret_file("new_key", new)
    old_file = c.write_secret_file("old_keys", old)
    config = c.write_config("rekey.json", secret_file=new_file,
                            extra={"SECRET_KEY_FALLBACKS_FILE": str(old_file), **(store_extra or {})})
    before = stored()
    check_eq(sorted(before), sorted(keys.values()), "stored sessions before rekey")

    dry = c.sessionctl("--json", "rekey", "--dry-run", config=config).ok().json()
    check_eq((dry["matched"], dry["rekeyed"], dry["by_key"]), (3, 0, {"SECRET_KEY_FALLBACKS[0]": 3}),
             "rekey --dry-run counts")
    check_eq(stored(), before, "stored sessions after rekey --dry-run")
    done = c.sessionctl("--json", "rekey", config=config).ok().json()
    check_eq((done["matched"], done["rekeyed"], done["skipped"]), (3, 3, 0), "rekey counts")
    after = stored()
    check_eq(sorted(after), sorted(before), "session keys after rekey")
    for key in before:
        check_eq(after[key][1], before[key][1], f"expiry of {key} after rekey")
        check(after[key][0] != before[key][0], f"session {key} was re-signed")
    with c.settings(SECRET_KEY=new, SECRET_KEY_FALLBACKS=[]):
        check_eq(c.get(clients["alice"], "/whoami"), "7", "alice with the old key dropped")
        check_eq(c.get(clients["bob"], "/whoami"), "8", "bob with the old key dropped")
        check_eq(c.get(clients["anon"], "/whoami"), "anonymous", "the anonymous client")
        for name, key in keys.items():
            check_eq(c.session_key_of(clients[name]), key, f"{name}'s session key (not cycled)")
        check_eq(c.store(keys["alice"]).load().get("color"), "blue", "alice's data after rekey")
        check_eq(c.store(keys["anon"]).load().get("cart"), "3", "anonymous data after rekey")
    again = c.sessionctl("--json", "rekey", "--dry-run", config=config).ok().json()
    check_eq(again["by_key"], {"SECRET_KEY_FALLBACKS[0]": 0}, "rekey --dry-run after rekey")


# --------------------------------------------------------------------------- results

class Result:
    def __init__(self, argv, rc, out, err, seconds):
        self.argv, self.rc, self.out, self.err, self.seconds = argv, rc, out, err, seconds

    def describe(self):
        cmd = " ".join(_shell_quote(a) for a in self.argv)
        return (f"$ {cmd}\n      exit {self.rc}\n      stdout: {self.out!r}\n"
                f"      stderr: {self.err!r}")

    def expect_rc(self, rc):
        if self.rc != rc:
            fail(f"expected exit {rc}\n      {self.describe()}")
        return self

    def ok(self):
        return self.expect_rc(0)

    def expect_error(self, rc, *contains):
        """Exit `rc` and exactly one stderr line `sessionctl: error: ...`."""
        self.expect_rc(rc)
        lines = self.err.splitlines()
        if len(lines) != 1 or not lines[0].startswith("sessionctl: error:"):
            fail(f"expected exactly one stderr line 'sessionctl: error: ...'\n      {self.describe()}")
        for c in contains:
            if c.lower() not in lines[0].lower():
                fail(f"error line does not mention {c!r}\n      {self.describe()}")
        return self

    def expect_quiet_stderr(self):
        if self.err != "":
            fail(f"unexpected stderr\n      {self.describe()}")
        return self

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            fail(f"stdout is not one JSON value ({e})\n      {self.describe()}")

    def json_lines(self):
        try:
            return [json.loads(line) for line in self.out.splitlines() if line.strip()]
        except ValueError as e:
            fail(f"stdout is not JSON Lines ({e})\n      {self.describe()}")


def _shell_quote(s):
    return s if re.fullmatch(r"[A-Za-z0-9_./=:,+@%-]+", s) else "'" + s.replace("'", "'\\''") + "'"


# --------------------------------------------------------------------------- one test

class Case:
    """A test's temp directory, database, secret, settings and sessionctl config."""

    def __init__(self, name, use_tz=True, time_zone="UTC", keep=False):
        self.name = name
        self.use_tz = use_tz
        self.time_zone = time_zone
        self.keep = keep
        self.tmp = Path(tempfile.mkdtemp(prefix=f"sessionctl-integ-{name}-"))
        self.db = self.tmp / "db.sqlite3"
        self.secret = new_secret()
        self.secret_file = self.write_secret_file("secret_key", self.secret)
        self.config = self.write_config()
        self._override = None
        self._users = 0

    # -- lifecycle
    def __enter__(self):
        from django.test.utils import override_settings
        self._override = override_settings(SECRET_KEY=self.secret, USE_TZ=self.use_tz,
                                           TIME_ZONE=self.time_zone)
        self._override.enable()
        migrate(self.db)
        return self

    def __exit__(self, exc_type, exc, tb):
        use_database(":memory:")
        self._override.disable()
        if exc_type is None and not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def settings(self, **kw):
        """An extra override_settings() for part of a test."""
        from django.test.utils import override_settings
        return override_settings(**kw)

    # -- files
    def write_private(self, name, text):
        """<tmp>/name holding `text`, mode 0600 from the start (secrets, configs)."""
        p = self.tmp / name
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return p

    def write_secret_file(self, name, secret):
        # Newline-terminated like `echo "$KEY" > file`; sessionctl strips it.
        return self.write_private(name, secret + "\n")

    def store_settings(self, db=None, timeout=None):
        """SESSION_ENGINE and the store's settings for a sessionctl config: the db
        engine on this case's SQLite file. Engine cases override this, taking
        their own keyword arguments (write_config passes them through)."""
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db or self.db)}
        if timeout is not None:
            database["OPTIONS"] = {"timeout": timeout}
        return {"SESSION_ENGINE": "django.contrib.sessions.backends.db",
                "DATABASES": {"default": database}}

    def write_config(self, name="sessionctl.json", secret_file=None, extra=None, drop=(), **store):
        """A sessionctl config (Django setting names) for this case; 0600.
        `drop` removes settings, then `extra` adds or replaces some."""
        cfg = {
            **self.store_settings(**store),
            "SECRET_KEY_FILE": str(secret_file or self.secret_file),
            "USE_TZ": self.use_tz,
            "TIME_ZONE": self.time_zone,
            "DJANGO_VERSION": __import__("django").get_version(),
        }
        for k in drop:
            cfg.pop(k, None)
        cfg.update(extra or {})
        return self.write_private(name, json.dumps(cfg, indent=2))

    # -- running sessionctl
    def sessionctl(self, *args, config=None, stdin=None, no_config=False, timeout=60):
        """Run sessionctl [--config CFG] ARGS... and return its Result."""
        proc = self.start_sessionctl(*args, config=config, stdin=stdin, no_config=no_config)
        return self.finish_sessionctl(proc, timeout=timeout)

    def start_sessionctl(self, *args, config=None, stdin=None, no_config=False):
        """Start sessionctl without waiting (finish with finish_sessionctl)."""
        argv = [SESSIONCTL]
        if not no_config:
            argv += ["--config", str(config or self.config)]
        argv += [str(a) for a in args]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SESSIONCTL_") and k not in ("TZ", "PYTHONPATH")}
        env["TZ"] = SESSIONCTL_TZ
        env["HOME"] = str(self.tmp)
        env["XDG_CONFIG_HOME"] = str(self.tmp / "xdg")
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=self.tmp, env=env)
        proc.integ_argv = argv
        proc.integ_stdin = stdin
        proc.integ_t0 = time.monotonic()
        return proc

    def finish_sessionctl(self, proc, timeout=60):
        argv = proc.integ_argv
        try:
            out_b, err_b = proc.communicate(input=proc.integ_stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            fail(f"sessionctl did not finish within {timeout}s: {argv}")
        seconds = time.monotonic() - proc.integ_t0
        out = out_b.decode("utf-8", "replace")
        err = err_b.decode("utf-8", "replace")
        r = Result(argv, proc.returncode, out, err, seconds)
        OUTPUTS.append((argv, out, err))
        for s in SECRETS:
            for stream, text in (("stdout", out), ("stderr", err)):
                if s in text:
                    SECRET_LEAKS.append((argv, stream))
                    fail(f"a SECRET_KEY appears on {stream}\n      $ {' '.join(argv)}")
        if r.rc < 0:
            fail(f"sessionctl died with signal {-r.rc}\n      {r.describe()}")
        return r

    # -- users and clients
    def make_user(self, username, pk, password=None):
        from django.contrib.auth import get_user_model
        User = get_user_model()
        return User.objects.create_user(username=username, password=password or f"pw-{username}",
                                        id=pk)

    def client(self):
        from django.test import Client
        return Client()

    @staticmethod
    def store(key=None):
        """The configured engine's SessionStore(key)."""
        from importlib import import_module
        from django.conf import settings
        return import_module(settings.SESSION_ENGINE).SessionStore(key)

    def client_with_cookie(self, key):
        from django.conf import settings
        c = self.client()
        c.cookies[settings.SESSION_COOKIE_NAME] = key
        return c

    @staticmethod
    def session_key_of(client):
        from django.conf import settings
        morsel = client.cookies.get(settings.SESSION_COOKIE_NAME)
        check(morsel is not None and morsel.value, "the Django client has no session cookie")
        return morsel.value

    @staticmethod
    def get(client, url):
        resp = client.get(url)
        check_eq(resp.status_code, 200, f"HTTP status of GET {url}")
        return resp.content.decode()

    # -- raw table access (independent of Django's connection)
    def rows(self, db=None):
        con = sqlite3.connect(str(db or self.db))
        try:
            return con.execute("SELECT session_key, session_data, expire_date FROM django_session"
                               " ORDER BY session_key").fetchall()
        finally:
            con.close()

    def row(self, key, db=None):
        for r in self.rows(db):
            if r[0] == key:
                return r
        return None

    def insert_row(self, key, data, expire_text, db=None):
        con = sqlite3.connect(str(db or self.db))
        try:
            con.execute("INSERT INTO django_session (session_key, session_data, expire_date)"
                        " VALUES (?, ?, ?)", (key, data, expire_text))
            con.commit()
        finally:
            con.close()

    def db_bytes(self, db=None):
        return Path(db or self.db).read_bytes()

    def copy_db(self, name):
        from django.db import connections
        connections["default"].close()
        dst = self.tmp / name
        shutil.copyfile(self.db, dst)
        return dst


# --------------------------------------------------------------------------- a database on a shared server

def mysql_client_problem():
    """Why this Django cannot reach MySQL whatever the server (None when it can):
    no MySQLdb, or Django 6, which refuses mysqlclient older than 2.2.1 (Debian 13,
    where the Django 6.1 chroot comes from, ships 1.4.6)."""
    try:
        import MySQLdb
    except ImportError as e:
        return f"no MySQLdb module: {e}"
    import django
    if django.VERSION >= (6, 0) and MySQLdb.version_info < (2, 2, 1):
        have = ".".join(str(n) for n in MySQLdb.version_info[:3])
        return f"Django {django.get_version()} needs mysqlclient >= 2.2.1, this is {have}"
    return None


def add_database(alias, entry):
    """settings.DATABASES[alias] = entry after django.setup(): the connection
    handler reads DATABASES once (3.2: .databases; 4.0+: .settings)."""
    from django.conf import settings
    from django.db import connections
    settings.DATABASES[alias] = entry
    connections.__dict__.pop("databases", None)
    connections.__dict__.pop("settings", None)


def sql(statement, params=()):
    """Run SQL on Django's default connection; rows for a SELECT."""
    from django.db import connection
    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else None


class ServerDatabase:
    """A test process's own database on a shared MariaDB/MySQL or PostgreSQL server
    (sql_servers.py; kind "mysql" or "pg"), named <prefix>_<pid>: setup_django()
    creates it and sets Django up on it, teardown() drops it."""

    def __init__(self, kind, url, prefix="sessionctl_integ"):
        self.kind = kind
        self.url = url
        self.name = f"{prefix}_{os.getpid()}"

    def settings(self, **override):
        """Its DATABASES entry (for Django and sessionctl), with `override` applied."""
        return sql_servers.database_settings(self.kind, self.url, self.name, **override)

    def setup_django(self, sessionctl_path):
        """The database, created, then Django set up on it and migrated (run_module's setup)."""
        sql_servers.create_database(self.kind, self.url, self.name)
        got = setup_django(sessionctl_path, database=self.settings())
        from django.core.management import call_command
        call_command("migrate", verbosity=0, interactive=False)
        return got

    def teardown(self):
        from django.db import connections
        connections.close_all()
        sql_servers.drop_database(self.kind, self.url, self.name)


class ServerCase(Case):
    """A Case whose database is the module's ServerDatabase (the class attribute
    `server`): each test starts from empty tables (clear_tables(), the subclass's)."""

    server = None

    def clear_tables(self):
        raise NotImplementedError

    def __enter__(self):
        from django.test.utils import override_settings
        self._override = override_settings(SECRET_KEY=self.secret, USE_TZ=self.use_tz, TIME_ZONE=self.time_zone)
        self._override.enable()
        sql("DROP TABLE IF EXISTS sessionctl_cart")
        self.clear_tables()
        return self

    def __exit__(self, exc_type, exc, tb):
        from django.db import connections
        connections.close_all()
        self._override.disable()
        if exc_type is None and not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def store_settings(self, database=None):
        """The db engine on the module's database (or on `database`)."""
        return {"SESSION_ENGINE": "django.contrib.sessions.backends.db",
                "DATABASES": {"default": database or self.server.settings()}}

    def keys(self):
        return sorted(r[0] for r in sql("SELECT session_key FROM django_session"))


# --------------------------------------------------------------------------- a module's tests

class Tests(list):
    """A test module's registry, in registration order. Each test is a dict:
    name, fn, and the fields its Case factory and skip rules read."""

    DEFAULTS = dict(use_tz=True, time_zone="UTC", min_django=None, needs_case=True, whole_run=False)

    def add(self, fn, suffix="", **fields):
        self.append({**self.DEFAULTS, "name": fn.__name__ + suffix, "fn": fn, **fields})

    def test(self, use_tz=True, time_zone="UTC", min_django=None, suffix="", needs_case=True):
        """Decorator: register fn (name + suffix) to run in a Case with these settings;
        min_django=(4, 1) SKIPs it on older Django; needs_case=False calls fn(None)."""
        def deco(fn):
            self.add(fn, suffix, use_tz=use_tz, time_zone=time_zone, min_django=min_django,
                     needs_case=needs_case)
            return fn
        return deco

    def variants(self, *specs):
        """Register one function several times: specs are (suffix, use_tz, time_zone)."""
        def deco(fn):
            for suffix, use_tz, tz in specs:
                self.test(use_tz=use_tz, time_zone=tz, suffix=suffix)(fn)
            return fn
        return deco

    def leak_check(self, name, min_runs):
        """The module's last test: no sessionctl run printed a secret. It judges the
        whole run, so it is left out when -k picks some tests."""
        def check_leaks(_case):
            check_no_secret_leaks(min_runs)
        check_leaks.__name__ = name
        self.add(check_leaks, needs_case=False, whole_run=True)


# --------------------------------------------------------------------------- a module's main()

def run_module(doc, tests, case_class=Case, make_case=None, setup=setup_django, setup_step="import_django",
               teardown=None, needs_env=None, why_skip=None, why_no_server=None):
    """main() of a test module run by django_integration_test.py, for ONE Django version:

        PYTHONPATH=... test_x.py --sessionctl PATH --django 5.2 [-k SUBSTRING] [--keep]

    Prints `PASS|FAIL|SKIP django-5.2 name` per test (a FAIL with indented
    details), then `RESULT <passed> <failed>` (which django_integration_test.py reads);
    returns the exit status (1 when a test failed).

    make_case(test, keep) makes a test's Case (default: case_class with the test's
    use_tz / time_zone). setup(sessionctl) configures Django and returns its version
    (a failure is `FAIL django-X <setup_step>`); teardown() runs after the tests.
    Servers: needs_env=(VAR, reason) when the whole module needs $VAR (unset: every
    test is a SKIP without setting Django up); why_no_server(test) a reason for one
    test. Either is a FAIL under SESSIONCTL_REQUIRE_SERVERS=1. why_skip(test) is a
    reason to SKIP a test whatever the servers (e.g. too old a Django).
    """
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--sessionctl", required=True)
    p.add_argument("--django", required=True, help="the Django version expected on PYTHONPATH, e.g. 5.2")
    p.add_argument("-k", dest="filter", default=None, help="only tests whose name contains this")
    p.add_argument("--keep", action="store_true", help="keep every temp directory")
    args = p.parse_args()
    label = f"django-{args.django}"
    if make_case is None:
        def make_case(t, keep):
            return case_class(t["name"], use_tz=t["use_tz"], time_zone=t["time_zone"], keep=keep)
    selected = [t for t in tests
                if not args.filter or (args.filter in t["name"] and not t["whole_run"])]
    required = os.environ.get("SESSIONCTL_REQUIRE_SERVERS") == "1"

    if needs_env and not os.environ.get(needs_env[0]):
        verdict = "FAIL" if required else "SKIP"
        for t in selected:
            print(f"{verdict} {label} {t['name']} ({needs_env[1]})", flush=True)
        print(f"RESULT 0 {len(selected) if required else 0}", flush=True)
        return 1 if required else 0

    try:
        got = setup(args.sessionctl)
    except Exception as e:  # noqa: BLE001
        print(f"FAIL {label} {setup_step}: {type(e).__name__}: {e}", flush=True)
        print("RESULT 0 1", flush=True)
        return 1
    try:
        if not (got == args.django or got.startswith(args.django + ".")):
            print(f"FAIL {label} import_django: PYTHONPATH gives Django {got}", flush=True)
            print("RESULT 0 1", flush=True)
            return 1
        passed, failed = _run_tests(label, selected, make_case, args.keep, required, why_skip, why_no_server)
    finally:
        if teardown:
            teardown()
    print(f"RESULT {passed} {failed}", flush=True)
    return 1 if failed else 0


def _run_tests(label, selected, make_case, keep, required, why_skip, why_no_server):
    """Each selected test run or skipped by the rules of run_module: (passed, failed)."""
    passed = failed = 0
    for t in selected:
        if t["min_django"] and django_version() < t["min_django"]:
            need = ".".join(map(str, t["min_django"]))
            print(f"SKIP {label} {t['name']} (needs Django >= {need})", flush=True)
            continue
        reason = why_skip(t) if why_skip else None
        if reason:
            print(f"SKIP {label} {t['name']} ({reason})", flush=True)
            continue
        reason = why_no_server(t) if why_no_server else None
        if reason and required:
            failed += 1
            print(f"FAIL {label} {t['name']} ({reason}, SESSIONCTL_REQUIRE_SERVERS=1)", flush=True)
            continue
        if reason:
            print(f"SKIP {label} {t['name']} ({reason})", flush=True)
            continue
        if _run_test(label, t, make_case, keep):
            passed += 1
        else:
            failed += 1
    return passed, failed


def _run_test(label, t, make_case, keep):
    """Run one test, print its PASS/FAIL lines; True when it passed."""
    start = time.monotonic()
    case = None
    ok = False
    NOTES.clear()
    try:
        if t["needs_case"]:
            case = make_case(t, keep)
            with case:
                t["fn"](case)
        else:
            t["fn"](None)
        ok = True
        print(f"PASS {label} {t['name']}", flush=True)
        for n in NOTES:
            print(f"    note: {n}", flush=True)
    except TestFailure as e:
        print(f"FAIL {label} {t['name']}", flush=True)
        print("    " + str(e).replace("\n", "\n    "), flush=True)
    except Exception:  # noqa: BLE001 - a crash in a test is a failure, with its traceback
        print(f"FAIL {label} {t['name']} (exception)", flush=True)
        print("    " + traceback.format_exc().rstrip().replace("\n", "\n    "), flush=True)
    if not ok and case is not None and case.tmp.is_dir():
        print(f"    (files kept in {case.tmp})", flush=True)
    elapsed = time.monotonic() - start
    if elapsed > 20:
        print(f"    (slow: {elapsed:.1f}s)", flush=True)
    return ok
