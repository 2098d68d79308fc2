#!/usr/bin/python3
"""Real-Django integration tests of sessionctl's db engine on PostgreSQL
(DATABASES ENGINE django.db.backends.postgresql, Debian's psycopg2).

Runs every test against ONE Django version (the one on PYTHONPATH) in this process:

    PYTHONPATH=... /usr/bin/python3 tests/system/django_integration/test_pg_engine.py \
        --sessionctl PATH --django 5.2 [-k SUBSTRING] [--keep]

Normally started by django_integration_test.py, once per version. Needs
SESSIONCTL_TEST_PG (scripts/servers.sh); without it every test is a SKIP, except
with SESSIONCTL_REQUIRE_SERVERS=1 (CI), where that is a FAIL. The process creates
its own database sessionctl_integ_<pid> on that server, migrates it with Django,
and drops it at the end; each test starts from empty django_session / auth_user.
Prints PASS/FAIL/SKIP lines and finally `RESULT <passed> <failed>`.
"""

import os
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/system: djangoharness
import djangoharness as h  # noqa: E402
import sql_servers  # noqa: E402
from djangoharness import check, check_eq, sql  # noqa: E402

DB_ENGINE = "django.contrib.sessions.backends.db"
PG_URL = os.environ.get("SESSIONCTL_TEST_PG", "")
PG_PASSWORD_URL = os.environ.get("SESSIONCTL_TEST_PG_PASSWORD_URL", "")

TESTS = h.Tests()
test = TESTS.test


def both_tz(fn):
    test(suffix="")(fn)
    test(use_tz=False, time_zone="America/Chicago", suffix="_no_tz")(fn)
    return fn


# --------------------------------------------------------------------------- server and Django

SERVER = h.ServerDatabase("pg", PG_URL)
DBNAME = SERVER.name
database_settings = SERVER.settings


class PgCase(h.ServerCase):
    """A djangoharness ServerCase on this process's PostgreSQL database."""

    server = SERVER

    def clear_tables(self):
        sql("TRUNCATE django_session, auth_user CASCADE")


def model():
    from django.contrib.sessions.models import Session
    return Session


# --------------------------------------------------------------------------- tests

@test(min_django=(4, 1))
def test_pg_rekey_keeps_logins(case):
    """Issue 19: rekey on PostgreSQL, the user table read from the same database."""
    def stored():
        return {k: (d, e) for k, d, e in sql("SELECT session_key, session_data, expire_date FROM django_session")}
    h.check_rekey_keeps_logins(case, stored)


@both_tz
def test_pg_django_writes_sessionctl_reads(case):
    s = h.session_store()
    s["cart"] = [1, 2, {"x": "é"}]
    s.set_expiry(3600)
    s.save()
    expire = model().objects.get(pk=s.session_key).expire_date
    out = case.sessionctl("--json", "inspect", s.session_key).ok().json_lines()
    check_eq(len(out), 1, "sessions shown")
    check_eq(out[0]["data"]["cart"], [1, 2, {"x": "é"}], "data")
    check_eq(out[0]["expired"], False, "expired")
    shown = datetime.fromisoformat(out[0]["expire_date"])
    if expire.tzinfo is None:  # USE_TZ false: Django's naive local time in TIME_ZONE
        from django.utils import timezone
        expire = timezone.make_aware(expire)
    check_eq(shown, expire, "expire_date as an instant")


@both_tz
def test_pg_sessionctl_writes_django_reads(case):
    r = case.sessionctl("--json", "create", "--data", '{"a": 1, "b": "two"}', "--expiry", "3600").ok().json()
    key = r["key"]
    s = h.session_store(key)
    check_eq(dict(s.items()), {"a": 1, "b": "two", "_session_expiry": 3600}, "data Django loads")
    age = s.get_expiry_age()
    check(3590 <= age <= 3600, f"expiry age {age}")
    row = model().objects.get(pk=key)
    from django.utils import timezone
    delta = (row.expire_date - timezone.now()).total_seconds()
    check(3590 <= delta <= 3601, f"expire_date is {delta}s from now")
    case.sessionctl("expire", key, "--in", "60").ok()
    check(50 <= h.session_store(key).get_expiry_age() <= 60, "Django sees the new expiry")
    case.sessionctl("expire", key, "--now").ok()
    check_eq(dict(h.session_store(key).items()), {}, "an expired session loads empty in Django")


@test()
def test_pg_delete_user_logs_client_out(case):
    case.make_user("alice", 41, "pw-alice")
    case.make_user("bob", 42, "pw-bob")
    alice, bob = case.client(), case.client()
    check(alice.login(username="alice", password="pw-alice"), "alice logs in")
    check(bob.login(username="bob", password="pw-bob"), "bob logs in")
    check_eq(case.get(alice, "/whoami"), "41", "alice before")
    r = case.sessionctl("--json", "delete", "--user", "41").ok().json()
    check_eq(r["deleted"], 1, "deleted")
    check_eq(case.get(alice, "/whoami"), "anonymous", "alice after")
    check_eq(case.get(bob, "/whoami"), "42", "bob after")


def seed_expiries():
    """Rows around now, far enough from it that the two runs agree."""
    from django.utils import timezone
    now = timezone.now()
    Session = model()
    rows = []
    for i, seconds in enumerate([-86400 * 30, -3600, -120, 120, 3600, 86400 * 30]):
        rows.append(Session(session_key=f"seed{i:02d}{'x' * 26}", session_data="e30:1ruzA4:x",
                            expire_date=now + timedelta(seconds=seconds)))
    Session.objects.bulk_create(rows)


@both_tz
def test_pg_clearsessions_leaves_what_django_leaves(case):
    from django.core.management import call_command
    seed_expiries()
    case.sessionctl("clearsessions").ok().expect_quiet_stderr()
    ours = case.keys()
    sql("TRUNCATE django_session")
    seed_expiries()
    call_command("clearsessions")
    check_eq(ours, case.keys(), "rows left by sessionctl vs by Django")
    check_eq(len(ours), 3, "live rows")


@test()
def test_pg_concurrent_writer_during_batched_cleanup(case):
    """100k expired rows cleared in batches while a Django writer (lock_timeout 1s)
    keeps creating and rewriting sessions: no lock timeout, no live session lost."""
    sql("INSERT INTO django_session SELECT md5(i::text) || 'exp', 'e30:1ruzA4:x', "
        "now() - interval '1 day' - i * interval '1 second' FROM generate_series(1, 100000) i")
    errors, written = [], {}
    stop = threading.Event()

    def writer():
        from django.db import connection
        try:
            with connection.cursor() as cur:
                cur.execute("SET lock_timeout = '1s'")
            n = 0
            while not stop.is_set():
                s = h.session_store()
                s["n"] = n
                s.save()
                written[s.session_key] = n
                # rewrite an earlier one, as a request would
                if n >= 5:
                    old = list(written)[n - 5]
                    o = h.session_store(old)
                    o["n"] = written[old] = n + 1000000
                    o.save()
                n += 1
        except Exception as e:  # noqa: BLE001
            errors.append(f"{type(e).__name__}: {e}")
        finally:
            connection.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        r = case.sessionctl("--json", "-v", "clearsessions", timeout=300).ok().json()
    finally:
        time.sleep(0.2)
        stop.set()
        t.join()
    check_eq(errors, [], "errors the writer saw")
    check_eq(r["deleted"], 100000, "expired rows deleted")
    check(len(written) > 10, f"the writer wrote only {len(written)} sessions")
    left = dict(sql("SELECT session_key, session_data FROM django_session"))
    check_eq(sorted(left), sorted(written), "rows left: exactly the writer's sessions")
    for key, n in written.items():
        check_eq(h.session_store(key).get("n"), n, f"session {key}")
    h.note(f"writer saved {len(written)} sessions during the cleanup")


@test()
def test_pg_foreign_key_refusal_names_the_table(case):
    s = h.session_store()
    s["a"] = 1
    s.save()
    sql("CREATE TABLE sessionctl_cart (id serial PRIMARY KEY, session_id varchar(40) NOT NULL "
        "REFERENCES django_session (session_key) DEFERRABLE INITIALLY DEFERRED)")
    sql("INSERT INTO sessionctl_cart (session_id) VALUES (%s)", [s.session_key])
    case.sessionctl("delete", s.session_key).expect_error(3, "sessionctl_cart", "refusing")
    check_eq(case.keys(), [s.session_key], "the referenced session is kept")


@test()
def test_pg_connection_failures_are_one_line_without_password(case):
    bad = dict(database_settings(), PORT="1")
    cfg = case.write_config("down.json", database=bad)
    case.sessionctl("inspect", "--all", config=cfg).expect_error(3, "127.0.0.1")
    missing = dict(database_settings(), NAME="sessionctl_no_such_db")
    cfg = case.write_config("missing.json", database=missing)
    case.sessionctl("inspect", "--all", config=cfg).expect_error(2, "does not exist")
    if PG_PASSWORD_URL:
        p = sql_servers.server_parts("pg", PG_PASSWORD_URL)
        wrong = {"ENGINE": "django.db.backends.postgresql", "NAME": DBNAME, "USER": p["USER"],
                 "PASSWORD": "wrong-hunter2", "HOST": p["HOST"], "PORT": p["PORT"]}
        cfg = case.write_config("wrong.json", database=wrong)
        r = case.sessionctl("inspect", "--all", config=cfg).expect_error(3, "password authentication failed")
        check("hunter2" not in r.err, "the password is not shown")
        # The right one, in a URL, works; `config` shows it redacted.
        sql(f'GRANT ALL ON django_session TO "{p["USER"]}"')
        cfg = case.write_config("url.json", database={"URL": PG_PASSWORD_URL.rsplit("/", 1)[0] + "/" + DBNAME})
        r = case.sessionctl("inspect", "--all", config=cfg)
        check(r.rc in (0, 1), f"inspect through the URL\n      {r.describe()}")
        r = case.sessionctl("config", config=cfg).ok()
        check(p["PASSWORD"] not in r.out, f"config shows the URL's password\n      {r.describe()}")
        # libpq's other spellings of a password are hidden too.
        for url in (f"postgresql://{p['USER']}@{p['HOST']}:{p['PORT']}/{DBNAME}?password={p['PASSWORD']}",
                    f"host={p['HOST']} port={p['PORT']} password={p['PASSWORD']} dbname={DBNAME}"):
            cfg = case.write_config("other.json", database={"ENGINE": "django.db.backends.postgresql", "NAME": url})
            r = case.sessionctl("config", config=cfg).ok()
            check(p["PASSWORD"] not in r.out, f"config shows the password\n      {r.describe()}")


@test()
def test_pg_missing_table_is_exit_2(case):
    sql("ALTER TABLE django_session RENAME TO django_session_away")
    try:
        case.sessionctl("inspect", "--all").expect_error(2, "django_session", "migrate")
    finally:
        sql("ALTER TABLE django_session_away RENAME TO django_session")


if __name__ == "__main__":
    sys.exit(h.run_module(
        __doc__, TESTS, PgCase, setup=SERVER.setup_django, setup_step="pg_setup", teardown=SERVER.teardown,
        needs_env=("SESSIONCTL_TEST_PG", 'SESSIONCTL_TEST_PG is not set; eval "$(scripts/servers.sh start)"')))
