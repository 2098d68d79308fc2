#!/usr/bin/python3
"""Real-Django tests of sessionctl on two memcached servers: Django's PyLibMCCache
(pylibmc, Debian's python3-pylibmc, over libmemcached with the behaviors from
OPTIONS) and PyMemcacheCache (pymemcache's rendezvous hashing) spread sessions
over both; sessionctl must find, show and delete every one, and put the
sessions it creates where Django looks.

    SESSIONCTL_TEST_MEMCACHED=127.0.0.1:11291 SESSIONCTL_TEST_MEMCACHED2=127.0.0.1:11292 \
    PYTHONPATH=... /usr/bin/python3 tests/system/django_integration/test_memcached_servers.py \
        --sessionctl PATH --django 5.2 [-k SUBSTRING] [--keep]

Both servers come from scripts/servers.sh. Without them every test is a SKIP,
except with SESSIONCTL_REQUIRE_SERVERS=1 (CI), where that is a FAIL. Each test
uses a KEY_PREFIX of its own. Prints PASS/FAIL/SKIP lines and `RESULT <passed> <failed>`.
"""

import json
import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/system: djangoharness
import djangoharness as h  # noqa: E402
from djangoharness import Case, check, check_eq  # noqa: E402

CACHE_ENGINE = "django.contrib.sessions.backends.cache"
PYLIBMC = "django.core.cache.backends.memcached.PyLibMCCache"
PYMEMCACHE = "django.core.cache.backends.memcached.PyMemcacheCache"
FIRST = os.environ.get("SESSIONCTL_TEST_MEMCACHED", "")
SECOND = os.environ.get("SESSIONCTL_TEST_MEMCACHED2", "")

TESTS = h.Tests()

# (suffix, BACKEND, LOCATION as a function of the two servers, OPTIONS)
SETUPS = [
    ("pylibmc_default", PYLIBMC, lambda a, b: [a, b], None),  # libmemcached's modula + default hash
    ("pylibmc_ketama", PYLIBMC, lambda a, b: f"{a};{b}",
     {"binary": True, "behaviors": {"tcp_nodelay": True, "ketama": True}}),  # Django's documented example
    ("pylibmc_consistent_md5_weighted", PYLIBMC, lambda a, b: [a + ":3", b],
     {"behaviors": {"distribution": "consistent", "hash": "md5", "ketama_weighted": True}}),
    ("pylibmc_fnv1a_modula", PYLIBMC, lambda a, b: [b, a], {"behaviors": {"hash": "fnv1a_32"}}),
    ("pymemcache", PYMEMCACHE, lambda a, b: [a, b], None),
]


class ServersCase(Case):
    def __init__(self, name, backend, location, options, keep=False):
        super().__init__(name, keep=keep)
        self.prefix = f"two-{uuid.uuid4().hex[:12]}"
        entry = {"BACKEND": backend, "LOCATION": location, "KEY_PREFIX": self.prefix}
        if options:
            entry["OPTIONS"] = options
        self.caches = {"default": entry}
        self.config = self.write_config(extra={"SESSION_ENGINE": CACHE_ENGINE, "CACHES": self.caches})

    def __enter__(self):
        super().__enter__()
        self._cache_override = self.settings(SESSION_ENGINE=CACHE_ENGINE, CACHES=self.caches)
        self._cache_override.enable()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._cache_override.disable()
        return super().__exit__(exc_type, exc, tb)

    def load(self, key):
        from django.contrib.sessions.backends.cache import SessionStore
        return dict(SessionStore(key).load())

    def on_server(self, server, key):
        """Whether `server` (host:port) itself holds the session `key` (pymemcache, one server)."""
        import pymemcache
        host, port = server.rsplit(":", 1)
        client = pymemcache.Client((host, int(port)))
        try:
            return client.get(f"{self.prefix}:1:django.contrib.sessions.cache{key}") is not None
        finally:
            client.close()


def two_servers(fn):
    for suffix, backend, location, options in SETUPS:
        TESTS.add(fn, "_" + suffix, backend=backend, location=location, options=options)
    return fn


@two_servers
def test_every_session_found_and_deleted(c):
    c.make_user("alice", 7)
    c.make_user("bob", 8)
    alice, bob, anon = [], [], []
    for _ in range(8):
        a, b, n = c.client(), c.client(), c.client()
        check(a.login(username="alice", password="pw-alice"), "alice logs in")
        check(b.login(username="bob", password="pw-bob"), "bob logs in")
        c.get(n, "/set?cart=1")
        alice.append(a), bob.append(b), anon.append(n)
    keys = {id(cl): c.session_key_of(cl) for cl in alice + bob + anon}
    all_keys = sorted(keys.values())
    # Django spread them over both servers, each on exactly one.
    first = [k for k in all_keys if c.on_server(FIRST, k)]
    second = [k for k in all_keys if c.on_server(SECOND, k)]
    check_eq(sorted(first + second), all_keys, "each session is on exactly one server (sanity)")
    check(first and second, f"{len(first)} sessions on {FIRST}, {len(second)} on {SECOND}: not spread")

    listed = sorted(c.sessionctl("inspect", "--all", "--keys-only").ok().out.split())
    check_eq(listed, all_keys, "inspect --all finds every session Django wrote")
    for key in (first[0], second[0]):
        rec = h.inspect_one(c, key)
        check_eq(rec["data"], c.load(key), f"inspect {key}")
    users = sorted(c.sessionctl("inspect", "--user", "7", "--keys-only").ok().out.split())
    check_eq(users, sorted(c.session_key_of(a) for a in alice), "inspect --user 7")

    r = c.sessionctl("--json", "delete", "--user", "7").ok().json()
    check_eq((r["matched"], r["deleted"]), (8, 8), "delete --user 7")
    check_eq([c.get(a, "/whoami") for a in alice], ["anonymous"] * 8, "alice's clients after delete --user 7")
    check_eq([c.get(b, "/whoami") for b in bob], ["8"] * 8, "bob's clients untouched")
    check_eq([c.load(c.session_key_of(n)).get("cart") for n in anon], ["1"] * 8, "anonymous sessions untouched")

    # What sessionctl creates lands where Django looks, on both servers.
    made = []
    for i in range(12):
        r = c.sessionctl("create", "--data", json.dumps({"n": i})).ok()
        made.append(r.out.split()[0])
    check_eq([c.load(k).get("n") for k in made], list(range(12)), "Django loads the sessions sessionctl created")
    check(any(c.on_server(FIRST, k) for k in made) and any(c.on_server(SECOND, k) for k in made),
          "sessionctl's sessions are on both servers")
    user = c.make_user("carol", 9)
    key = c.sessionctl("create", "--user", "9", "--password-hash", user.password).ok().out.split()[0]
    check_eq(c.get(c.client_with_cookie(key), "/whoami"), "9", "a login sessionctl created")
    r = c.sessionctl("--json", "delete", *made).ok().json()
    check_eq(r["deleted"], 12, "delete KEY... on both servers")
    check_eq([c.load(k) for k in made], [{}] * 12, "Django no longer finds them")


def test_pylibmc_options_sessionctl_cannot_honour_exit_2(c):
    for options, what in (({"behaviors": {"namespace": "site1"}}, "namespace"),
                          ({"behaviors": {"num_replicas": 1}}, "num_replicas"),
                          ({"behaviors": {"distribution": "random"}}, "random"),
                          ({"behaviors": {"ketamma": True}}, "unknown behavior")):
        cfg = c.write_config("bad.json", extra={"SESSION_ENGINE": CACHE_ENGINE, "CACHES": {"default": {
            "BACKEND": PYLIBMC, "LOCATION": [FIRST, SECOND], "OPTIONS": options}}})
        c.sessionctl("inspect", "--all", config=cfg).expect_error(2, what)


TESTS.add(test_pylibmc_options_sessionctl_cannot_honour_exit_2, backend=PYLIBMC, location=lambda a, b: [a, b],
          options=None)


def why_no_server(t):
    if not FIRST or not SECOND:
        return "SESSIONCTL_TEST_MEMCACHED and SESSIONCTL_TEST_MEMCACHED2 are not both set"
    return None


if __name__ == "__main__":
    sys.exit(h.run_module(
        __doc__, TESTS, why_no_server=why_no_server,
        make_case=lambda t, keep: ServersCase(t["name"], t["backend"], t["location"](FIRST, SECOND), t["options"],
                                              keep=keep)))
