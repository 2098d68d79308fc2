"""Cache servers for the race tests (races_test.py): which shared server an
engine needs, the CACHES entry Django and sessionctl both get, and what the
cache holds at the end (read with redis-py / pymemcache, not with sessionctl,
so a sessionctl bug cannot hide itself).

Servers come from SESSIONCTL_TEST_REDIS / SESSIONCTL_TEST_MEMCACHED
(scripts/servers.sh). Redis: database 9 (no other test uses it) and a
KEY_PREFIX of this run's own, removed at the end. memcached: a KEY_PREFIX of
this run's own; the keys the run knows are deleted at the end (the rest time
out within seconds or were never stored).
"""

import os
import uuid

REDIS_DB = 9
DJANGO_REDIS = "django_redis.cache.RedisCache"  # Django 3.2 has no RedisCache of its own
PYMEMCACHE = "django.core.cache.backends.memcached.PyMemcacheCache"
ENV_VAR = {"redis": "SESSIONCTL_TEST_REDIS", "memcached": "SESSIONCTL_TEST_MEMCACHED"}
CACHE_KEY_PREFIX = {"django.contrib.sessions.backends.cache": "django.contrib.sessions.cache",
                    "django.contrib.sessions.backends.cached_db": "django.contrib.sessions.cached_db"}


def server_missing(kind):
    """None when the server is configured; else ("SKIP"|"FAIL", reason)."""
    var = ENV_VAR[kind]
    if os.environ.get(var):
        return None
    if os.environ.get("SESSIONCTL_REQUIRE_SERVERS") == "1":
        return "FAIL", f"{var} is not set, but SESSIONCTL_REQUIRE_SERVERS=1 requires a {kind} server"
    return "SKIP", f"{var} is not set (eval \"$(scripts/servers.sh start)\" to run it)"


class CacheServer:
    """One run's slice of a shared cache server."""

    def __init__(self, kind, engine):
        self.kind = kind
        self.location = os.environ[ENV_VAR[kind]]
        self.prefix = f"race-{uuid.uuid4().hex[:12]}"
        self.session_prefix = CACHE_KEY_PREFIX[engine]
        if kind == "redis":
            self.caches = {"default": {"BACKEND": DJANGO_REDIS, "LOCATION": f"{self.location}/{REDIS_DB}",
                                       "KEY_PREFIX": self.prefix}}
        else:
            self.caches = {"default": {"BACKEND": PYMEMCACHE, "LOCATION": self.location, "KEY_PREFIX": self.prefix}}
        self._client = None

    def full_key(self, session_key):
        # Django's default_key_func (django-redis uses the same): PREFIX:VERSION:key.
        return f"{self.prefix}:1:{self.session_prefix}{session_key}"

    def client(self):
        if self._client is None:
            if self.kind == "redis":
                import redis
                self._client = redis.Redis.from_url(f"{self.location}/{REDIS_DB}", socket_timeout=10)
            else:
                from pymemcache.client.base import Client
                host, _, port = self.location.rpartition(":")
                self._client = Client((host, int(port)), connect_timeout=5, timeout=10)
        return self._client

    def remaining(self, session_keys):
        """{session key: remaining lifetime in seconds (None: unknown / none)} for those present."""
        keys = list(session_keys)
        found = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            if self.kind == "redis":
                pipe = self.client().pipeline(transaction=False)
                for k in chunk:
                    pipe.pttl(self.full_key(k))
                for k, ms in zip(chunk, pipe.execute()):
                    if ms != -2:  # -2: no such key
                        found[k] = None if ms < 0 else ms / 1000.0
            else:
                got = self.client().get_many([self.full_key(k) for k in chunk])
                for k in chunk:
                    if self.full_key(k) in got:
                        found[k] = None  # memcached does not say (without meta commands)
        return found

    def cleanup(self, session_keys):
        try:
            if self.kind == "redis":
                c = self.client()
                batch = list(c.scan_iter(match=f"{self.prefix}:*", count=1000))
                for i in range(0, len(batch), 1000):
                    c.delete(*batch[i:i + 1000])
            else:
                keys = [self.full_key(k) for k in session_keys]
                for i in range(0, len(keys), 500):
                    self.client().delete_many(keys[i:i + 500])
        except Exception:
            pass  # best effort: every key has a TTL anyway
