"""Helpers for the real-Django integration tests of sessionctl (db engine, SQLite).

One Python process = one Django version. `setup_django()` configures Django once;
each test then runs inside a `Case`: a fresh temporary directory with its own
`db.sqlite3` (created by `call_command("migrate")`), its own random SECRET_KEY
(written to a 0600 file and referenced from a sessionctl config JSON), and
`override_settings(...)` for SECRET_KEY / USE_TZ / TIME_ZONE (the setting_changed
receivers of django.test reset the process TZ and the connection time zone).

Every sessionctl run goes through `Case.sessionctl()`, which records the output
so that the suite can assert globally that no secret ever shows up.
"""

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
import types
from pathlib import Path

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

def setup_django(sessionctl_path):
    """settings.configure() + django.setup(), once per process."""
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
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
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
    def write_secret_file(self, name, secret):
        p = self.tmp / name
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")   # like `echo "$KEY" > file`; sessionctl strips it
        return p

    def write_config(self, name="sessionctl.json", db=None, secret_file=None, extra=None,
                     drop=(), timeout=None):
        """A sessionctl config (Django setting names) for this case; 0600."""
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db or self.db)}
        if timeout is not None:
            database["OPTIONS"] = {"timeout": timeout}
        cfg = {
            "SESSION_ENGINE": "django.contrib.sessions.backends.db",
            "SECRET_KEY_FILE": str(secret_file or self.secret_file),
            "USE_TZ": self.use_tz,
            "TIME_ZONE": self.time_zone,
            "DATABASES": {"default": database},
            "DJANGO_VERSION": __import__("django").get_version(),
        }
        for k in drop:
            cfg.pop(k, None)
        cfg.update(extra or {})
        p = self.tmp / name
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f, indent=2)
        return p

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
