#!/usr/bin/python3
"""Real-Django integration tests of what reads the user table (issue 19), on the
db engine (SQLite): `create --user` alone, `--storage-state` and `--cookie-jar`,
`--dead` (Django's default user model and a custom one with its own table, a UUID
key and no is_active) and `rekey` (Django 4.1+; the file, cached_db and PostgreSQL
variants are in test_file_engine.py, test_cache_engines.py and test_pg_engine.py).

Runs every test against ONE Django version (the one on PYTHONPATH) in this process:
    PYTHONPATH=... /usr/bin/python3 tests/system/django_integration/test_users.py \\
        --sessionctl PATH --django 5.2 [-k SUBSTRING] [--keep]
Prints PASS/FAIL/SKIP lines and finally `RESULT <passed> <failed>`.
"""

import http.cookiejar
import json
import stat
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/system: djangoharness

import djangoharness as h  # noqa: E402
from djangoharness import check, check_eq  # noqa: E402

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ALLOW_ALL = "django.contrib.auth.backends.AllowAllUsersModelBackend"
COOKIE_AGE = 1209600

TESTS = h.Tests()
test = TESTS.test


def rows(c):
    return {r[0]: (r[1], r[2]) for r in c.rows()}


def mode_of(path):
    return stat.S_IMODE(Path(path).stat().st_mode)


def whoami_per_client(c, clients, db):
    """What Django answers each client on a copy of the database (its judgement
    must not touch the store sessionctl works on: get_user() flushes)."""
    h.use_database(db)
    try:
        return {name: c.get(cl, "/whoami") for name, cl in clients.items()}
    finally:
        h.use_database(c.db)


# --------------------------------------------------------------------------- create

@test()
def test_create_user_alone_logs_in(c):
    c.make_user("dave", 314)
    r = c.sessionctl("create", "--user", "314").ok().expect_quiet_stderr()
    key = r.out.splitlines()[0]
    check_eq(c.get(c.client_with_cookie(key), "/whoami"), "314", "Django client with `create --user 314` alone")
    c.sessionctl("create", "--user", "999").expect_error(1, "no user 999 in auth_user")
    erin = c.make_user("erin", 99)
    erin.is_active = False
    erin.save()
    c.sessionctl("create", "--user", "99").expect_error(2, "inactive")
    check_eq(len(c.rows()), 1, "sessions stored after the refused creates")


@test()
def test_storage_state_and_cookie_jar_log_in(c):
    c.make_user("dave", 314)
    state, jar = c.tmp / "state.json", c.tmp / "jar.txt"
    c.sessionctl("create", "--user", "314", "--storage-state", state).expect_error(
        2, "SESSION_COOKIE_DOMAIN", "--url")
    before = time.time()
    c.sessionctl("create", "--user", "314", "--storage-state", state, "--cookie-jar", jar,
                 "--url", "http://app.example.test:8000/").ok()
    check_eq((mode_of(state), mode_of(jar)), (0o600, 0o600), "modes of the storage state and cookie jar")
    doc = json.loads(state.read_text())
    check_eq(doc["origins"], [], "storage state origins")
    cookie = doc["cookies"][0]
    check_eq({k: cookie[k] for k in ("name", "domain", "path", "httpOnly", "secure", "sameSite")},
             {"name": "sessionid", "domain": "app.example.test", "path": "/", "httpOnly": True, "secure": False,
              "sameSite": "Lax"}, "storage state cookie attributes")
    check(before + COOKIE_AGE - 5 <= cookie["expires"] <= time.time() + COOKIE_AGE + 5,
          f"storage state expires {cookie['expires']} is now + SESSION_COOKIE_AGE")
    client = c.client()
    client.cookies[cookie["name"]] = cookie["value"]
    check_eq(c.get(client, "/whoami"), "314", "Django client with the storage state's cookie")

    cj = http.cookiejar.MozillaCookieJar(str(jar))
    cj.load()
    loaded = list(cj)
    check_eq([(k.name, k.value, k.domain, k.path) for k in loaded],
             [("sessionid", cookie["value"], "app.example.test", "/")], "cookies http.cookiejar reads from the jar")
    request = urllib.request.Request("http://app.example.test:8000/whoami")
    cj.add_cookie_header(request)
    check_eq(request.get_header("Cookie"), f"sessionid={cookie['value']}", "Cookie header http.cookiejar sends")
    check_eq(c.get(c.client_with_cookie(loaded[0].value), "/whoami"), "314", "Django client with the jar's cookie")

    # The attributes Django's own Set-Cookie carries under the same settings.
    attrs = {"SESSION_COOKIE_DOMAIN": ".example.com", "SESSION_COOKIE_PATH": "/app",
             "SESSION_COOKIE_SECURE": True, "SESSION_COOKIE_HTTPONLY": False, "SESSION_COOKIE_SAMESITE": "Strict"}
    config = c.write_config("attrs.json", extra=attrs)
    c.sessionctl("create", "--user", "314", "--storage-state", state, config=config).ok()
    ours = json.loads(state.read_text())["cookies"][0]
    with c.settings(**attrs):
        morsel = c.client().get("/set?x=1").cookies["sessionid"]
    check_eq((ours["domain"], ours["path"], ours["secure"], ours["httpOnly"], ours["sameSite"]),
             (morsel["domain"], morsel["path"], bool(morsel["secure"]), bool(morsel["httponly"]),
              morsel["samesite"]), "storage state attributes against Django's Set-Cookie")


# --------------------------------------------------------------------------- --dead

@test()
def test_dead_logins_are_exactly_those_django_refuses(c):
    users = {name: c.make_user(name, pk) for name, pk in
             (("live", 1), ("gone", 2), ("inactive", 3), ("password", 4), ("backend", 5))}
    clients = {name: c.client() for name in users}
    for name, cl in clients.items():
        cl.force_login(users[name], backend=ALLOW_ALL if name == "backend" else MODEL_BACKEND)
    clients["live2"] = c.client()
    check(clients["live2"].login(username="live", password="pw-live"), "live logs in again")
    clients["anon"] = c.client()
    c.get(clients["anon"], "/set?cart=1")
    keys = {name: c.session_key_of(cl) for name, cl in clients.items()}
    users["gone"].delete()
    users["inactive"].is_active = False
    users["inactive"].save()
    users["password"].set_password("changed")
    users["password"].save()

    judged = whoami_per_client(c, clients, c.copy_db("judge.sqlite3"))
    check_eq(judged, {"live": "1", "live2": "1", "anon": "anonymous", "gone": "anonymous", "inactive": "anonymous",
                      "password": "anonymous", "backend": "anonymous"}, "Django's verdict")
    want = {keys["gone"]: "user gone", keys["inactive"]: "user inactive", keys["password"]: "password changed",
            keys["backend"]: "backend removed"}
    objs = c.sessionctl("--json", "inspect", "--all", "--dead").ok().json_lines()
    check_eq({o["key"]: o["dead"] for o in objs}, want, "inspect --all --dead")
    text = c.sessionctl("inspect", "--dead").ok().out
    check("  dead     password changed\n" in text, f"inspect --dead text names the rule:\n{text}")
    stats = c.sessionctl("--json", "stats", "--dead").ok().json()
    check_eq(stats["dead"]["total"], 4, "stats --dead total")

    before = rows(c)
    check_eq(c.sessionctl("--json", "delete", "--dead", "--dry-run").ok().json()["matched"], 4, "delete --dead --dry-run")
    check_eq(rows(c), before, "rows after the dry run")
    check_eq(c.sessionctl("--json", "delete", "--dead").ok().json()["deleted"], 4, "delete --dead")
    after = rows(c)
    check_eq(sorted(after), sorted(set(before) - set(want)), "sessions left")
    for key in after:
        check_eq(after[key], before[key], f"untouched row {key}")
    check_eq(c.get(clients["live"], "/whoami"), "1", "live user after delete --dead")
    check_eq(c.store(keys["anon"]).load().get("cart"), "1", "anonymous data after delete --dead")


@test()
def test_dead_with_a_custom_user_model(c):
    from django.db import connection
    with c.settings(AUTH_USER_MODEL="sessionctl_members.Member"):
        from sessionctl_members.models import Member
        with connection.schema_editor() as editor:
            editor.create_model(Member)
        members = {}
        for name in ("kept", "gone"):
            m = Member(email=f"{name}@example.com")
            m.set_password(f"pw-{name}")
            m.save()
            members[name] = m
        clients = {name: c.client() for name in members}
        for name, cl in clients.items():
            cl.force_login(members[name])
        keys = {name: c.session_key_of(cl) for name, cl in clients.items()}
        members["gone"].delete()
        config = c.write_config("members.json", extra={"AUTH_USER_MODEL": "sessionctl_members.Member",
                                                        "AUTH_USER_TABLE": "member_accounts"})
        objs = c.sessionctl("--json", "inspect", "--dead", config=config).ok().json_lines()
        check_eq({o["key"]: o["dead"] for o in objs}, {keys["gone"]: "user gone"}, "inspect --dead (Member)")
        check_eq(c.sessionctl("--json", "delete", "--dead", config=config).ok().json()["deleted"], 1,
                 "delete --dead (Member)")
        check_eq(c.get(clients["kept"], "/whoami"), str(members["kept"].pk), "the kept member is still logged in")
        c.sessionctl("create", "--user", str(members["kept"].pk).upper(), config=config).ok()


# --------------------------------------------------------------------------- rekey

@test(min_django=(4, 1))
def test_rekey_db_sqlite(c):
    h.check_rekey_keeps_logins(c, lambda: rows(c))


@test()
def test_rekey_refuses_django_3_2_and_signed_cookies(c):
    config = c.write_config("v32.json", extra={"DJANGO_VERSION": "3.2", "SECRET_KEY_FALLBACKS": []})
    c.sessionctl("rekey", config=config).expect_error(2, "Django 4.1")
    c.sessionctl("--engine", "signed_cookies", "rekey").expect_error(2, "signed_cookies")


if __name__ == "__main__":
    sys.exit(h.run_module(__doc__, TESTS,
                          setup=lambda path: h.setup_django(path, extra_apps=["sessionctl_members"])))
