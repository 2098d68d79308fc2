#!/usr/bin/python3
"""Real-Django tests of django-redis's compressors and serializers: every
COMPRESSOR (identity, zlib, gzip, lzma, lz4, zstd) with every SERIALIZER
(pickle, json, msgpack), both ways.

    PYTHONPATH=... /usr/bin/python3 tests/system/django_integration/test_django_redis_codecs.py \
        --sessionctl PATH --django 5.2 [-k SUBSTRING] [--keep]

Normally started by django_integration_test.py once per version. Needs the shared
Redis in SESSIONCTL_TEST_REDIS (scripts/servers.sh) and Debian's python3-django-redis,
python3-lz4, python3-zstandard and python3-msgpack; without Redis every test SKIPs,
unless SESSIONCTL_REQUIRE_SERVERS=1, where they FAIL.

Two stand-ins, because Debian 12 lacks what django-redis imports for them:
  * django-redis's ZStdCompressor imports `pyzstd` (not packaged by Debian); a
    module of that name is made here over python3-zstandard (same libzstd, same
    defaults: level 3, content size in the frame, no checksum). sessionctl's
    output is also checked byte for byte against it.
  * GzipCompressor is django-redis 6.0's (Debian ships 5.2): its class is copied
    here verbatim (19 lines, BSD-3-Clause, jazzband/django-redis
    django_redis/compressors/gzip.py) and registered under its module path.
Prints PASS/FAIL/SKIP lines and `RESULT <passed> <failed>`.
"""

import gzip
import os
import sys
import types
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/system: djangoharness
import djangoharness as h  # noqa: E402
from djangoharness import Case, check, check_eq  # noqa: E402

CACHE_ENGINE = "django.contrib.sessions.backends.cache"
DJANGO_REDIS = "django_redis.cache.RedisCache"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
DB = 6
REDIS_URL = os.environ.get("SESSIONCTL_TEST_REDIS", "").rstrip("/")

COMPRESSORS = {
    "identity": "django_redis.compressors.identity.IdentityCompressor",
    "zlib": "django_redis.compressors.zlib.ZlibCompressor",
    "gzip": "django_redis.compressors.gzip.GzipCompressor",
    "lzma": "django_redis.compressors.lzma.LzmaCompressor",
    "lz4": "django_redis.compressors.lz4.Lz4Compressor",
    "zstd": "django_redis.compressors.zstd.ZStdCompressor",
}
SERIALIZERS = {
    "pickle": "django_redis.serializers.pickle.PickleSerializer",
    "json": "django_redis.serializers.json.JSONSerializer",
    "msgpack": "django_redis.serializers.msgpack.MSGPackSerializer",
}


def install_stand_ins():
    """The pyzstd and django_redis.compressors.gzip modules (see the docstring)."""
    if "pyzstd" not in sys.modules:
        import zstandard

        class ZstdError(Exception):
            pass

        def compress(data, level_or_option=None):
            return zstandard.ZstdCompressor(level=level_or_option or 3).compress(data)

        def decompress(data):
            try:
                out, d = [], zstandard.ZstdDecompressor().decompressobj()
                out.append(d.decompress(data))
                return b"".join(out)
            except zstandard.ZstdError as e:
                raise ZstdError(str(e)) from e

        mod = types.ModuleType("pyzstd")
        mod.ZstdError, mod.compress, mod.decompress = ZstdError, compress, decompress
        sys.modules["pyzstd"] = mod
    try:
        import django_redis.compressors.gzip  # noqa: F401 - django-redis >= 6.0
    except ImportError:
        from django_redis.compressors.base import BaseCompressor
        from django_redis.exceptions import CompressorError

        class GzipCompressor(BaseCompressor):  # django-redis 6.0, verbatim
            min_length = 15

            def compress(self, value: bytes) -> bytes:
                if len(value) > self.min_length:
                    return gzip.compress(value)
                return value

            def decompress(self, value: bytes) -> bytes:
                try:
                    return gzip.decompress(value)
                except gzip.BadGzipFile as e:
                    raise CompressorError from e

        mod = types.ModuleType("django_redis.compressors.gzip")
        mod.GzipCompressor = GzipCompressor
        sys.modules["django_redis.compressors.gzip"] = mod


TESTS = h.Tests()


class CodecCase(Case):
    def __init__(self, name, compressor, serializer, keep=False):
        super().__init__(name, keep=keep)
        self.compressor = compressor
        self.serializer = serializer
        self.prefix = f"codec-{uuid.uuid4().hex[:12]}"
        self.caches = self.caches_with(compressor, serializer)
        self.config = self.cache_config()
        self._override = None

    def caches_with(self, compressor, serializer):
        return {"default": {"BACKEND": DJANGO_REDIS, "LOCATION": f"{REDIS_URL}/{DB}", "KEY_PREFIX": self.prefix,
                            "OPTIONS": {"COMPRESSOR": COMPRESSORS[compressor],
                                        "SERIALIZER": SERIALIZERS[serializer]}}}

    def cache_config(self, name="sessionctl.json", caches=None):
        return self.write_config(name, extra={"SESSION_ENGINE": CACHE_ENGINE, "CACHES": caches or self.caches})

    def __enter__(self):
        super().__enter__()
        from django.test.utils import override_settings
        self._cache_override = override_settings(CACHES=self.caches, SESSION_ENGINE=CACHE_ENGINE)
        self._cache_override.enable()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            r = self.redis()
            keys = list(r.scan_iter(match=self.prefix + ":*", count=1000))
            if keys:
                r.delete(*keys)
        except Exception:  # noqa: BLE001 - cleanup only
            pass
        self._cache_override.disable()
        return super().__exit__(exc_type, exc, tb)

    def use_caches(self, caches):
        """Django switches to other cache settings (as a site that changes them)."""
        from django.core.cache import caches as handler
        from django.test.utils import override_settings
        self._cache_override.disable()
        self._cache_override = override_settings(CACHES=caches, SESSION_ENGINE=CACHE_ENGINE)
        self._cache_override.enable()
        handler["default"]  # noqa: B018 - a fresh backend with the new OPTIONS

    def redis(self):
        import redis
        return redis.Redis.from_url(f"{REDIS_URL}/{DB}")

    def raw(self, session_key):
        return self.redis().get(f"{self.prefix}:1:django.contrib.sessions.cache{session_key}")

    def load(self, key):
        from django.contrib.sessions.backends.cache import SessionStore
        return dict(SessionStore(key).load())

    def client_codec(self):
        """django-redis's own client of the current settings (encode/decode)."""
        from django.core.cache import cache
        return cache.client


def for_every_pair(fn):
    for comp in COMPRESSORS:
        for ser in SERIALIZERS:
            TESTS.add(fn, f"_{comp}_{ser}", compressor=comp, serializer=ser)
    return fn


def rewritten_by_django_redis(c, raw):
    """What django-redis itself writes for the value `raw` decodes to: its
    decode() then encode(); gzip's header time is taken from `raw` (it is the
    clock at the write)."""
    client = c.client_codec()
    value = client.decode(raw)
    again = client.encode(value)
    if c.compressor == "gzip" and again[:2] == b"\x1f\x8b" and raw[:2] == b"\x1f\x8b":
        again = again[:4] + raw[4:8] + again[8:]
    return value, again


# --------------------------------------------------------------------------- tests

@for_every_pair
def test_codec(c):
    want_format = c.serializer
    compressing = c.compressor != "identity"

    # Django writes: two users and an anonymous session.
    c.make_user("alice", 7)
    c.make_user("bob", 8)
    alice, bob, anon = c.client(), c.client(), c.client()
    check(alice.login(username="alice", password="pw-alice"), "alice logs in")
    check(bob.login(username="bob", password="pw-bob"), "bob logs in")
    c.get(anon, "/set?cart=3&note=" + "x" * 120)  # long enough for every compressor (lzma: > 100 bytes)
    keys = {n: c.session_key_of(cl) for n, cl in (("alice", alice), ("bob", bob), ("anon", anon))}
    raw = c.raw(keys["anon"])
    if compressing:
        check(c.client_codec()._compressor.decompress(raw) != raw, "Django stored the session uncompressed (sanity)")

    for name, key in keys.items():
        rec = h.inspect_one(c, key)
        check(rec["error"] is None, f"inspect {name}: {rec['error']}")
        check_eq(rec["data"], c.load(key), f"inspect {name}: data is what Django loads")
        check_eq(rec["format"], want_format, f"inspect {name}: format")
    rec = h.inspect_one(c, keys["anon"])
    check_eq(rec["compressed"], compressing, "inspect: compressed")
    listed = sorted(c.sessionctl("inspect", "--all", "--keys-only").ok().out.split())
    check_eq(listed, sorted(keys.values()), "inspect --all")
    check_eq(c.sessionctl("inspect", "--user", "8", "--keys-only").ok().out.split(), [keys["bob"]], "inspect --user 8")

    # sessionctl edits a login Django wrote: the login survives, the expiry changes.
    c.sessionctl("expire", keys["bob"], "--in", "120").ok()
    check_eq(c.get(bob, "/whoami"), "8", "bob after sessionctl expire")
    from django.contrib.sessions.backends.cache import SessionStore
    check_eq(SessionStore(keys["bob"]).get_expiry_age(), 120, "bob's expiry after sessionctl expire")
    value, again = rewritten_by_django_redis(c, c.raw(keys["bob"]))
    check_eq(c.raw(keys["bob"]), again, "the bytes sessionctl wrote are django-redis's own for that value")

    # delete --user logs alice out, nobody else.
    r = c.sessionctl("--json", "delete", "--user", "7").ok().json()
    check_eq((r["matched"], r["deleted"]), (1, 1), "delete --user 7")
    check_eq(c.get(alice, "/whoami"), "anonymous", "alice after delete --user 7")
    check_eq(c.get(bob, "/whoami"), "8", "bob untouched")
    check_eq(c.load(keys["anon"]).get("cart"), "3", "the anonymous session untouched")

    # sessionctl writes: a login Django accepts, and data of every JSON kind.
    user = c.make_user("carol", 9)
    key = c.sessionctl("create", "--user", "9", "--password-hash", user.password).ok().out.split()[0]
    check_eq(c.get(c.client_with_cookie(key), "/whoami"), "9", "Django client with the cookie create printed")
    data = {"a": [1, 2, {"b": "d\u00e9j\u00e0 \U0001f600"}], "n": 1.5, "t": True, "z": None, "pad": "y" * 150}
    key = c.sessionctl("create", "--data", __import__("json").dumps(data), "--expiry", "600").ok().out.split()[0]
    check_eq(c.load(key), {**data, "_session_expiry": 600}, "Django loads what sessionctl created")
    raw = c.raw(key)
    value, again = rewritten_by_django_redis(c, raw)
    check_eq(raw, again, "the bytes sessionctl wrote are django-redis's own for that value")
    if compressing:
        check(c.client_codec()._compressor.decompress(raw) != raw, "sessionctl did not compress")
    # Short values are stored as they are (min_length), and read back.
    key = c.sessionctl("create", "--data", '{"s": 1}').ok().out.split()[0]
    check_eq(c.load(key), {"s": 1}, "Django loads a short session sessionctl created")
    check_eq(h.inspect_one(c, key)["data"], {"s": 1}, "inspect of a short session")


def for_every_compressor(fn):
    for comp in COMPRESSORS:
        if comp != "identity":
            TESTS.add(fn, f"_{comp}", compressor=comp, serializer="pickle")
    return fn


@for_every_compressor
def test_values_from_before_the_compressor_still_read(c):
    # The site ran without a compressor, then switched one on: django-redis
    # falls back to the raw bytes, so do inspect and delete.
    plain = c.caches_with("identity", "pickle")
    c.use_caches(plain)
    c.make_user("alice", 7)
    old = c.client()
    check(old.login(username="alice", password="pw-alice"), "alice logs in (before the compressor)")
    old_key = c.session_key_of(old)
    c.use_caches(c.caches)  # the compressor is on from now on
    check_eq(c.get(old, "/whoami"), "7", "Django still reads the old session (sanity)")
    new = c.client()
    check(new.login(username="alice", password="pw-alice"), "alice logs in (with the compressor)")
    new_key = c.session_key_of(new)
    for key in (old_key, new_key):
        rec = h.inspect_one(c, key)
        check_eq((rec["error"], rec["user_id"]), (None, "7"), f"inspect {key}")
    check_eq(h.inspect_one(c, old_key)["compressed"], False, "the old session is not compressed")
    check_eq(h.inspect_one(c, new_key)["compressed"], True, "the new session is compressed")
    r = c.sessionctl("--json", "delete", "--user", "7").ok().json()
    check_eq(r["deleted"], 2, "delete --user 7 finds both")
    check_eq((c.get(old, "/whoami"), c.get(new, "/whoami")), ("anonymous", "anonymous"), "alice after delete")


def test_unsupported_options_exit_2(c):
    for options, what in (({"SERIALIZER": "myapp.serializers.Custom"}, "SERIALIZER"),
                          ({"COMPRESSOR": "myapp.compressors.Brotli"}, "COMPRESSOR"),
                          ({"PICKLE_VERSION": 2}, "PICKLE_VERSION")):
        caches = {"default": {"BACKEND": DJANGO_REDIS, "LOCATION": f"{REDIS_URL}/{DB}", "OPTIONS": options}}
        cfg = c.cache_config("bad.json", caches=caches)
        c.sessionctl("inspect", "--all", config=cfg).expect_error(2, what)


TESTS.add(test_unsupported_options_exit_2, compressor="identity", serializer="pickle")


def setup(sessionctl):
    version = h.setup_django(sessionctl)
    install_stand_ins()
    return version


if __name__ == "__main__":
    sys.exit(h.run_module(
        __doc__, TESTS, setup=setup,
        why_no_server=lambda t: None if REDIS_URL else "SESSIONCTL_TEST_REDIS is not set",
        make_case=lambda t, keep: CodecCase(t["name"], t["compressor"], t["serializer"], keep=keep)))
