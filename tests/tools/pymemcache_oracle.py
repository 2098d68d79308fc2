#!/usr/bin/python3
"""Real Django (PyMemcacheCache) and pymemcache as the oracle for
tests/test_memcached_client.cpp.

    /usr/bin/python3 pymemcache_oracle.py MODE CONFIG_JSON [ARGS...]

CONFIG_JSON: {"LOCATION": ..., "KEY_PREFIX": ..., "BACKEND": ...} for Django's
CACHES["default"]. Prints one JSON document on stdout.

Modes:
  write_sessions N       the cache session engine creates N sessions (create()
                         + a save with data); prints [{session_key, key, hex}]
                         with key = the full cache key and hex =
                         pickle.dumps(session dict, HIGHEST_PROTOCOL)
  load_sessions SK...    SessionStore(SK).load() for each: {SK: data or null}
  cache_set KEY TIMEOUT  cache.set(KEY, {"via": "django"}, TIMEOUT|None)
  key_checks HEX...      for each key (UTF-8 hex): does Django's validate_key or
                         pymemcache's check_key_helper refuse it? {hex: bool}
  nodes                  pymemcache HashClient node names, in order
  pick KEY...            the node HashClient.hasher picks for each key
  murmur TEXT...         murmur3_32(TEXT) for each
"""

import json
import pickle
import sys


def setup(cfg):
    import django
    from django.conf import settings
    cache = {"BACKEND": cfg.get("BACKEND", "django.core.cache.backends.memcached.PyMemcacheCache"),
             "LOCATION": cfg["LOCATION"]}
    if "KEY_PREFIX" in cfg:
        cache["KEY_PREFIX"] = cfg["KEY_PREFIX"]
    settings.configure(
        SECRET_KEY="oracle-secret-key-not-used-for-cache-sessions-0123456789",
        CACHES={"default": cache},
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        INSTALLED_APPS=["django.contrib.sessions"],
        USE_TZ=True,
    )
    django.setup()


def main():
    mode, cfg = sys.argv[1], json.loads(sys.argv[2])
    args = sys.argv[3:]
    if mode == "murmur":
        from pymemcache.client.murmur3 import murmur3_32
        print(json.dumps([murmur3_32(a) for a in args]))
        return
    setup(cfg)
    from django.core.cache import cache
    if mode == "write_sessions":
        from django.contrib.sessions.backends.cache import SessionStore
        out = []
        for i in range(int(args[0])):
            s = SessionStore()
            s["n"] = i
            s["name"] = "d\u00e9j\u00e0 vu"
            s.save()
            out.append({"session_key": s.session_key, "key": cache.make_key(s.cache_key),
                        "hex": pickle.dumps(s._session, pickle.HIGHEST_PROTOCOL).hex()})
        print(json.dumps(out))
    elif mode == "load_sessions":
        from django.contrib.sessions.backends.cache import SessionStore
        out = {}
        for sk in args:
            s = SessionStore(sk)
            data = s.load()
            out[sk] = data if s.session_key is not None else None
        print(json.dumps(out, default=str))
    elif mode == "cache_set":
        cache.set(args[0], {"via": "django"}, None if args[1] == "None" else int(args[1]))
        print(json.dumps(cache.make_key(args[0])))
    elif mode == "key_checks":
        from django.core.cache.backends.base import InvalidCacheKey
        from pymemcache.client.base import check_key_helper
        out = {}
        for h in args:
            key = bytes.fromhex(h).decode("utf-8")
            refused = False
            try:
                cache.validate_key(key)
                check_key_helper(key, True)
            except (InvalidCacheKey, Exception):
                refused = True
            out[h] = refused
        print(json.dumps(out))
    elif mode == "nodes":
        print(json.dumps(list(cache._cache.hasher.nodes)))
    elif mode == "pick":
        print(json.dumps([cache._cache.hasher.get_node(k) for k in args]))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
