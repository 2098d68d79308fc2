#!/usr/bin/python3
"""Real-Django integration tests of sessionctl's db engine on MySQL/MariaDB
(DATABASES ENGINE django.db.backends.mysql, Debian's python3-mysqldb).

Runs every test against ONE Django version (the one on PYTHONPATH) in this process:

    PYTHONPATH=... /usr/bin/python3 tests/system/django_integration/test_mysql_engine.py \
        --sessionctl PATH --django 5.2 [-k SUBSTRING] [--keep]

Normally started by django_integration_test.py, once per version. Needs
SESSIONCTL_TEST_MYSQL (scripts/servers.sh); without it every test is a SKIP, except
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
MYSQL_URL = os.environ.get("SESSIONCTL_TEST_MYSQL", "")
MYSQL_PASSWORD_URL = os.environ.get("SESSIONCTL_TEST_MYSQL_PASSWORD_URL", "")
MYSQL_SOCKET = os.environ.get("SESSIONCTL_TEST_MYSQL_SOCKET", "")

TESTS = h.Tests()
test = TESTS.test


def both_tz(fn):
    test(suffix="")(fn)
    test(use_tz=False, time_zone="America/Chicago", suffix="_no_tz")(fn)
    return fn


# --------------------------------------------------------------------------- server and Django

SERVER = h.ServerDatabase("mysql", MYSQL_URL)
DBNAME = SERVER.name
database_settings = SERVER.settings


class MysqlCase(h.ServerCase):
    """A djangoharness ServerCase on this process's MySQL database."""

    server = SERVER

    def clear_tables(self):
        sql("DELETE FROM django_session")
        sql("SET FOREIGN_KEY_CHECKS = 0")
        sql("DELETE FROM auth_user")
        sql("SET FOREIGN_KEY_CHECKS = 1")


def model():
    from django.contrib.sessions.models import Session
    return Session


# --------------------------------------------------------------------------- tests

@both_tz
def test_mysql_django_writes_sessionctl_reads(case):
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
def test_mysql_sessionctl_writes_django_reads(case):
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
def test_mysql_delete_user_logs_client_out_and_create_user_logs_in(case):
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
    # create --user with the password hash: Django accepts the login.
    from django.contrib.auth import get_user_model
    hash_ = get_user_model().objects.get(pk=41).password
    r = case.sessionctl("--json", "create", "--user", "41", "--password-hash", "-", stdin=hash_.encode()).ok().json()
    check_eq(case.get(case.client_with_cookie(r["key"]), "/whoami"), "41", "a created login")


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
def test_mysql_clearsessions_leaves_what_django_leaves(case):
    from django.core.management import call_command
    seed_expiries()
    case.sessionctl("clearsessions").ok().expect_quiet_stderr()
    ours = case.keys()
    sql("DELETE FROM django_session")
    seed_expiries()
    call_command("clearsessions")
    check_eq(ours, case.keys(), "rows left by sessionctl vs by Django")
    check_eq(len(ours), 3, "live rows")
    sql("DELETE FROM django_session")
    seed_expiries()
    case.sessionctl("clearsessions", "--one-transaction").ok()
    check_eq(case.keys(), ours, "rows left by --one-transaction")


@test()
def test_mysql_concurrent_writer_during_batched_cleanup(case):
    """50k expired rows cleared in batches while a Django writer
    (innodb_lock_wait_timeout 1s) keeps creating and rewriting sessions: no lock
    timeout, no live session lost."""
    sql("INSERT INTO django_session SELECT CONCAT(MD5(seq), 'exp'), 'e30:1ruzA4:x', "
        "UTC_TIMESTAMP() - INTERVAL 1 DAY - INTERVAL seq SECOND FROM seq_1_to_50000")
    errors, written = [], {}
    stop = threading.Event()

    def writer():
        from django.db import connection
        try:
            with connection.cursor() as cur:
                cur.execute("SET SESSION innodb_lock_wait_timeout = 1")
            n = 0
            while not stop.is_set():
                s = h.session_store()
                s["n"] = n
                s.save()
                written[s.session_key] = n
                if n >= 5:  # rewrite an earlier one, as a request would
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
        r = case.sessionctl("--json", "-v", "clearsessions", "--batch-size", "2000", timeout=300).ok().json()
    finally:
        time.sleep(0.2)
        stop.set()
        t.join()
    check_eq(errors, [], "errors the writer saw")
    check_eq(r["deleted"], 50000, "expired rows deleted")
    check(len(written) > 10, f"the writer wrote only {len(written)} sessions")
    left = dict(sql("SELECT session_key, session_data FROM django_session"))
    check_eq(sorted(left), sorted(written), "rows left: exactly the writer's sessions")
    for key, n in written.items():
        check_eq(h.session_store(key).get("n"), n, f"session {key}")
    h.note(f"writer saved {len(written)} sessions during the cleanup")


@test()
def test_mysql_foreign_key_keeps_and_names_the_referenced_session(case):
    from django.utils import timezone
    keys = []
    for i in range(3):
        s = h.session_store()
        s["a"] = i
        s.save()
        keys.append(s.session_key)
    sql("CREATE TABLE sessionctl_cart (id int AUTO_INCREMENT PRIMARY KEY, session_id varchar(40) NOT NULL, "
        "CONSTRAINT sessionctl_cart_session_fk FOREIGN KEY (session_id) REFERENCES django_session (session_key))")
    sql("INSERT INTO sessionctl_cart (session_id) VALUES (%s)", [keys[0]])
    case.sessionctl("delete", keys[0]).expect_error(3, "sessionctl_cart", "sessionctl_cart_session_fk", "refusing")
    check_eq(case.keys(), sorted(keys), "the referenced session is kept")
    # clearsessions: the others go, the referenced one is kept and named.
    model().objects.update(expire_date=timezone.now() - timedelta(days=1))
    case.sessionctl("clearsessions").expect_error(3, "sessionctl_cart", "sessionctl_cart_session_fk")
    check_eq(case.keys(), [keys[0]], "only the referenced session is left")


@test()
def test_mysql_connection_rules_and_failures(case):
    bad = database_settings(PORT="1")
    cfg = case.write_config("down.json", database=bad)
    case.sessionctl("inspect", "--all", config=cfg).expect_error(3, "127.0.0.1")
    cfg = case.write_config("missing.json", database=database_settings(NAME="sessionctl_no_such_db"))
    case.sessionctl("inspect", "--all", config=cfg).expect_error(2, "Unknown database")
    cfg = case.write_config("unknown.json", database=database_settings(OPTIONS={"sslmode": "require"}))
    case.sessionctl("inspect", "--all", config=cfg).expect_error(2, "sslmode")
    if MYSQL_SOCKET:
        cfg = case.write_config("socket.json", database=database_settings(HOST=MYSQL_SOCKET, PORT=""))
        r = case.sessionctl("inspect", "--all", config=cfg)
        check(r.rc in (0, 1), f"inspect through the socket\n      {r.describe()}")
    if MYSQL_PASSWORD_URL:
        p = sql_servers.server_parts("mysql", MYSQL_PASSWORD_URL)
        wrong = database_settings(USER=p["USER"], PASSWORD="wrong-hunter2")
        cfg = case.write_config("wrong.json", database=wrong)
        r = case.sessionctl("inspect", "--all", config=cfg).expect_error(3, "Access denied")
        check("hunter2" not in r.err, "the password is not shown")
        # Credentials only in an option file, as many sites keep them.
        cnf = case.write_private("my.cnf", f"[mysite]\nuser = {p['USER']}\npassword = {p['PASSWORD']}\n"
                                           f"host = {p['HOST']}\nport = {p['PORT']}\n")
        only_file = {"ENGINE": "django.db.backends.mysql", "NAME": DBNAME,
                     "OPTIONS": {"read_default_file": str(cnf), "read_default_group": "mysite"}}
        cfg = case.write_config("cnf.json", database=only_file)
        r = case.sessionctl("inspect", "--all", config=cfg)
        check(r.rc in (0, 1), f"inspect with an option file\n      {r.describe()}")
        # The same settings work for Django itself.
        r = case.sessionctl("config", config=case.write_config("pw.json", database=database_settings(
            USER=p["USER"], PASSWORD=p["PASSWORD"]))).ok()
        check(p["PASSWORD"] not in r.out, f"config shows the password\n      {r.describe()}")


# --------------------------------------------------------------------------- the user table (issue 19)

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ALLOW_ALL = "django.contrib.auth.backends.AllowAllUsersModelBackend"


@test()
def test_mysql_create_user_alone_logs_in(case):
    case.make_user("dave", 314)
    r = case.sessionctl("create", "--user", "314").ok().expect_quiet_stderr()
    key = r.out.splitlines()[0]
    check_eq(case.get(case.client_with_cookie(key), "/whoami"), "314", "Django client with `create --user 314` alone")
    case.sessionctl("create", "--user", "999").expect_error(1, "no user 999 in auth_user")
    erin = case.make_user("erin", 99)
    erin.is_active = False
    erin.save()
    case.sessionctl("create", "--user", "99").expect_error(2, "inactive")
    check_eq(len(case.keys()), 1, "sessions stored after the refused creates")


@test()
def test_mysql_dead_logins_are_exactly_those_django_refuses(case):
    users = {name: case.make_user(name, pk) for name, pk in
             (("live", 1), ("gone", 2), ("inactive", 3), ("password", 4), ("backend", 5))}
    clients = {name: case.client() for name in users}
    for name, cl in clients.items():
        cl.force_login(users[name], backend=ALLOW_ALL if name == "backend" else MODEL_BACKEND)
    clients["anon"] = case.client()
    case.get(clients["anon"], "/set?cart=1")
    keys = {name: case.session_key_of(cl) for name, cl in clients.items()}
    users["gone"].delete()
    users["inactive"].is_active = False
    users["inactive"].save()
    users["password"].set_password("changed")
    users["password"].save()

    # Django's verdict; get_user() flushes what it refuses, so the rows are
    # put back before sessionctl looks.
    before = sql("SELECT session_key, session_data, expire_date FROM django_session")
    judged = {name: case.get(cl, "/whoami") for name, cl in clients.items()}
    sql("DELETE FROM django_session")
    for row in before:
        sql("INSERT INTO django_session (session_key, session_data, expire_date) VALUES (%s, %s, %s)", row)
    check_eq(judged, {"live": "1", "anon": "anonymous", "gone": "anonymous", "inactive": "anonymous",
                      "password": "anonymous", "backend": "anonymous"}, "Django's verdict")
    want = {keys["gone"]: "user gone", keys["inactive"]: "user inactive", keys["password"]: "password changed",
            keys["backend"]: "backend removed"}
    objs = case.sessionctl("--json", "inspect", "--all", "--dead").ok().json_lines()
    check_eq({o["key"]: o["dead"] for o in objs}, want, "inspect --all --dead")
    check_eq(case.sessionctl("--json", "delete", "--dead").ok().json()["deleted"], 4, "delete --dead")
    check_eq(case.keys(), sorted([keys["live"], keys["anon"]]), "sessions left")
    check_eq(case.get(clients["live"], "/whoami"), "1", "live user after delete --dead")


@test(min_django=(4, 1))
def test_mysql_rekey_keeps_logins(case):
    """rekey on MariaDB, the user table read from the same database; Django
    without the old key as a fallback keeps the clients logged in."""
    def stored():
        return {k: (d, e) for k, d, e in sql("SELECT session_key, session_data, expire_date FROM django_session")}
    h.check_rekey_keeps_logins(case, stored)


@test()
def test_mysql_missing_table_is_exit_2(case):
    sql("RENAME TABLE django_session TO django_session_away")
    try:
        case.sessionctl("inspect", "--all").expect_error(2, "django_session", "migrate")
    finally:
        sql("RENAME TABLE django_session_away TO django_session")


if __name__ == "__main__":
    sys.exit(h.run_module(
        __doc__, TESTS, MysqlCase, setup=SERVER.setup_django, setup_step="mysql_setup", teardown=SERVER.teardown,
        needs_env=("SESSIONCTL_TEST_MYSQL", 'SESSIONCTL_TEST_MYSQL is not set; eval "$(scripts/servers.sh start)"')))
