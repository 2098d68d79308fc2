#!/usr/bin/python3
"""Real-Django integration tests of sessionctl's cache and cached_db engines on Redis
(Django's RedisCache, Django >= 4.0, and django-redis).

    PYTHONPATH=... /usr/bin/python3 tests/system/django_integration/test_cache_engines.py \
        --sessionctl PATH --django 5.2 [-k SUBSTRING] [--keep]

Normally started by django_integration_test.py once per version. Needs the shared
Redis in SESSIONCTL_TEST_REDIS (scripts/servers.sh); without it every test
SKIPs, unless SESSIONCTL_REQUIRE_SERVERS=1, where they FAIL. Each test uses
Redis db 5 with a KEY_PREFIX of its own; the fault tests start a private
redis-server on a free port. Prints PASS/FAIL/SKIP lines and `RESULT <passed> <failed>`.
"""

import json
import sqlite3
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone as dt_timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/system: djangoharness
import djangoharness as h  # noqa: E402
from djangoharness import Case, check, check_eq, fail  # noqa: E402

CACHE_ENGINE = "django.contrib.sessions.backends.cache"
CACHED_DB_ENGINE = "django.contrib.sessions.backends.cached_db"
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
DJANGO_REDIS = "django_redis.cache.RedisCache"
DB = 5

REDIS_URL = os.environ.get("SESSIONCTL_TEST_REDIS", "").rstrip("/")

TESTS = h.Tests()


def test(backends=(REDIS_CACHE, DJANGO_REDIS), engines=(CACHE_ENGINE,), needs_redis=True):
    def deco(fn):
        for backend in backends:
            for engine in engines:
                suffix = ("_redis" if backend == REDIS_CACHE else "_djredis" if backend == DJANGO_REDIS else "")
                suffix += "_cached_db" if engine == CACHED_DB_ENGINE else ""
                TESTS.add(fn, suffix, backend=backend, engine=engine, needs_redis=needs_redis)
        return fn
    return deco


class CacheCase(Case):
    def __init__(self, name, backend, engine, redis_url, keep=False):
        super().__init__(name, keep=keep)
        self.backend = backend
        self.engine = engine
        self.redis_url = redis_url
        self.prefix = f"it-{uuid.uuid4().hex[:12]}"
        self.caches = self.caches_for(redis_url) if redis_url and backend else None
        self.config = self.cache_config()
        self._cache_override = None

    def caches_for(self, url, options=None):
        entry = {"BACKEND": self.backend, "LOCATION": f"{url}/{DB}", "KEY_PREFIX": self.prefix}
        if options:
            entry["OPTIONS"] = options
        return {"default": entry}

    def cache_config(self, name="sessionctl.json", caches=None):
        return self.write_config(name, extra={"SESSION_ENGINE": self.engine, "CACHES": caches or self.caches})

    def __enter__(self):
        super().__enter__()
        from django.test.utils import override_settings
        if self.caches:
            self._cache_override = override_settings(CACHES=self.caches, SESSION_ENGINE=self.engine)
            self._cache_override.enable()
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._cache_override:
            try:
                r = self.redis()
                keys = list(r.scan_iter(match=self.prefix + ":*", count=1000))
                if keys:
                    r.delete(*keys)
            except Exception:  # noqa: BLE001 - cleanup only
                pass
            self._cache_override.disable()
        return super().__exit__(exc_type, exc, tb)

    def redis(self):
        import redis
        return redis.Redis.from_url(f"{self.redis_url}/{DB}")

    def store(self, key=None):
        from importlib import import_module
        return import_module(self.engine).SessionStore(key)

    def full_key(self, session_key):
        kind = "cached_db" if self.engine == CACHED_DB_ENGINE else "cache"
        return f"{self.prefix}:1:django.contrib.sessions.{kind}{session_key}"


def django_ge(*v):
    return h.django_version() >= v


# --------------------------------------------------------------------------- tests

@test(engines=(CACHE_ENGINE, CACHED_DB_ENGINE))
def test_django_writes_sessionctl_reads(c):
    s = c.store()
    s["foo"] = "bar"
    s["n"] = [1, 2, {"x": None}]
    s.set_expiry(300)
    s.save()
    t0 = time.time()
    r = c.sessionctl("inspect", s.session_key, "--json").ok()
    rec = r.json_lines()[0]
    check_eq(rec["key"], s.session_key, "key")
    check_eq(rec["data"], {"foo": "bar", "n": [1, 2, {"x": None}], "_session_expiry": 300}, "data")
    check_eq(rec["expired"], False, "expired")
    exp = datetime.fromisoformat(rec["expire_date"]).timestamp()
    check(abs(exp - (t0 + 300)) < 3, f"expire_date {rec['expire_date']} is not now + 300 s")
    if c.engine == CACHE_ENGINE:
        check_eq(rec["format"], "pickle", "format")
        check(c.redis().ttl(c.full_key(s.session_key)) in range(295, 301), "Django's TTL (sanity)")
    listed = c.sessionctl("inspect", "--all", "--keys-only").ok().out.split()
    check_eq(listed, [s.session_key], "inspect --all --keys-only")


@test(engines=(CACHE_ENGINE, CACHED_DB_ENGINE))
def test_sessionctl_writes_django_reads(c):
    r = c.sessionctl("create", "--data", '{"a": 1, "b": ["x"]}', "--expiry", "600", "--json").ok()
    key = r.json()["key"]
    s = c.store(key)
    check_eq(dict(s.items()), {"a": 1, "b": ["x"], "_session_expiry": 600}, "what Django loads")
    check_eq(s.get_expiry_age(), 600, "get_expiry_age()")
    ttl = c.redis().ttl(c.full_key(key))
    check(ttl in range(595, 601), f"Redis TTL {ttl} is not get_expiry_age()")
    # An update through sessionctl is seen by Django, and Django's own update by sessionctl.
    c.sessionctl("expire", key, "--in", "120").ok()
    check_eq(c.store(key).get_expiry_age(), 120, "expiry after sessionctl expire")
    s = c.store(key)
    s["c"] = "from django"
    s.save()
    rec = c.sessionctl("inspect", key, "--json").ok().json_lines()[0]
    check_eq(rec["data"].get("c"), "from django", "Django's update seen by sessionctl")


def log_in_alice_and_bob(c, alice_logins=1):
    """Users alice (7) and bob (8); alice logs in `alice_logins` times, each in
    a client of its own, then bob once. Returns the clients, bob's last."""
    c.make_user("alice", 7, password="pw-a")
    c.make_user("bob", 8, password="pw-b")
    clients = [c.client() for _ in range(alice_logins + 1)]
    for a in clients[:-1]:
        check(a.login(username="alice", password="pw-a"), "alice logs in")
    check(clients[-1].login(username="bob", password="pw-b"), "bob logs in")
    return clients


@test(engines=(CACHE_ENGINE, CACHED_DB_ENGINE))
def test_delete_user_logs_client_out(c):
    a, b = log_in_alice_and_bob(c)
    check_eq(c.get(a, "/whoami"), "7", "alice before")
    r = c.sessionctl("delete", "--user", "7", "--json", "-v").ok()
    check_eq(r.json()["deleted"], 1, "deleted")
    check_eq(c.get(a, "/whoami"), "anonymous", "alice after delete --user 7")
    check_eq(c.get(b, "/whoami"), "8", "bob untouched")
    key = c.session_key_of(b)
    if c.engine == CACHED_DB_ENGINE:
        check(c.redis().get(c.full_key(key)) is not None or c.row(key) is not None, "bob's session kept")


@test(backends=(REDIS_CACHE,), engines=(CACHED_DB_ENGINE,))
def test_cached_db_rekey_keeps_logins(c):
    """Issue 19: rekey on cached_db: the rows are re-signed and their cached
    copies (which Django's load() reads first) dropped."""
    if not django_ge(4, 1):
        return h.note("SECRET_KEY_FALLBACKS needs Django 4.1")
    def stored():
        return {r[0]: (r[1], r[2]) for r in c.rows()}
    h.check_rekey_keeps_logins(c, stored, store_extra={"SESSION_ENGINE": c.engine, "CACHES": c.caches})


@test()
def test_datetime_in_session_is_shown(c):
    s = c.store()
    s["when"] = datetime(2024, 1, 2, 3, 4, 5, 600000, tzinfo=dt_timezone.utc)
    s["day"] = datetime(2024, 1, 2).date()
    s.save()
    r = c.sessionctl("inspect", s.session_key, "--json").ok()
    rec = r.json_lines()[0]
    check(rec["error"] is None, f"error: {rec['error']}")
    text = json.dumps(rec["data"])
    check("2024-01-02" in text, f"the datetime is not shown: {text}")
    human = c.sessionctl("inspect", s.session_key).ok().out
    check("2024-01-02" in human, "datetime missing from the human output")


@test(backends=(REDIS_CACHE,), engines=(CACHED_DB_ENGINE,))
def test_cached_db_delete_clears_both_halves(c):
    s = c.store()
    s["k"] = "v"
    s.save()
    key = s.session_key
    c.store(key).load()  # Django refills its cache
    check(c.redis().get(c.full_key(key)) is not None, "cache entry present (sanity)")
    c.sessionctl("delete", key).ok()
    check(c.redis().get(c.full_key(key)) is None, "cache entry left behind")
    check(c.row(key) is None, "db row left behind")
    check_eq(dict(c.store(key).load()), {}, "Django still loads the session")


@test(backends=(REDIS_CACHE,), engines=(CACHED_DB_ENGINE,))
def test_cached_db_delete_key_drops_a_copy_without_its_row(c):
    # A racing request can write the cache back after the row is gone;
    # Django then serves that copy. delete KEY removes it, as Django's
    # unconditional delete() would.
    s = c.store()
    s["k"] = "v"
    s.save()
    key = s.session_key
    drop_row(c, key)
    check_eq(dict(c.store(key).load()), {"k": "v"}, "Django serves the cached copy (sanity)")
    c.sessionctl("delete", key).ok()
    check(c.redis().get(c.full_key(key)) is None, "the cached copy is still there")
    check_eq(dict(c.store(key).load()), {}, "Django still serves the session")


def write_table(c, sql, params):
    """One statement on the session table behind Django's back (its cache
    copies stay as they are)."""
    con = sqlite3.connect(str(c.db))
    try:
        con.execute(sql, params)
        con.commit()
    finally:
        con.close()


def drop_row(c, key):
    """Deletes a session's row, keeping its cache copy (a site that deletes
    rows directly, or a request that wrote the cache back after a delete)."""
    write_table(c, "DELETE FROM django_session WHERE session_key = ?", (key,))


def alice_and_bob_with_copies_without_rows(c):
    """Alice (7) logged in twice, one session's row deleted; Bob (8) logged in,
    his row deleted. Django serves the cached copies: both stay logged in."""
    a_copy, a_row, b_copy = log_in_alice_and_bob(c, alice_logins=2)
    drop_row(c, c.session_key_of(a_copy))
    drop_row(c, c.session_key_of(b_copy))
    check_eq(c.get(a_copy, "/whoami"), "7", "Django serves alice's cached copy (sanity)")
    check_eq(c.get(b_copy, "/whoami"), "8", "Django serves bob's cached copy (sanity)")
    return a_copy, a_row, b_copy


@test(engines=(CACHED_DB_ENGINE,))
def test_cached_db_delete_user_drops_copies_without_rows(c):
    # Django's cached_db load() reads the cache first: a copy whose row is
    # gone keeps its user logged in, so delete --user must find it too.
    a_copy, a_row, b_copy = alice_and_bob_with_copies_without_rows(c)
    ka, krow, kb = (c.session_key_of(x) for x in (a_copy, a_row, b_copy))

    dry = c.sessionctl("delete", "--user", "7", "--dry-run", "--json").ok().json()
    check_eq((dry["matched"], dry["deleted"], sorted(dry["keys"])), (2, 0, sorted([ka, krow])), "--dry-run")
    check(c.redis().get(c.full_key(ka)) is not None, "--dry-run deleted the cached copy")

    r = c.sessionctl("delete", "--user", "7", "--json", "-v").ok().json()
    check_eq((r["matched"], r["deleted"], sorted(r["keys"])), (2, 2, sorted([ka, krow])), "delete --user 7")
    check(c.redis().get(c.full_key(ka)) is None, "alice's cached copy is still there")
    check_eq(c.get(a_copy, "/whoami"), "anonymous", "alice (cache-only copy) after delete --user 7")
    check_eq(c.get(a_row, "/whoami"), "anonymous", "alice (row) after delete --user 7")
    check_eq(c.get(b_copy, "/whoami"), "8", "bob untouched")
    check(c.redis().get(c.full_key(kb)) is not None, "bob's cached copy was removed")
    c.sessionctl("delete", "--user", "7").expect_error(1, "no session matched")


@test(backends=(REDIS_CACHE,), engines=(CACHED_DB_ENGINE,))
def test_cached_db_delete_user_drops_a_stale_copy_over_its_row(c):
    # The row changed but the cache write after it failed (cached_db's save()
    # logs that and goes on): Django serves the stale copy, so alice is still
    # logged in through a session whose row says nobody. delete --user 7 must
    # log her out by removing that copy; the row, which Django then serves,
    # stays (a save in flight looks the same for a moment, and its session
    # must not be lost: the race test). bob is untouched.
    alice, bob = log_in_alice_and_bob(c)
    ka = c.session_key_of(alice)
    write_table(c, "UPDATE django_session SET session_data = ? WHERE session_key = ?",
                (c.store().encode({"theme": "dark"}), ka))
    check_eq(c.get(alice, "/whoami"), "7", "Django serves alice's stale cached copy (sanity)")

    dry = c.sessionctl("delete", "--user", "7", "--dry-run", "--json").ok()
    j = dry.json()
    check_eq((j["matched"], j["keys"], j["stale_copies_removed"], j["stale_copy_keys"]), (0, [], 1, [ka]),
             "--dry-run")
    check("1 session matches only through the cached copy that Django serves" in dry.err,
          f"--dry-run does not say why: {dry.err!r}")
    check(c.redis().get(c.full_key(ka)) is not None, "--dry-run removed the copy")
    text = c.sessionctl("delete", "--user", "7", "--dry-run").ok().out
    check_eq(text.splitlines(), ["would delete 0 sessions", "would remove 1 stale cached copy", ka], "--dry-run text")
    r = c.sessionctl("delete", "--user", "7", "--json", "-v").ok().json()
    check_eq((r["matched"], r["deleted"], r["stale_copies_removed"], r["stale_copy_keys"]), (0, 0, 1, [ka]),
             "delete --user 7")
    check(c.redis().get(c.full_key(ka)) is None, "alice's stale cached copy is still there")
    check_eq(c.get(alice, "/whoami"), "anonymous", "alice after delete --user 7")
    check_eq(dict(c.store(ka).load()), {"theme": "dark"}, "Django does not serve the row after the copy")
    check_eq(c.get(bob, "/whoami"), "8", "bob untouched")
    c.sessionctl("delete", "--user", "7").expect_error(1, "no session matched")


@test(backends=(REDIS_CACHE,), engines=(CACHED_DB_ENGINE,))
def test_cached_db_inspect_shows_copies_without_rows(c):
    # What Django would load is what inspect shows, saying where it lives.
    a_copy, a_row, b_copy = alice_and_bob_with_copies_without_rows(c)
    ka, krow, kb = (c.session_key_of(x) for x in (a_copy, a_row, b_copy))
    r = c.sessionctl("inspect", "--user", "7", "--keys-only").ok()
    check_eq(sorted(r.out.split()), sorted([ka, krow]), "inspect --user 7")
    check("only in the cache" in r.err, f"inspect does not say a session is only in the cache: {r.err!r}")
    listed = c.sessionctl("inspect", "--all", "--keys-only").ok().out.split()
    check_eq(sorted(listed), sorted([ka, kb, krow]), "inspect --all")
    recs = c.sessionctl("inspect", "--all", "--json").ok().json_lines()
    rec = next((x for x in recs if x["key"] == kb), None)
    check(rec is not None, "inspect --all --json does not show bob's cached copy")
    check_eq((rec["user_id"], rec["format"], rec["expired"]), ("8", "pickle", False), "bob's cached copy")
    ttl = c.redis().ttl(c.full_key(kb))
    exp = datetime.fromisoformat(rec["expire_date"]).timestamp()
    check(abs(exp - (time.time() + ttl)) < 3, f"expire_date {rec['expire_date']} is not the cache TTL {ttl}")
    r = c.sessionctl("inspect", ka, "--json").ok()
    rec = r.json_lines()[0]
    check_eq((rec["key"], rec["user_id"], rec["format"]), (ka, "7", "pickle"), "inspect KEY of a cache-only copy")
    check("only in the cache" in r.err, f"inspect KEY does not say the session is only in the cache: {r.err!r}")
    # delete KEY counts it as the session it is.
    check_eq(c.sessionctl("delete", ka, "--json").ok().json()["deleted"], 1, "delete KEY of a cache-only copy")
    check_eq(c.get(a_copy, "/whoami"), "anonymous", "alice (cache-only copy) after delete KEY")


@test(backends=(REDIS_CACHE,), engines=(CACHED_DB_ENGINE,))
def test_cached_db_delete_where_drops_a_copy_without_its_row(c):
    s = c.store()
    s["cart"] = {"coupon": "SPRING"}
    s.save()
    other = c.store()
    other["cart"] = {"coupon": "SUMMER"}
    other.save()
    drop_row(c, s.session_key)
    drop_row(c, other.session_key)
    r = c.sessionctl("delete", "--where", "cart.coupon=SPRING", "--json", "-v").ok().json()
    check_eq((r["matched"], r["deleted"], r["keys"]), (1, 1, [s.session_key]), "delete --where")
    check_eq(dict(c.store(s.session_key).load()), {}, "Django still serves the deleted session")
    check_eq(dict(c.store(other.session_key).load()), {"cart": {"coupon": "SUMMER"}},
             "the other cache-only session")


@test(backends=(REDIS_CACHE,))
def test_clearsessions_is_a_noop_and_says_so(c):
    s = c.store()
    s.save()
    r = c.sessionctl("clearsessions").ok()
    check("nothing to clear" in r.err, f"no explanation on stderr: {r.err!r}")
    check(c.redis().get(c.full_key(s.session_key)) is not None, "a live session was removed")


@test(backends=(REDIS_CACHE,), needs_redis=False)
def test_wrong_password_exit_3_password_hidden(c):
    with PrivateRedis("--requirepass", "the-right-one") as server:
        cfg = c.cache_config("wrong.json", caches=c.caches_for(f"redis://:not-the-password@127.0.0.1:{server.port}"))
        r = c.sessionctl("inspect", "--all", config=cfg).expect_error(3, "password")
        check("not-the-password" not in r.out + r.err, "the password appears in the output")
        cfg2 = c.cache_config("opt.json", caches=c.caches_for(f"redis://127.0.0.1:{server.port}",
                                                               options={"PASSWORD": "bad-option-pw"}))
        r = c.sessionctl("inspect", "--all", config=cfg2).expect_error(3)
        check("bad-option-pw" not in r.out + r.err, "the OPTIONS password appears in the output")
        cfg3 = c.cache_config("ok.json", caches=c.caches_for(f"redis://:the-right-one@127.0.0.1:{server.port}"))
        c.sessionctl("inspect", "--all", config=cfg3).ok()
        r = c.sessionctl("config", config=cfg3).ok()
        check("the-right-one" not in r.out, "sessionctl config shows the password")


@test(backends=(REDIS_CACHE,), needs_redis=False)
def test_redis_stopped_mid_scan_exit_3(c):
    import pickle
    import redis
    with PrivateRedis() as server:
        r = redis.Redis(port=server.port)
        value = pickle.dumps({"_auth_user_id": "1", "pad": "x" * 200}, pickle.HIGHEST_PROTOCOL)
        pipe = r.pipeline(transaction=False)
        n = 60000
        for i in range(n):
            pipe.set(f"{c.prefix}:1:django.contrib.sessions.cache{i:032d}", value, ex=3600)
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()
        cfg = c.cache_config("private.json", caches={"default": {
            "BACKEND": REDIS_CACHE, "LOCATION": f"redis://127.0.0.1:{server.port}", "KEY_PREFIX": c.prefix}})
        proc = c.start_sessionctl("inspect", "--all", "--json", config=cfg)
        first = proc.stdout.readline()
        check(first.startswith(b"{"), f"no first record before the kill: {first[:80]!r}")
        server.stop()
        out, err = proc.communicate(timeout=60)
        lines = 1 + out.count(b"\n")
        check_eq(proc.returncode, 3, f"exit status (stderr: {err.decode()[:300]})")
        check(b"went away" in err or b"connect" in err, f"stderr does not say what happened: {err[:300]!r}")
        check(lines < n, f"all {n} records printed although the server was stopped")
        h.note(f"{lines} of {n} records printed before the server was stopped")


SIGNED_COOKIES_ENGINE = "django.contrib.sessions.backends.signed_cookies"


@test(backends=(None,), engines=(SIGNED_COOKIES_ENGINE,), needs_redis=False)
def test_signed_cookies_both_ways(c):
    cfg = c.write_config("sc.json", extra={"SESSION_ENGINE": SIGNED_COOKIES_ENGINE})
    from django.contrib.sessions.backends.signed_cookies import SessionStore
    # sessionctl mints a cookie value; Django loads it.
    r = c.sessionctl("create", "--data", '{"foo": "bar", "n": [1, 2]}', "--json", config=cfg).ok()
    key = r.json()["key"]
    check_eq(r.json()["cookie"], "sessionid=" + key, "cookie")
    check_eq(dict(SessionStore(key).load()), {"foo": "bar", "n": [1, 2]}, "what Django loads")
    # Django's cookie value; sessionctl shows it.
    s = SessionStore()
    s["who"] = "django"
    s.save()
    rec = c.sessionctl("inspect", s.session_key, "--json", config=cfg).ok().json_lines()[0]
    check_eq(rec["data"], {"who": "django"}, "data shown")
    check_eq(rec["verified_with"], "SECRET_KEY", "verified_with")
    check_eq(rec["expired"], False, "expired")
    # Older than SESSION_COOKIE_AGE: Django refuses it, sessionctl says it expired.
    old = c.write_config("sc-old.json", extra={"SESSION_ENGINE": SIGNED_COOKIES_ENGINE, "SESSION_COOKIE_AGE": -1})
    rec = c.sessionctl("inspect", s.session_key, "--json", config=old).json_lines()[0]
    check_eq(rec["expired"], True, "expired with SESSION_COOKIE_AGE=-1")
    with c.settings(SESSION_COOKIE_AGE=-1):
        check_eq(dict(SessionStore(s.session_key).load()), {}, "Django with SESSION_COOKIE_AGE=-1 (sanity)")
    # Nothing on a server to delete, list or clear: exit 2, pointing at SECRET_KEY.
    for argv in (["delete", key], ["clearsessions"], ["inspect", "--all"], ["delete", "--user", "1"]):
        c.sessionctl(*argv, config=cfg).expect_error(2, "SECRET_KEY")


# --------------------------------------------------------------------------- private server

class PrivateRedis:
    def __init__(self, *extra):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.dir = tempfile.mkdtemp(prefix="sessionctl-redis-")
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", self.dir, *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        self.stop()
        fail("private redis-server did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


# --------------------------------------------------------------------------- main

def why_skip(t):
    return "RedisCache needs Django >= 4.0" if t["backend"] == REDIS_CACHE and not django_ge(4, 0) else None


def why_no_server(t):
    if t["needs_redis"] and not REDIS_URL:
        return "SESSIONCTL_TEST_REDIS is not set"
    if not t["needs_redis"] and shutil.which("redis-server") is None:
        return "redis-server is not installed"
    return None


if __name__ == "__main__":
    sys.exit(h.run_module(
        __doc__, TESTS, why_skip=why_skip, why_no_server=why_no_server,
        make_case=lambda t, keep: CacheCase(t["name"], t["backend"], t["engine"], REDIS_URL or None, keep=keep)))
