#!/usr/bin/python3
"""Real-Django integration tests of sessionctl's cache engine on memcached
(SESSION_ENGINE = "django.contrib.sessions.backends.cache", CACHES BACKEND
django.core.cache.backends.memcached.PyMemcacheCache).

Runs every test against ONE Django version (the one on PYTHONPATH):

    SESSIONCTL_TEST_MEMCACHED=127.0.0.1:11291 PYTHONPATH=... /usr/bin/python3 \
        tests/system/django_integration/test_memcached_engine.py --sessionctl PATH --django 5.2 \
        [-k SUBSTRING] [--keep]

Normally started by django_integration_test.py, once per version. Prints PASS/FAIL/SKIP
lines and finally `RESULT <passed> <failed>`.

The memcached server comes from SESSIONCTL_TEST_MEMCACHED (host:port, as
scripts/servers.sh exports it). Without it every test is a SKIP, except with
SESSIONCTL_REQUIRE_SERVERS=1 (CI), where that is a FAIL. Each test uses a
KEY_PREFIX of its own, so tests (and parallel runs) never see each other's
keys. The several-servers test starts a private memcached on a free port and
kills it (by pid) at the end.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/system: djangoharness
import djangoharness as h  # noqa: E402
from djangoharness import Case, check, check_eq, fail, inspect_one, logged_in_world, parse_iso  # noqa: E402

CACHE_ENGINE = "django.contrib.sessions.backends.cache"
PYMEMCACHE = "django.core.cache.backends.memcached.PyMemcacheCache"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
COOKIE_AGE = 1209600
CACHE_PREFIX = "django.contrib.sessions.cache"

TESTS = h.Tests()
test = TESTS.test()


# --------------------------------------------------------------------------- the memcached case

class MemcachedCase(Case):
    """A djangoharness Case whose sessions live in memcached under a KEY_PREFIX of its own."""

    def __init__(self, name, location, keep=False):
        self.location = location
        self.key_prefix = f"integ{os.getpid()}{name[-20:]}{int(time.time() * 1000) % 100000}"
        super().__init__(name, keep=keep)

    def caches(self, location=None):
        return {"default": {"BACKEND": PYMEMCACHE, "LOCATION": location or self.location,
                            "KEY_PREFIX": self.key_prefix}}

    def store_settings(self, location=None):
        """The cache engine on memcached (`location`, or the shared server)."""
        return {**super().store_settings(), "SESSION_ENGINE": CACHE_ENGINE, "CACHES": self.caches(location)}

    def __enter__(self):
        super().__enter__()
        self._cache_override = self.settings(SESSION_ENGINE=CACHE_ENGINE, CACHES=self.caches())
        self._cache_override.enable()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._cache_override.disable()
        return super().__exit__(exc_type, exc, tb)


class PrivateMemcached:
    """A memcached of this test's own on a free loopback port."""

    def __init__(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        argv = ["memcached", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "16"]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.01)
        else:
            self.stop()
            fail("private memcached did not start")
        self.location = f"127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- helpers

def store(key=None):
    from django.contrib.sessions.backends.cache import SessionStore
    return SessionStore(session_key=key)


def load(key):
    """What Django's cache engine loads for `key` ({} when absent)."""
    return store(key).load()


def cache():
    from django.core.cache import caches
    return caches["default"]


# --------------------------------------------------------------------------- tests

@test
def test_mc_django_writes_sessionctl_reads(c):
    users, clients, keys = logged_in_world(c)
    before = datetime.now(dt_timezone.utc)
    o = inspect_one(c, keys["alice1"])
    check_eq(o.get("data", {}).get("color"), "blue", "data of alice's session")
    check_eq(o.get("user_id"), "41", "user_id of alice's session")
    check_eq(o.get("expired"), False, "expired flag")
    check_eq(o.get("error"), None, "error of a good session")
    # The cache TTL Django set (SESSION_COOKIE_AGE) is the expiry sessionctl shows.
    exp = parse_iso(o.get("expire_date"), "expire_date")
    want = before + timedelta(seconds=COOKIE_AGE)
    check(abs((exp - want).total_seconds()) < 60, f"expire_date {exp} is not about {want}")

    r = c.sessionctl("--json", "inspect", "--all").ok()
    listed = {j["key"]: j for j in r.json_lines()}
    check_eq(sorted(listed), sorted(keys.values()), "sessions inspect --all lists (best effort, all here)")
    check_eq(listed[keys["bob"]]["user_id"], "1042", "bob's user id from the listing")
    check_eq(listed[keys["anon"]]["data"], {"cart": "3"}, "anonymous session data from the listing")


@test
def test_mc_datetime_session_is_shown(c):
    s = store()
    s["when"] = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt_timezone.utc)
    s["day"] = datetime(2024, 5, 6).date()
    s["n"] = 7
    s.create()
    o = inspect_one(c, s.session_key)
    check_eq(o.get("error"), None, f"error for a session holding a datetime: {o}")
    data = o.get("data") or {}
    check_eq(data.get("n"), 7, "plain value next to the datetime")
    check("2024-05-06" in json.dumps(data.get("when")), f"the datetime is shown: {data.get('when')!r}")


@test
def test_mc_sessionctl_writes_django_reads(c):
    user = c.make_user("dave", 314)
    r = c.sessionctl("create", "--user", "314", "--password-hash", user.password).ok()
    key = r.out.splitlines()[0]
    check_eq(load(key), {"_auth_user_id": "314", "_auth_user_backend": MODEL_BACKEND,
                         "_auth_user_hash": user.get_session_auth_hash()}, "Django loads the created session")
    check_eq(c.get(c.client_with_cookie(key), "/whoami"), "314", "Django client with the created cookie")

    r = c.sessionctl("create", "--data", '{"cart": [1, 2], "name": "d\\u00e9j\\u00e0"}', "--expiry", "600").ok()
    key = r.out.splitlines()[0]
    data = load(key)
    check_eq({k: data.get(k) for k in ("cart", "name")}, {"cart": [1, 2], "name": "d\u00e9j\u00e0"},
             "Django loads data written by sessionctl")
    check_eq(store(key).get_expiry_age(), 600, "set_expiry(600) as Django reads it")


@test
def test_mc_delete_user_logs_client_out(c):
    users, clients, keys = logged_in_world(c)
    check_eq(c.get(clients["alice1"], "/whoami"), "41", "alice before delete")
    r = c.sessionctl("delete", "--user", "41")
    check_eq(r.rc, 0, f"delete --user 41 exit code\n      {r.describe()}")
    check("deleted 2 sessions" in r.out, f"delete --user 41 reports 2 deletions\n      {r.describe()}")
    check_eq(c.get(clients["alice1"], "/whoami"), "anonymous", "alice's first client after delete --user 41")
    check_eq(c.get(clients["alice2"], "/whoami"), "anonymous", "alice's second client after delete --user 41")
    check_eq(c.get(clients["bob"], "/whoami"), "1042", "bob is still logged in")
    check_eq(load(keys["anon"]), {"cart": "3"}, "the anonymous session is untouched")

    r = c.sessionctl("delete", keys["bob"]).ok()
    check_eq(c.get(clients["bob"], "/whoami"), "anonymous", "bob after delete KEY")


@test
def test_mc_listing_says_best_effort(c):
    logged_in_world(c)
    for args in (("inspect", "--all"), ("delete", "--user", "41", "--dry-run")):
        r = c.sessionctl(*args)
        check(r.rc in (0, 1), f"{args} exit code\n      {r.describe()}")
        check(re.search(r"best[ -]effort", r.err),
              f"{args} says the memcached listing is best effort\n      {r.describe()}")


@test
def test_mc_server_down_is_exit_3(c):
    down = PrivateMemcached()
    down.stop()
    cfg = c.write_config("down.json", location=down.location)
    for args in (("inspect", "--all"), ("inspect", "a" * 32), ("delete", "--user", "1"),
                 ("create", "--data", "{}")):
        r = c.sessionctl(*args, config=cfg)
        check_eq(r.rc, 3, f"{args} with memcached down: exit code\n      {r.describe()}")
        lines = r.err.strip().splitlines()
        check(len(lines) == 1 and down.location in lines[0],
              f"{args}: one stderr line naming {down.location}\n      {r.describe()}")


@test
def test_mc_several_servers(c):
    second = PrivateMemcached()
    try:
        location = [c.location, second.location]
        with c.settings(CACHES=c.caches(location)):
            keys = []
            for i in range(16):
                s = store()
                s["n"] = i
                s.create()
                keys.append(s.session_key)
            cfg = c.write_config("multi.json", location=location)
            r = c.sessionctl("--json", "inspect", "--all", config=cfg).ok()
            got = {j["key"]: j["data"].get("n") for j in r.json_lines()}
            check_eq(got, {k: i for i, k in enumerate(keys)}, "sessions found across two servers")
            # Both servers hold some: placement really was spread.
            import pymemcache
            on_second = pymemcache.Client(("127.0.0.1", second.port)).stats().get(b"curr_items", 0)
            check(0 < on_second < 16, f"{on_second} of 16 sessions on the second server")

            r = c.sessionctl("create", "--data", '{"made": "here"}', config=cfg).ok()
            made = r.out.splitlines()[0]
            check_eq(load(made).get("made"), "here", "Django finds a session sessionctl placed")
            r = c.sessionctl("delete", *keys[:8], config=cfg).ok()
            check_eq([load(k) for k in keys[:8]], [{}] * 8, "deleted sessions are gone for Django")
            check_eq([load(k).get("n") for k in keys[8:]], list(range(8, 16)), "the others remain")
    finally:
        second.stop()


TESTS.leak_check("test_mc_no_secret_in_any_output", min_runs=5)

if __name__ == "__main__":
    sys.exit(h.run_module(
        __doc__, TESTS, needs_env=("SESSIONCTL_TEST_MEMCACHED", "SESSIONCTL_TEST_MEMCACHED is not set"),
        make_case=lambda t, keep: MemcachedCase(t["name"], os.environ["SESSIONCTL_TEST_MEMCACHED"], keep=keep)))
