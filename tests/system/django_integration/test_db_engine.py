#!/usr/bin/python3
"""Real-Django integration tests of sessionctl's db engine on SQLite.

Runs every test against ONE Django version (the one on PYTHONPATH) in this process:

    PYTHONPATH=... /usr/bin/python3 tests/system/django_integration/test_db_engine.py \
        --sessionctl PATH --django 5.2 [-k SUBSTRING] [--keep]

Normally started by django_integration_test.py, once per version. Prints one line per
test (`PASS django-5.2 test_x` / `FAIL django-5.2 test_x` + indented details /
`SKIP ...`) and finally `RESULT <passed> <failed>`.
"""

import os
import re
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/system: djangoharness
import djangoharness as h  # noqa: E402
from djangoharness import (check, check_alice_logged_out, check_create_data_roundtrip, check_eq,  # noqa: E402
                           collect, fail, inspect_one, logged_in_world, parse_iso, raise_collected)

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
COOKIE_AGE = 1209600

TESTS = h.Tests()
test = TESTS.test
variants = TESTS.variants


# --------------------------------------------------------------------------- helpers

def stored_naive(dt):
    """What Django's SQLite backend stores for `dt`, parsed back to a naive datetime."""
    return h.parse_db_datetime(h.db_datetime_text(dt))


def check_within(value, low, high, what, slack=timedelta(milliseconds=2)):
    check(low - slack <= value <= high + slack,
          f"{what}: {value} is outside [{low}, {high}]")


def load(key):
    return h.session_store(key).load()


def store_with(data):
    """A SessionStore holding `data` as if Django had loaded it."""
    s = h.session_store()
    s._session_cache = dict(data)
    return s


def decode_row(row):
    return h.session_store().decode(row[1])


# --------------------------------------------------------------------------- 1. login -> inspect / delete

@test()
def test_login_visible_to_inspect(c):
    users, clients, keys = logged_in_world(c)
    rows = {r[0]: r for r in c.rows()}
    check_eq(sorted(rows), sorted(keys.values()), "session keys in django_session")

    objs = c.sessionctl("--json", "inspect", "--all").ok().expect_quiet_stderr().json_lines()
    by_key = {o.get("key"): o for o in objs}
    check_eq(len(objs), len(rows), "number of sessions from inspect --all")
    check_eq(sorted(by_key), sorted(rows), "keys from inspect --all")

    expect_user = {"alice1": "41", "alice2": "41", "bob": "1042", "carol": "7", "anon": None}
    expect_values = {"alice1": {"color": "blue", "n": "1"}, "alice2": {"device": "phone"},
                     "bob": {"color": "red"}, "carol": {}, "anon": {"cart": "3"}}
    for name, key in keys.items():
        o = by_key[key]
        django_data = load(key)
        for k, v in expect_values[name].items():
            check_eq(django_data.get(k), v, f"Django's own view of {name}'s session (sanity)")
        check_eq(o.get("data"), django_data, f"inspect data of {name}'s session")
        check_eq(o.get("user_id"), expect_user[name], f"inspect user_id of {name}'s session")
        check_eq(o.get("verified_with"), "SECRET_KEY", f"inspect verified_with of {name}")
        check_eq(o.get("error"), None, f"inspect error of {name}")
        check_eq(o.get("expired"), False, f"inspect expired of {name}")
        check_eq(o.get("size"), len(rows[key][1].encode()), f"inspect size of {name}")
        want_exp = h.parse_db_datetime(rows[key][2]).replace(tzinfo=dt_timezone.utc)
        check_eq(parse_iso(o.get("expire_date"), "expire_date"), want_exp,
                 f"inspect expire_date of {name} (table has {rows[key][2]!r} UTC)")
        check(o.get("expire_date", "").endswith("+00:00"),
              f"expire_date {o.get('expire_date')!r} is not ISO 8601 UTC (+00:00)")
    alice_auth = by_key[keys["alice1"]]["data"]
    check_eq(alice_auth.get("_auth_user_hash"), users["alice"].get_session_auth_hash(),
             "_auth_user_hash of alice (Django's value)")
    check_eq(alice_auth.get("_auth_user_backend"), MODEL_BACKEND, "_auth_user_backend")

    # inspect KEY, JSON and human
    one = inspect_one(c, keys["bob"])
    check_eq(one, by_key[keys["bob"]], "inspect KEY --json vs the same session from --all")
    r = c.sessionctl("inspect", keys["alice1"]).ok().expect_quiet_stderr()
    for pat in (rf"^session\s+{keys['alice1']}$", r"^\s+user\s+41$", r"^\s+verified\s+SECRET_KEY$",
                r"^\s+expires\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in 1[34] days\)$",
                r'"color": "blue"',
                rf"^\s+size\s+{len(rows[keys['alice1']][1].encode())} bytes( \(compressed\))?$"):
        check(re.search(pat, r.out, re.M), f"human inspect output lacks /{pat}/\n      {r.describe()}")

    # filters
    r = c.sessionctl("inspect", "--all", "--user", "41", "--keys-only").ok()
    check_eq(sorted(r.out.split()), sorted([keys["alice1"], keys["alice2"]]),
             "inspect --all --user 41 --keys-only")
    r = c.sessionctl("inspect", "--all", "--where", "color=red", "--keys-only").ok()
    check_eq(r.out.split(), [keys["bob"]], "inspect --all --where color=red --keys-only")


@test()
def test_delete_user_logs_out(c):
    users, clients, keys = logged_in_world(c)
    before = {r[0]: r for r in c.rows()}
    r = c.sessionctl("delete", "--user", "41").ok().expect_quiet_stderr()
    check_eq(r.out, "deleted 2 sessions\n", "stdout of delete --user 41")
    after = {r[0]: r for r in c.rows()}
    gone = {keys["alice1"], keys["alice2"]}
    check_eq(sorted(after), sorted(set(before) - gone), "sessions left after delete --user 41")
    for k in after:
        check_eq(after[k], before[k], f"untouched row {k}")

    check_alice_logged_out(c, clients, keys, load)
    r = c.sessionctl("--json", "delete", keys["bob"]).ok()
    check_eq({k: r.json().get(k) for k in ("matched", "deleted")}, {"matched": 1, "deleted": 1},
             "delete KEY --json")
    check_eq(c.get(clients["bob"], "/whoami"), "anonymous", "bob after delete KEY")
    check_eq(c.sessionctl("delete", keys["bob"]).rc, 0, "deleting an already-gone key exit code")


# --------------------------------------------------------------------------- 2. create

@test()
def test_create_login_accepted(c):
    user = c.make_user("dave", 314)
    before = h.django_now()
    r = c.sessionctl("create", "--user", "314", "--password-hash", user.password).ok()
    after = h.django_now()
    r.expect_quiet_stderr()
    lines = r.out.splitlines()
    check_eq(len(lines), 2, f"lines printed by create\n      {r.describe()}")
    key = lines[0]
    check(re.fullmatch(r"[a-z0-9]{32}", key), f"created key {key!r} is not 32 chars of [a-z0-9]")
    check_eq(lines[1], f"Cookie: sessionid={key}", "second line of create")

    data = load(key)
    check_eq(data, {"_auth_user_id": "314", "_auth_user_backend": MODEL_BACKEND,
                    "_auth_user_hash": user.get_session_auth_hash()}, "session created for user 314")
    row = c.row(key)
    h.check_expire_date_format(row[2], "created session")
    check_within(h.parse_db_datetime(row[2]), stored_naive(before + timedelta(seconds=COOKIE_AGE)),
                 stored_naive(after + timedelta(seconds=COOKIE_AGE)), "expire_date of a new session")

    client = c.client_with_cookie(key)
    check_eq(c.get(client, "/whoami"), "314", "Django client with the created cookie")
    check_eq(c.session_key_of(client), key, "session cookie after /whoami (not cycled)")

    # --json, and the hash from stdin
    r = c.sessionctl("--json", "create", "--user", "314", "--password-hash", "-",
                     stdin=user.password.encode()).ok()
    j = r.json()
    check(isinstance(j, dict) and isinstance(j.get("key"), str), f"create --json output {r.out!r}")
    check_eq(j.get("cookie"), f"sessionid={j['key']}", "create --json cookie")
    check_eq(c.get(c.client_with_cookie(j["key"]), "/whoami"), "314",
             "client with the cookie from create --json (--password-hash -)")
    o = inspect_one(c, j["key"])
    check_eq((o.get("user_id"), o.get("verified_with")), ("314", "SECRET_KEY"),
             "inspect of a created session (user_id, verified_with)")


@test()
def test_create_data_roundtrip(c):
    failures = []
    check_create_data_roundtrip(c, load, failures)
    raise_collected(failures)


# create --user without --password-hash reads the user table: test_users.py.


@test()
def test_create_expiry(c):
    failures = []

    def case(arg, want_expiry, age):
        before = h.django_now()
        r = c.sessionctl("create", "--data", '{"k":1}', "--expiry", arg).ok()
        after = h.django_now()
        key = r.out.splitlines()[0]
        data = load(key)
        check_eq(data.get("_session_expiry", "<absent>"), want_expiry, "_session_expiry")
        s = h.session_store(key)
        s.load()
        s._session_cache = data
        check_eq(s.get_expire_at_browser_close(), want_expiry == 0, "get_expire_at_browser_close()")
        text = c.row(key)[2]
        h.check_expire_date_format(text, f"--expiry {arg}")
        check_within(h.parse_db_datetime(text), stored_naive(before + timedelta(seconds=age)),
                     stored_naive(after + timedelta(seconds=age)), f"expire_date for --expiry {arg}")

    collect(failures, "--expiry 3600", case, "3600", 3600, 3600)
    collect(failures, "--expiry browser-close", case, "browser-close", 0, COOKIE_AGE)
    collect(failures, "--expiry 0", case, "0", 0, COOKIE_AGE)
    raise_collected(failures)


@test()
def test_utf8_secret(c):
    """A str SECRET_KEY is UTF-8 encoded before hashing (both directions)."""
    secret = "ünïcødé-" + h.new_secret()
    sf = c.write_secret_file("utf8_secret", secret)
    cfg = c.write_config("utf8.json", secret_file=sf)
    with c.settings(SECRET_KEY=secret):
        s = h.session_store()
        s["who"] = "django"
        s.create()
        o = inspect_one(c, s.session_key, config=cfg)
        check_eq((o.get("verified_with"), o.get("data")), ("SECRET_KEY", {"who": "django"}),
                 "inspect of a Django session signed with a non-ASCII secret")
        r = c.sessionctl("create", "--data", '{"who":"sessionctl"}', config=cfg).ok()
        check_eq(load(r.out.splitlines()[0]), {"who": "sessionctl"},
                 "Django load() of a sessionctl session signed with a non-ASCII secret")


# --------------------------------------------------------------------------- 3. expire

def make_twin(value=600):
    s = h.session_store()
    s["x"] = "twin"
    s.set_expiry(value)
    s.create()
    return s.session_key


def expire_one_mode(c, label, args, make_value, deterministic_text):
    """`sessionctl expire A <args>` vs Django's set_expiry(<value>) + save() on twin B."""
    old_django = h.django_version() < (4, 1)
    a, b = make_twin(), make_twin()
    before = h.django_now()
    r = c.sessionctl("--json", "expire", a, *args).ok().expect_quiet_stderr()
    after = h.django_now()
    j = r.json()
    check_eq((j.get("matched"), j.get("updated")), (1, 1), "expire --json matched/updated")

    value = make_value()
    is_dt = isinstance(value, datetime)
    sb = h.session_store(b)
    sb.set_expiry(value)
    if is_dt and old_django:
        # Django < 4.1 keeps the datetime object in the session and JSONSerializer
        # cannot save it: compare with the text its save() would bind.
        text_b = h.db_datetime_text(sb.get_expiry_date())
        dict_b = None
    else:
        sb.save()
        text_b = c.row(b)[2]
        dict_b = decode_row(c.row(b))

    row_a = c.row(a)
    check(row_a is not None, "session A vanished")
    text_a = row_a[2]
    dict_a = decode_row(row_a)
    h.check_expire_date_format(text_a, "sessionctl")
    h.check_expire_date_format(text_b, "Django (sanity)")
    dt_a, dt_b = h.parse_db_datetime(text_a), h.parse_db_datetime(text_b)

    # raw expire_date text
    if is_dt and old_django:
        # Django < 4.1 cannot save a datetime expiry in a JSON session; sessionctl
        # stores whole seconds from now (set_expiry(int)): the date is within a second.
        check(abs(dt_a - dt_b) <= timedelta(seconds=2),
              f"expire_date text: sessionctl {text_a!r} vs Django's twin {text_b!r}")
    elif deterministic_text:
        check_eq(text_a, text_b, "expire_date text (sessionctl vs Django's twin)")
    else:
        check(abs(dt_a - dt_b) <= timedelta(seconds=2),
              f"expire_date text: sessionctl {text_a!r} vs Django's twin {text_b!r}")
        age = {"--now": 0, "--in": 3600}.get(args[0], COOKIE_AGE)
        check_within(dt_a, stored_naive(before + timedelta(seconds=age)),
                     stored_naive(after + timedelta(seconds=age)),
                     f"expire_date {text_a!r} vs Django's now (+{age}s) around the sessionctl run")

    # the session dict
    check_eq(dict_a.get("x"), "twin", "session data kept")
    got = dict_a.get("_session_expiry", "<absent>")
    if is_dt and old_django:
        check(isinstance(got, int) and not isinstance(got, bool),
              f"_session_expiry on Django < 4.1 should be whole seconds, got {got!r}")
        if args[0] == "--now":
            check(isinstance(got, int) and got < 0, f"--now stored {got!r}, not a negative number of seconds")
        sa = store_with(dict_a)
        try:
            check(abs(sa.get_expiry_date() - dt_b.replace(tzinfo=sa.get_expiry_date().tzinfo)) <= timedelta(seconds=2)
                  if not args[0] == "--now" else sa.get_expiry_age() < 0,
                  f"Django's get_expiry_date() on sessionctl's session: {sa.get_expiry_date()} vs {dt_b}")
        except TypeError as e:
            fail(f"Django's expiry API raised on sessionctl's session: {e!r} (dict {dict_a!r})")
        return
    if args[0] == "--now":
        check(isinstance(got, str), f"_session_expiry after --now should be an ISO string, got {got!r}")
        t = parse_iso(got, "_session_expiry")
        check_eq(t.tzinfo is not None, c.use_tz, f"_session_expiry {got!r} awareness (USE_TZ={c.use_tz})")
        check_within(t, before, after, "_session_expiry after --now")
        # datetime.isoformat(): 'T', a 6-digit fraction only when non-zero, +00:00 when aware
        iso_re = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?" + (r"\+00:00" if c.use_tz else "")
        check(re.fullmatch(iso_re, got) and ".000000" not in got,
              f"_session_expiry format {got!r} (Django writes like {before.isoformat()!r})")
        if dict_b is not None:
            check_eq({k: v for k, v in dict_a.items() if k != "_session_expiry"},
                     {k: v for k, v in dict_b.items() if k != "_session_expiry"}, "session dict")
    elif dict_b is not None:
        check_eq(dict_a, dict_b, "session dict (sessionctl vs Django's twin)")
    else:
        want = value.isoformat() if is_dt else value
        check_eq(got, want, "_session_expiry")

    # what Django's session API says
    if is_dt and old_django:
        return  # Django < 4.1 cannot read an ISO string expiry; nothing more to compare
    sa, sb2 = store_with(dict_a), store_with(dict_b)
    try:
        check_eq(sa.get_expire_at_browser_close(), sb2.get_expire_at_browser_close(),
                 "get_expire_at_browser_close()")
        age_a, age_b = sa.get_expiry_age(), sb2.get_expiry_age()
        check(abs(age_a - age_b) <= 1, f"get_expiry_age(): sessionctl {age_a} vs Django {age_b}")
        ed_a, ed_b = sa.get_expiry_date(), sb2.get_expiry_date()
    except TypeError as e:
        fail(f"Django's expiry API raised on sessionctl's session: {e!r} (dict {dict_a!r})")
    check(abs(ed_a - ed_b) <= timedelta(seconds=2),
          f"get_expiry_date(): sessionctl {ed_a} vs Django {ed_b}")
    if deterministic_text:
        check_eq(ed_a, ed_b, "get_expiry_date()")
    live = load(a)
    if args[0] == "--now":
        check_eq(live, {}, "Django load() of a session expired with --now")
    else:
        check_eq(live, dict_a, "Django load() after expire")


@variants(("_utc", True, "UTC"), ("_chicago_use_tz", True, "America/Chicago"),
          ("_chicago_naive", False, "America/Chicago"))
def test_expire_matches_set_expiry(c):
    at = "2030-01-02T03:04:05.250000+00:00" if c.use_tz else "2030-01-02T03:04:05"
    modes = [
        ("--in 3600", ["--in", "3600"], lambda: 3600, False),
        ("--at " + at, ["--at", at], lambda: datetime.fromisoformat(at), True),
        ("--browser-close", ["--browser-close"], lambda: 0, False),
        ("--default", ["--default"], lambda: None, False),
        ("--now", ["--now"], h.django_now, False),
    ]
    if c.use_tz:
        modes.append(("--at (whole seconds)", ["--at", "2030-01-02T03:04:05+00:00"],
                      lambda: datetime.fromisoformat("2030-01-02T03:04:05+00:00"), True))
        modes.append(("--at (+05:30 offset)", ["--at", "2030-01-02T03:04:05+05:30"],
                      lambda: datetime.fromisoformat("2030-01-02T03:04:05+05:30"), True))
    failures = []
    for label, args, value, det in modes:
        collect(failures, label, expire_one_mode, c, label, args, value, det)
    raise_collected(failures)


def _expire_other_awareness(c, at):
    """`--at` whose awareness does not match USE_TZ. Django itself either refuses
    (aware value with USE_TZ=False: ValueError at save) or saves a session whose
    get_expiry_age() then raises TypeError (naive value with USE_TZ=True). Accepted:
    (a) refusal, exit 2 or 4, one error line, database untouched; (b) a session
    Django can use, stored the way Django re-saves it; (c) exactly what Django
    stores for the same set_expiry() call (reported as a note: a latent 500)."""
    import warnings
    key, twin = make_twin(), make_twin()
    before = c.db_bytes()
    r = c.sessionctl("expire", key, "--at", at)
    if r.rc != 0:
        check(r.rc in (2, 4), f"refusal exit code should be 2 or 4\n      {r.describe()}")
        r.expect_error(r.rc)
        check(c.db_bytes() == before, "database changed by a refused expire")
        return
    row = c.row(key)
    d = decode_row(row)
    # Django on the twin
    sb = h.session_store(twin)
    sb.set_expiry(datetime.fromisoformat(at))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sb.save()
        django_saved = True
    except ValueError:
        django_saved = False
    if django_saved:
        twin_row = c.row(twin)
        if d == decode_row(twin_row) and row[2] == twin_row[2]:
            h.note(f"`expire --at {at}` with USE_TZ={c.use_tz} stores what Django's set_expiry() "
                   f"stores ({d.get('_session_expiry')!r}, {row[2]!r}); Django's get_expiry_age() "
                   "raises TypeError on such a session")
            return
    s = h.session_store(key)
    s._session_cache = dict(d)
    try:
        s.get_expiry_age()
        s.get_expiry_date()
        s.modified = True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            s.save()
    except (TypeError, ValueError) as e:
        fail(f"`expire --at {at}` (USE_TZ={c.use_tz}) exited 0 but Django cannot use the "
             f"result: {type(e).__name__}: {e}; _session_expiry={d.get('_session_expiry')!r}; "
             f"Django itself {'saves a different result' if django_saved else 'refuses this'}")
    check_eq(row[2], c.row(key)[2], "expire_date vs Django re-saving the same session")


@test(use_tz=False, time_zone="America/Chicago", min_django=(4, 1))
def test_expire_at_aware_with_use_tz_false(c):
    _expire_other_awareness(c, "2030-01-02T03:04:05+00:00")


@test(use_tz=True, time_zone="America/Chicago", min_django=(4, 1))
def test_expire_at_naive_with_use_tz_true(c):
    _expire_other_awareness(c, "2030-01-02T03:04:05")


@test()
def test_expire_missing_or_expired_key(c):
    gone = "a" * 32
    expired = make_twin(-10)
    before = c.db_bytes()
    r = c.sessionctl("expire", gone, "--in", "10")
    check_eq(r.rc, 1, f"expire of a missing key: exit code\n      {r.describe()}")
    r = c.sessionctl("expire", expired, "--in", "10")
    check_eq(r.rc, 1, f"expire of an expired session: exit code\n      {r.describe()}")
    check(c.db_bytes() == before, "database changed by expire of a missing/expired key")
    check_eq(load(expired), {}, "expired session must stay expired")


# --------------------------------------------------------------------------- 4. clearsessions

def build_base_db(c):
    """Rows Django writes: live, browser-close, and set_expiry(-10) (expired) sessions.
    Returns the keys that must survive."""
    survive = set()
    for i in range(3):
        s = h.session_store()
        s["live"] = i
        s.create()
        survive.add(s.session_key)
    s = h.session_store()
    s["browser_close"] = 1
    s.set_expiry(0)
    s.create()
    survive.add(s.session_key)
    for i in range(3):
        s = h.session_store()
        s["old"] = i
        s.set_expiry(-10)
        s.create()
    return survive


def insert_boundary_rows(c, dbs):
    """Rows at now-1s / now+1s (with and without a fraction), far past, far future,
    written the way Django writes datetimes; returns the keys that must survive."""
    data = h.session_store().encode({"raw": True})
    now = h.django_now()
    # 1 second as specified; $INTEG_BOUNDARY_SECONDS widens it for a slow stand-in binary.
    sec = timedelta(seconds=float(os.environ.get("INTEG_BOUNDARY_SECONDS", "1")))
    rows = [
        ("boundary0minus1s", h.db_datetime_text(now - sec), False),
        ("boundary0plus1s0", h.db_datetime_text(now + sec), True),
        ("boundary1minus1s", h.db_datetime_text((now - sec).replace(microsecond=0)), False),
        ("boundary1plus1s0", h.db_datetime_text((now + 2 * sec).replace(microsecond=0)), True),
        ("boundary2nowsec0", h.db_datetime_text(now.replace(microsecond=0)), False),
        ("farpast000000001", "2000-01-01 00:00:00", False),
        ("farpast000000002", "1999-12-31 23:59:59.500000", False),
        ("farpast000000003", "1970-01-01 00:00:01", False),
        ("farfuture0000001", "2099-12-31 23:59:59.999999", True),
        ("farfuture0000002", "9999-12-31 23:59:59", True),
    ]
    for db in dbs:
        for key, text, _ in rows:
            c.insert_row(key, data, text, db=db)
    return {key for key, _, keep in rows if keep}


def select_all(db):
    con = sqlite3.connect(str(db))
    try:
        return con.execute("SELECT * FROM django_session ORDER BY session_key").fetchall()
    finally:
        con.close()


def clearsessions_round(c, label, *args):
    """Two copies of the base db get the same boundary rows; `sessionctl [args]` runs
    on one while `call_command("clearsessions")` runs on the other, at the same moment.
    Returns (result, sessionctl's db, Django's db, number Django removed, bytes before,
    keys Django removed). The boundary rows expire a second after they are written:
    a round that took longer (a loaded machine) proves nothing and is run again."""
    from django.core.management import call_command
    window = float(os.environ.get("INTEG_BOUNDARY_SECONDS", "1"))
    for attempt in range(5):
        started = time.monotonic()
        mine = c.copy_db(f"{label}{attempt}-sessionctl.sqlite3")
        theirs = c.copy_db(f"{label}{attempt}-django.sqlite3")
        cfg = c.write_config(f"{label}.json", db=mine)
        survive = insert_boundary_rows(c, [mine, theirs]) | c.base_survivors
        keys_before = {row[0] for row in select_all(theirs)}
        before = c.db_bytes(mine)
        proc = c.start_sessionctl(*args, config=cfg)
        h.use_database(theirs)
        try:
            call_command("clearsessions")
        finally:
            h.use_database(c.db)
        r = c.finish_sessionctl(proc)
        elapsed = time.monotonic() - started
        if elapsed < window:
            break
    django_rows = select_all(theirs)
    check_eq(sorted(row[0] for row in django_rows), sorted(survive),
             f"sessions left by manage.py clearsessions (sanity; the round took {elapsed:.2f}s)")
    removed = keys_before - {row[0] for row in django_rows}
    return r, mine, theirs, len(removed), before, removed


def clearsessions_parity(c):
    c.base_survivors = build_base_db(c)
    failures = []

    def plain():
        r, mine, theirs, n, _, _ = clearsessions_round(c, "plain", "clearsessions")
        r.ok()
        check_eq((r.out, r.err), ("", ""), "clearsessions is silent (stdout, stderr)")
        check_eq(select_all(mine), select_all(theirs),
                 "SELECT * FROM django_session after sessionctl clearsessions vs manage.py clearsessions")
        r = c.sessionctl("clearsessions", config=c.tmp / "plain.json").ok()
        check_eq((r.out, r.err), ("", ""), "clearsessions with nothing to clear")

    def dry():
        r, mine, theirs, n, before, _ = clearsessions_round(c, "dry", "clearsessions", "--dry-run")
        r.ok().expect_quiet_stderr()
        check_eq(r.out, f"would remove {n} expired sessions\n", "clearsessions --dry-run stdout")
        check(c.db_bytes(mine) == before, "clearsessions --dry-run changed the database")

    def verbose():
        r, mine, theirs, n, _, removed = clearsessions_round(c, "verbose", "-v", "clearsessions")
        r.ok()
        lines = r.out.splitlines()
        check_eq(lines[:1], [f"removed {n} expired sessions"], "-v clearsessions: first stdout line")
        if len(lines) > 1:
            # the global -v also lists the keys acted on: they must be exactly those removed
            check_eq(sorted(lines[1:]), sorted(removed), "-v clearsessions: keys listed after the count")
        check_eq(select_all(mine), select_all(theirs), "table after -v clearsessions")

    def as_json():
        r, mine, theirs, n, _, _ = clearsessions_round(c, "json", "--json", "clearsessions")
        j = r.ok().json()
        check_eq((j.get("matched"), j.get("deleted")), (n, n), "--json clearsessions matched/deleted")
        check_eq(select_all(mine), select_all(theirs), "table after --json clearsessions")

    for label, fn in (("plain", plain), ("--dry-run", dry), ("-v", verbose), ("--json", as_json)):
        collect(failures, label, fn)
    raise_collected(failures)


@variants(("_utc", True, "UTC"), ("_chicago_naive", False, "America/Chicago"))
def test_clearsessions_parity(c):
    clearsessions_parity(c)


# --------------------------------------------------------------------------- 5. rotated key

@test(min_django=(4, 1))
def test_rotated_key_fallback(c):
    old, older = h.new_secret(), h.new_secret()
    with c.settings(SECRET_KEY=old):
        user = c.make_user("frank", 5150)
        cl = c.client()
        cl.force_login(user)
        c.get(cl, "/set?flavour=old")
        k_login = c.session_key_of(cl)
        s = h.session_store()
        s["plain"] = ["old", 1]
        s.create()
        k_plain = s.session_key
        want = {k_login: load(k_login), k_plain: load(k_plain)}
    check_eq(want[k_login].get("flavour"), "old", "sanity: Django session under the old key")

    failures = []

    def verify(label, cfg, expect_with):
        objs = c.sessionctl("--json", "inspect", k_login, k_plain, config=cfg).ok().json_lines()
        by_key = {o.get("key"): o for o in objs}
        check_eq(sorted(by_key), sorted(want), "keys from inspect")
        for k, data in want.items():
            check_eq(by_key[k].get("verified_with"), expect_with, f"verified_with of {k}")
            check_eq(by_key[k].get("data"), data, f"data of {k}")
            check_eq(by_key[k].get("error"), None, f"error of {k}")
        check_eq(by_key[k_login].get("user_id"), "5150", "user_id via the fallback key")

    cfg1 = c.write_config("rotated1.json", extra={"SECRET_KEY_FALLBACKS": [old]})
    collect(failures, "FALLBACKS [old]", verify, "fallback", cfg1, "SECRET_KEY_FALLBACKS[0]")
    cfg2 = c.write_config("rotated2.json", extra={"SECRET_KEY_FALLBACKS": [older, old]})
    collect(failures, "FALLBACKS [older, old]", verify, "fallback", cfg2, "SECRET_KEY_FALLBACKS[1]")
    fb_file = c.write_secret_file("fallbacks", older + "\n" + old)
    cfg3 = c.write_config("rotated3.json", extra={"SECRET_KEY_FALLBACKS_FILE": str(fb_file)})
    collect(failures, "FALLBACKS_FILE", verify, "fallback", cfg3, "SECRET_KEY_FALLBACKS[1]")

    def without_fallback():
        r = c.sessionctl("--json", "inspect", k_plain)
        r.expect_error(4)
        o = r.json_lines()
        check(len(o) == 1 and o[0].get("error") and o[0].get("verified_with") is None,
              f"inspect without the fallback should show an error record\n      {r.describe()}")
    collect(failures, "no fallback configured", without_fallback)

    def django_agrees():
        with c.settings(SECRET_KEY=c.secret, SECRET_KEY_FALLBACKS=[old]):
            for k, data in want.items():
                check_eq(load(k), data, f"Django load() of {k} with the new key + fallback")
            r = c.sessionctl("create", "--data", '{"new":1}', config=cfg1).ok()
            k_new = r.out.splitlines()[0]
            check_eq(inspect_one(c, k_new, config=cfg1).get("verified_with"), "SECRET_KEY",
                     "a session created under rotation is signed with SECRET_KEY")
        with c.settings(SECRET_KEY=c.secret, SECRET_KEY_FALLBACKS=[]):
            check_eq(load(k_new), {"new": 1}, "Django load() (no fallbacks) of a session created under rotation")
            check_eq(load(k_plain), {}, "sanity: Django without the fallback cannot load the old session")
    collect(failures, "Django", django_agrees)
    raise_collected(failures)


# --------------------------------------------------------------------------- 6. bad input

@test()
def test_decode_malformed_blob(c):
    s = h.session_store()
    s["k"] = "v"
    s.create()
    good = c.row(s.session_key)[1]
    check_eq(c.sessionctl("--json", "decode", good).ok().json().get("data"), {"k": "v"},
             "decode of a good blob (sanity)")
    i = good.rindex(":") + 3
    tampered = good[:i] + ("A" if good[i] != "A" else "B") + good[i + 1:]
    before = c.db_bytes()
    failures = []
    blobs = [("garbage", "this is not a session"), ("colons", "abc:def:ghi"),
             ("tampered signature", tampered), ("truncated", good[: len(good) // 2]),
             ("bad base64", "!!!!" + good[4:])]
    for label, blob in blobs:
        collect(failures, label, lambda b=blob: c.sessionctl("decode", b).expect_error(4))
        collect(failures, label + " --stdin",
                lambda b=blob: c.sessionctl("decode", "--stdin", stdin=(b + "\n").encode()).expect_error(4))
    raise_collected(failures)
    check(c.db_bytes() == before, "decode changed the database")


@test()
def test_wrong_secret(c):
    user = c.make_user("gina", 808)
    cl = c.client()
    cl.force_login(user)
    key = c.session_key_of(cl)
    blob = c.row(key)[1]
    other = h.new_secret()
    cfg = c.write_config("wrong.json", secret_file=c.write_secret_file("other_secret", other))
    before = c.db_bytes()
    failures = []

    def inspect_key():
        r = c.sessionctl("--json", "inspect", key, config=cfg).expect_error(4)
        objs = r.json_lines()
        check(len(objs) == 1 and objs[0].get("key") == key and objs[0].get("error")
              and objs[0].get("verified_with") is None,
              f"inspect with a wrong secret should print the record with an error\n      {r.describe()}")

    collect(failures, "inspect KEY", inspect_key)
    collect(failures, "decode", lambda: c.sessionctl("decode", blob, config=cfg).expect_error(4))
    collect(failures, "expire", lambda: c.sessionctl("expire", key, "--in", "10", config=cfg).expect_error(4))

    def delete_user():
        r = c.sessionctl("delete", "--user", "808", config=cfg)
        check_eq(r.rc, 1, f"delete --user of an unverifiable session: exit code\n      {r.describe()}")
    collect(failures, "delete --user", delete_user)
    raise_collected(failures)
    check(c.db_bytes() == before, "database changed under a wrong secret")
    check_eq(c.get(cl, "/whoami"), "808", "the session still works in Django")


@test()
def test_invalid_session_keys(c):
    s = h.session_store()
    s["k"] = "v"
    s.create()
    before = c.db_bytes()
    failures = []
    bad_keys = [("slash", "abcdefgh/ijkl"), ("dotdot", "..abcdefghij"),
                ("path traversal", "../../../../etc/passwd"), ("short", "abc1234"),
                ("space", "abcd efgh1234")]
    for label, key in bad_keys:
        for cmd in (["delete", key], ["inspect", key], ["expire", key, "--in", "10"]):
            collect(failures, f"{cmd[0]} {label} {key!r}",
                    lambda cmd=cmd: c.sessionctl(*cmd).expect_error(2))
    raise_collected(failures)
    check(c.db_bytes() == before, "database changed by invalid keys")


LOCKER = r"""
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
con.execute("ROLLBACK")
con.close()
"""


@test()
def test_locked_database(c):
    s = h.session_store()
    s["k"] = "v"
    s.create()
    key = s.session_key
    from django.db import connections
    connections["default"].close()
    before = c.db_bytes()
    cfg = c.write_config("locked.json", timeout=0.2)
    locker = subprocess.Popen(["/usr/bin/python3", "-c", LOCKER, str(c.db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    failures = []
    try:
        check_eq(locker.stdout.readline().strip(), "locked", "locker process")

        def locked(*cmd):
            r = c.sessionctl(*cmd, config=cfg).expect_error(3)
            check(r.seconds < 3.0, f"took {r.seconds:.2f}s with a 0.2s timeout\n      {r.describe()}")

        collect(failures, "delete KEY", locked, "delete", key)
        collect(failures, "inspect --all", locked, "inspect", "--all")
        collect(failures, "clearsessions", locked, "clearsessions")
        collect(failures, "create", locked, "create", "--data", "{}")
    finally:
        locker.stdin.close()
        locker.wait(timeout=10)
    raise_collected(failures)
    check(c.db_bytes() == before, "database changed while locked")
    check_eq(load(key), {"k": "v"}, "session after the lock")


@test()
def test_missing_table(c):
    failures = []
    empty = c.tmp / "empty.sqlite3"
    con = sqlite3.connect(str(empty))
    con.execute("CREATE TABLE unrelated (x INTEGER)")
    con.commit()
    con.close()
    zero = c.tmp / "zero.sqlite3"
    zero.write_bytes(b"")
    for label, db in (("sqlite file without the table", empty), ("0-byte file", zero)):
        cfg = c.write_config(f"cfg-{db.name}.json", db=db)
        before = db.read_bytes()
        for cmd in (["inspect", "--all"], ["delete", "a" * 32], ["clearsessions"],
                    ["create", "--data", "{}"], ["expire", "a" * 32, "--now"]):
            collect(failures, f"{label}: {' '.join(cmd)}",
                    lambda cmd=cmd, cfg=cfg: c.sessionctl(*cmd, config=cfg).expect_error(2, "migrate"))
        if db.read_bytes() != before:
            failures.append(f"[{label}] the database file changed")
    raise_collected(failures)


@test()
def test_missing_database_file(c):
    path = c.tmp / "nope" / "db.sqlite3"
    cfg = c.write_config("nofile.json", db=path)
    failures = []
    for cmd in (["inspect", "--all"], ["create", "--data", "{}"], ["clearsessions"]):
        def run(cmd=cmd):
            r = c.sessionctl(*cmd, config=cfg)
            r.expect_error(2, "not found")
        collect(failures, " ".join(cmd), run)
    raise_collected(failures)
    check(not path.exists() and not path.parent.exists(), "sessionctl created a database file")


@test()
def test_unknown_config_key(c):
    cfg = c.write_config("typo.json", extra={"SESION_ENGINE": "django.contrib.sessions.backends.db"})
    before = c.db_bytes()
    failures = []
    for cmd in (["inspect", "--all"], ["clearsessions"], ["create"]):
        collect(failures, " ".join(cmd),
                lambda cmd=cmd: c.sessionctl(*cmd, config=cfg).expect_error(2, "SESION_ENGINE"))
    raise_collected(failures)
    check(c.db_bytes() == before, "database changed with a bad config")


@test()
def test_config_redacts_secrets(c):
    """`config` shows every setting but never a secret (the global check scans all output)."""
    inline = h.new_secret()
    fallback = h.new_secret()
    cfg = c.write_config("inline.json", drop=("SECRET_KEY_FILE",),
                         extra={"SECRET_KEY": inline, "SECRET_KEY_FALLBACKS": [fallback]})
    failures = []

    def human(cfg_path, origin_word):
        r = c.sessionctl("config", config=cfg_path).ok()
        check("********" in r.out, f"config output shows no redacted secret\n      {r.describe()}")
        check(origin_word in r.out, f"config output lacks the secret's origin {origin_word!r}\n      {r.describe()}")

    def as_json(cfg_path):
        j = c.sessionctl("--json", "config", config=cfg_path).ok().json()
        check(isinstance(j, dict) and "SECRET_KEY_FALLBACKS" in j and "SESSION_ENGINE" in j,
              f"config --json shape: {j!r}")

    collect(failures, "config (SECRET_KEY_FILE)", human, c.config, "SECRET_KEY_FILE")
    collect(failures, "config (inline SECRET_KEY)", human, cfg, "SECRET_KEY")
    collect(failures, "--json config", as_json, cfg)
    collect(failures, "inspect with an inline SECRET_KEY",
            lambda: c.sessionctl("--json", "inspect", "--all", config=cfg).ok())
    collect(failures, "--set SECRET_KEY=... is refused",
            lambda: c.sessionctl("--set", f"SECRET_KEY={inline}", "config").expect_error(2))
    collect(failures, "--set SECRET_KEY_FALLBACKS=... is refused",
            lambda: c.sessionctl("--set", f'SECRET_KEY_FALLBACKS=["{fallback}"]', "config").expect_error(2))
    raise_collected(failures)


@test()
def test_help(c):
    failures = []
    for cmd in ([], ["inspect"], ["decode"], ["create"], ["delete"], ["expire"], ["clearsessions"],
                ["config"]):
        def run(cmd=cmd):
            r = c.sessionctl(*cmd, "--help", no_config=True).ok()
            check("example" in r.out.lower(), f"no 'Example' in --help output\n      {r.describe()}")
        collect(failures, "sessionctl " + " ".join(cmd + ["--help"]), run)
    raise_collected(failures)


TESTS.leak_check("test_no_secret_in_any_output", min_runs=20)

if __name__ == "__main__":
    sys.exit(h.run_module(__doc__, TESTS))
