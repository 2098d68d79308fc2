#!/usr/bin/python3
"""Real-Django integration tests of DATABASES["default"]["TIME_ZONE"] on the
databases without time zone support: SQLite and MySQL/MariaDB, USE_TZ=True.

Django then stores expire_date as the naive wall clock of that zone
(make_naive), reads it back from it (make_aware) and compares it in SQL with
now on that clock. Every test runs once per database and zone: Asia/Kathmandu
(+05:45) and America/Sao_Paulo (-03:00), so that a zone ignored on either side
shows (rows expired in UTC terms that would look live, and the reverse).

    PYTHONPATH=... /usr/bin/python3 tests/system/django_integration/test_db_time_zone.py \
        --sessionctl PATH --django 5.2 [-k SUBSTRING] [--keep]

Normally started by django_integration_test.py, once per version. The MariaDB
tests need SESSIONCTL_TEST_MYSQL (scripts/servers.sh): without it they SKIP,
except with SESSIONCTL_REQUIRE_SERVERS=1, where they FAIL; they also SKIP where
this Django cannot load MySQLdb (as in test_copy.py). The process creates its
own database sessionctl_tz_<pid> there and drops it at the end.
Prints PASS/FAIL/SKIP lines and finally `RESULT <passed> <failed>`.
"""

import os
import sqlite3
import sys
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/system: djangoharness
import djangoharness as h  # noqa: E402
import sql_servers  # noqa: E402
from djangoharness import Case, check, check_eq  # noqa: E402

MYSQL_URL = os.environ.get("SESSIONCTL_TEST_MYSQL", "")
MY_DBNAME = f"sessionctl_tz_{os.getpid()}"
ZONES = ("Asia/Kathmandu", "America/Sao_Paulo")
BACKENDS = ("sqlite", "mysql")


MYSQL_PROBLEM = h.mysql_client_problem() if MYSQL_URL else None
MYSQL_USABLE = bool(MYSQL_URL) and MYSQL_PROBLEM is None
ALIASES = {"sqlite": "default", "mysql": "my"}
# The alias the sessions app reads and writes (SessionRouter).
SESSION_DB = {"alias": "default"}


class SessionRouter:
    def db_for_read(self, model, **hints):
        return SESSION_DB["alias"] if model._meta.app_label == "sessions" else None

    db_for_write = db_for_read

    def allow_migrate(self, db, app_label, **hints):
        return app_label == "sessions" if db == "my" else None


TESTS = h.Tests()


def for_each_store(fn):
    """Register fn once per (database, zone): test_x_sqlite_kathmandu, ..."""
    for backend in BACKENDS:
        for zone in ZONES:
            TESTS.add(fn, suffix=f"_{backend}_{zone.split('/')[1].lower()}", backend=backend, zone=zone)
    return fn


# --------------------------------------------------------------------------- servers and Django

def my_database(zone=None):
    return sql_servers.database_settings("mysql", MYSQL_URL, MY_DBNAME, TIME_ZONE=zone)


def setup(sessionctl_path):
    got = h.setup_django(sessionctl_path)
    from django.db import router
    if MYSQL_USABLE:
        sql_servers.create_database("mysql", MYSQL_URL, MY_DBNAME)
        h.add_database("my", my_database())
    router.routers = [SessionRouter()]
    if MYSQL_USABLE:
        from django.core.management import call_command
        call_command("migrate", "sessions", database="my", verbosity=0, interactive=False)
    return got


def teardown():
    from django.db import connections
    connections.close_all()
    if MYSQL_USABLE:
        sql_servers.drop_database("mysql", MYSQL_URL, MY_DBNAME)


def set_database_zone(alias, zone):
    """DATABASES[alias]["TIME_ZONE"] = zone on Django's live connection: its
    timezone / timezone_name are cached properties, read again after this."""
    from django.db import connections
    conn = connections[alias]
    conn.close()
    conn.settings_dict["TIME_ZONE"] = zone
    conn.__dict__.pop("timezone", None)
    conn.__dict__.pop("timezone_name", None)


class TzCase(Case):
    """A Case whose session table is SQLite (this case's file) or MariaDB, with
    DATABASES TIME_ZONE = zone for Django and for sessionctl alike."""

    def __init__(self, name, backend, zone, keep=False):
        self.backend = backend
        self.zone = zone
        self.alias = ALIASES[backend]
        super().__init__(name, keep=keep)

    def __enter__(self):
        super().__enter__()
        SESSION_DB["alias"] = self.alias
        set_database_zone(self.alias, self.zone)
        if self.backend == "mysql":
            self.sql("DELETE FROM django_session")
        return self

    def __exit__(self, exc_type, exc, tb):
        set_database_zone(self.alias, None)
        SESSION_DB["alias"] = "default"
        return super().__exit__(exc_type, exc, tb)

    def store_settings(self, db=None, zone="same"):
        zone = self.zone if zone == "same" else zone
        if self.backend == "mysql" and db is None:
            database = my_database(zone)
        else:
            database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db or self.db)}
            if zone is not None:
                database["TIME_ZONE"] = zone
        return {"SESSION_ENGINE": "django.contrib.sessions.backends.db", "DATABASES": {"default": database}}

    def sql(self, statement, params=()):
        from django.db import connections
        with connections[self.alias].cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None

    def stored(self):
        """{key: expire_date text as stored} (MySQLdb's datetime shown as Django's str())."""
        return {k: str(e) for k, e in self.sql("SELECT session_key, expire_date FROM django_session")}

    def insert_raw(self, key, expire_text):
        self.sql("INSERT INTO django_session (session_key, session_data, expire_date) VALUES (%s, %s, %s)",
                 (key, "e30:1ruzA4:x", expire_text))

    def keys(self):
        return sorted(self.stored())

    def django_zone(self):
        from django.db import connections
        return connections[self.alias].timezone


def make_case(t, keep):
    return TzCase(t["name"], t["backend"], t["zone"], keep=keep)


def model():
    from django.contrib.sessions.models import Session
    return Session


def wall(instant, zone):
    """Django's make_naive(instant, zone) as the text it binds."""
    from django.utils import timezone
    return str(timezone.make_naive(instant, zone))


# --------------------------------------------------------------------------- tests

@for_each_store
def test_db_zone_django_writes_sessionctl_reads(case):
    s = h.session_store()
    s["cart"] = [1, 2]
    s.set_expiry(3600)
    s.save()
    expire = model().objects.get(pk=s.session_key).expire_date
    stored = case.stored()[s.session_key]
    # Django wrote the zone's wall clock (not UTC): the harness really set the zone up.
    check_eq(stored, wall(expire, case.django_zone()), "expire_date text Django stored")
    check(stored != wall(expire, dt_timezone.utc), f"Django stored UTC ({stored}): the zone is not in effect")
    out = h.inspect_one(case, s.session_key)
    check_eq(datetime.fromisoformat(out["expire_date"]), expire, "expire_date sessionctl shows, as an instant")
    check_eq(out["expired"], False, "expired")
    check_eq(out["data"]["cart"], [1, 2], "data")


@for_each_store
def test_db_zone_sessionctl_writes_django_reads(case):
    from django.utils import timezone
    r = case.sessionctl("--json", "create", "--data", '{"a": 1}', "--expiry", "3600").ok().json()
    key = r["key"]
    s = h.session_store(key)
    check_eq(s.get("a"), 1, "data Django loads")
    age = s.get_expiry_age()
    check(3590 <= age <= 3600, f"expiry age {age}")
    row = model().objects.get(pk=key)
    delta = (row.expire_date - timezone.now()).total_seconds()
    check(3590 <= delta <= 3601, f"expire_date is {delta}s from now")
    check_eq(case.stored()[key], wall(row.expire_date, case.django_zone()), "text sessionctl stored")
    case.sessionctl("expire", key, "--in", "60").ok()
    age = h.session_store(key).get_expiry_age()
    check(50 <= age <= 60, f"Django sees the new expiry ({age})")
    case.sessionctl("expire", key, "--now").ok()
    check_eq(dict(h.session_store(key).items()), {}, "an expired session loads empty in Django")


def seed_around_now(case):
    """Rows written as Django would, minutes around now on the zone's wall clock
    and on UTC's: {key: text}, and the texts of now on both clocks."""
    from django.utils import timezone
    now = timezone.now()
    now_zone, now_utc = wall(now, case.django_zone()), wall(now, dt_timezone.utc)
    rows = {}
    for clock, base in (("z", now_zone), ("u", now_utc)):
        for i, seconds in enumerate((-7200, -900, -120, 120, 900, 7200)):
            text = str(datetime.fromisoformat(base) + timedelta(seconds=seconds))
            rows[f"seed{clock}{i}{'x' * 27}"] = text
    for key, text in rows.items():
        case.insert_raw(key, text)
    return rows, now_zone, now_utc


@for_each_store
def test_db_zone_clearsessions_leaves_what_django_leaves(case):
    from django.core.management import call_command
    rows, now_zone, now_utc = seed_around_now(case)
    live = sorted(k for k, text in rows.items() if text > now_zone)
    # The seeds Django and a zone-blind reader would judge differently.
    differ = [k for k, text in rows.items() if (text > now_zone) != (text > now_utc)]
    check(len(differ) >= 4, f"seeds the zone decides: {differ}")
    flags = {o["key"]: o["expired"] for o in case.sessionctl("--json", "inspect", "--all").ok().json_lines()}
    check_eq(flags, {k: k not in live for k in rows}, "expired as inspect --all shows it")
    dry = case.sessionctl("--json", "clearsessions", "--dry-run").ok().json()
    check_eq(dry["matched"], len(rows) - len(live), f"dry run {dry}")
    case.sessionctl("clearsessions").ok().expect_quiet_stderr()
    ours = case.keys()
    case.sql("DELETE FROM django_session")
    seed_around_now(case)
    call_command("clearsessions")
    check_eq(ours, case.keys(), "rows left by sessionctl vs by Django")
    check_eq(ours, live, "rows left: those after now on the zone's wall clock")


@for_each_store
def test_db_zone_copy_between_zones(case):
    """copy to a store in UTC and back: the same instant, each store's own text."""
    s = h.session_store()
    s["n"] = 7
    s.set_expiry(7200)
    s.save()
    key = s.session_key
    expire = model().objects.get(pk=key).expire_date
    utc_db = case.tmp / "utc.sqlite3"
    con = sqlite3.connect(str(utc_db))
    con.execute('CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, '
                '"session_data" text NOT NULL, "expire_date" datetime NOT NULL)')
    con.commit()
    con.close()
    utc_cfg = case.write_config("utc.json", db=utc_db, zone=None)
    out = case.sessionctl("--json", "copy", "--to", str(utc_cfg)).ok().json()
    check_eq(out["copied"], 1, f"copied {out}")
    con = sqlite3.connect(str(utc_db))
    texts = dict(con.execute("SELECT session_key, expire_date FROM django_session").fetchall())
    con.close()
    check_eq(texts.get(key), wall(expire, dt_timezone.utc), "text in the UTC store")
    case.sql("DELETE FROM django_session")
    out = case.sessionctl("--json", "copy", "--to", str(case.config), config=utc_cfg).ok().json()
    check_eq(out["copied"], 1, f"copied back {out}")
    back = model().objects.get(pk=key).expire_date
    check_eq(back, expire, "expire_date Django reads after the round trip")
    check_eq(h.session_store(key).get("n"), 7, "data Django loads")


@TESTS.test()
def test_db_zone_settings_errors_and_config(case):
    def store(db_zone, use_tz=True):
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(case.db), "TIME_ZONE": db_zone}
        return case.write_config(f"cfg-{db_zone}-{use_tz}.json".replace("/", "_"),
                                 extra={"DATABASES": {"default": database}, "USE_TZ": use_tz})
    case.sessionctl("inspect", "--all", config=store("Asia/Katmandoo")).expect_error(
        2, "Asia/Katmandoo", "not a time zone")
    case.sessionctl("clearsessions", config=store("/etc/passwd")).expect_error(2, "not a time zone")
    case.sessionctl("inspect", "--all", config=store("UTC", use_tz=False)).expect_error(2, "USE_TZ is False")
    r = case.sessionctl("config", config=store("Asia/Kathmandu")).ok()
    check("wall clock of Asia/Kathmandu" in r.out, f"config says what TIME_ZONE does\n      {r.describe()}")
    r = case.sessionctl("config", config=store("Asia/Katmandoo"))
    check(r.rc == 0 and "Asia/Katmandoo" in r.err, f"config warns of an unknown zone\n      {r.describe()}")


def why_skip(t):
    return MYSQL_PROBLEM if t.get("backend") == "mysql" else None


def why_no_server(t):
    if t.get("backend") == "mysql" and not MYSQL_URL:
        return 'SESSIONCTL_TEST_MYSQL is not set; eval "$(scripts/servers.sh start)"'
    return None


if __name__ == "__main__":
    def make(t, keep):
        if "backend" in t:
            return make_case(t, keep)
        return TzCase(t["name"], "sqlite", None, keep=keep)
    sys.exit(h.run_module(__doc__, TESTS, make_case=make, setup=setup, teardown=teardown,
                          why_skip=why_skip, why_no_server=why_no_server))
