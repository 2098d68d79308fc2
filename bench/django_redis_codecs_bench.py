#!/usr/bin/python3
"""Benchmark (not a test): sessionctl on django-redis values with a compressor and a
serializer, against the loop a user would write with django-redis itself.

    /usr/bin/python3 bench/django_redis_codecs_bench.py --sessionctl build/cli/sessionctl \
        [--redis redis://127.0.0.1:6391] [--db 12] [-n 100000] [--pairs zlib:pickle,zstd:msgpack,lz4:json]

For each COMPRESSOR:SERIALIZER pair, fills Redis db --db (FLUSHDB first: use a db of its
own) with N sessions encoded by django-redis's own DefaultClient (1 in 100 belong to user
42), then times `sessionctl inspect --all --json > /dev/null` against a redis-py loop:
SCAN + pipelined GET + DefaultClient.decode + json.dumps of each session, and
`sessionctl delete --user 42 --dry-run` against SCAN + MGET + decode + match. Prints the
times and the ratios (python / sessionctl). Needs Debian's python3-django-redis, -lz4,
-zstandard and -msgpack (zstd through the stand-in pyzstd of the codec tests).
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests/system/django_integration"))

COMPRESSORS = {"identity": "identity.IdentityCompressor", "zlib": "zlib.ZlibCompressor",
               "gzip": "gzip.GzipCompressor", "lzma": "lzma.LzmaCompressor", "lz4": "lz4.Lz4Compressor",
               "zstd": "zstd.ZStdCompressor"}
SERIALIZERS = {"pickle": "pickle.PickleSerializer", "json": "json.JSONSerializer",
               "msgpack": "msgpack.MSGPackSerializer"}
KEY = ":1:django.contrib.sessions.cache"


def options(comp, ser):
    return {"COMPRESSOR": "django_redis.compressors." + COMPRESSORS[comp],
            "SERIALIZER": "django_redis.serializers." + SERIALIZERS[ser]}


def client_for(url, comp, ser):
    """django-redis's DefaultClient for these OPTIONS (its encode/decode)."""
    from django_redis.cache import RedisCache
    return RedisCache(url, {"OPTIONS": options(comp, ser)}).client


def fill(r, codec, n):
    r.flushdb()
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        data = {"_auth_user_id": "42" if i % 100 == 0 else str(1000 + i),
                "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                "_auth_user_hash": secrets.token_hex(32), "cart": [1, 2, 3], "seen": i}
        pipe.set(KEY + secrets.token_hex(16), codec.encode(data), ex=1209600)
        if i % 10000 == 9999:
            pipe.execute()
    pipe.execute()


def py_inspect(r, codec):
    out = open(os.devnull, "w")
    for keys in scan_batches(r):
        for k, v in zip(keys, r.mget(keys)):
            if v is not None:
                out.write(json.dumps({"key": k[len(KEY):].decode(), "data": codec.decode(v)}) + "\n")


def py_match(r, codec):
    found = 0
    for keys in scan_batches(r):
        for v in r.mget(keys):
            if v is not None and codec.decode(v).get("_auth_user_id") == "42":
                found += 1
    return found


def scan_batches(r):
    cursor = 0
    while True:
        cursor, keys = r.scan(cursor, match=KEY + "*", count=1000)
        if keys:
            yield keys
        if cursor == 0:
            return


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessionctl", required=True)
    p.add_argument("--redis", default=os.environ.get("SESSIONCTL_TEST_REDIS", "redis://127.0.0.1:6391"))
    p.add_argument("--db", type=int, default=12)
    p.add_argument("-n", type=int, default=100000)
    p.add_argument("--pairs", default="zlib:pickle,zstd:msgpack,lz4:json")
    a = p.parse_args()
    import django
    from django.conf import settings
    settings.configure()
    django.setup()
    from test_django_redis_codecs import install_stand_ins
    install_stand_ins()
    import redis
    url = f"{a.redis.rstrip('/')}/{a.db}"
    r = redis.Redis.from_url(url)
    for pair in a.pairs.split(","):
        comp, ser = pair.split(":")
        codec = client_for(url, comp, ser)
        fill(r, codec, a.n)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"SESSION_ENGINE": "django.contrib.sessions.backends.cache", "SECRET_KEY": "b" * 50,
                       "CACHES": {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url,
                                              "OPTIONS": options(comp, ser)}}}, f)
        os.chmod(f.name, 0o600)
        run = [a.sessionctl, "--config", f.name]
        t_inspect = timed(lambda: subprocess.run(run + ["--json", "inspect", "--all"], check=True,
                                                 stdout=subprocess.DEVNULL))
        t_py_inspect = timed(lambda: py_inspect(r, codec))
        t_delete = timed(lambda: subprocess.run(run + ["delete", "--user", "42", "--dry-run"], check=True,
                                                stdout=subprocess.DEVNULL))
        t_py_match = timed(lambda: py_match(r, codec))
        os.unlink(f.name)
        print(f"{comp}+{ser}, {a.n} sessions: inspect --all --json {t_inspect:.2f} s vs python "
              f"{t_py_inspect:.2f} s ({t_py_inspect / t_inspect:.2f}x); delete --user --dry-run {t_delete:.2f} s "
              f"vs python {t_py_match:.2f} s ({t_py_match / t_delete:.2f}x)", flush=True)
    r.flushdb()


if __name__ == "__main__":
    main()
