#!/usr/bin/python3
"""Benchmark (not a test): sessionctl on Redis against a redis-py loop doing the same work.

    /usr/bin/python3 bench/redis_bench.py --sessionctl build/cli/sessionctl \
        [--redis redis://127.0.0.1:6391] [--db 11] [-n 100000] \
        [--tls rediss://localhost:6392 --tls-ca CA.crt]

Fills Redis db --db (FLUSHDB first: use a db of its own) with N sessions as Django's
RedisCache stores them (key :1:django.contrib.sessions.cache<key>, pickle protocol 5 of
the session dict, TTL 14 days; 1 in 100 belong to user 42), then times
  1. `sessionctl inspect --all --json > /dev/null` vs a redis-py loop: SCAN + pipelined
     GET/TTL + pickle.loads + json.dumps of each record,
  2. `sessionctl delete --user 42` vs a redis-py loop: SCAN + pipelined GET, unpickle,
     match `_auth_user_id`, DEL the matches (the store is refilled between the two),
and prints each time and the ratio (python / sessionctl). With --tls (default: the
TLS-only server of scripts/servers.sh, SESSIONCTL_TEST_REDIS_TLS, trusting
SESSIONCTL_TEST_REDIS_TLS_CERTS/ca.crt) the same runs again over rediss://, so plain and
TLS can be compared.
"""

import argparse
import json
import os
import pickle
import secrets
import subprocess
import sys
import tempfile
import time

import redis

PREFIX = ":1:django.contrib.sessions.cache"
AGE = 1209600


def fill(r, n):
    r.flushdb()
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        key = secrets.token_hex(16)
        user = "42" if i % 100 == 0 else str(1000 + i)
        data = {"_auth_user_id": user, "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                "_auth_user_hash": secrets.token_hex(32), "cart": [1, 2, 3], "seen": i}
        pipe.set(PREFIX + key, pickle.dumps(data, pickle.HIGHEST_PROTOCOL), ex=AGE)
        if i % 10000 == 9999:
            pipe.execute()
    pipe.execute()


def py_inspect(r):
    out = open(os.devnull, "w")
    for batch in scan_batches(r):
        pipe = r.pipeline(transaction=False)
        for k in batch:
            pipe.get(k)
            pipe.ttl(k)
        res = pipe.execute()
        for k, v, ttl in zip(batch, res[0::2], res[1::2]):
            if v is None:
                continue
            d = pickle.loads(v)
            out.write(json.dumps({"key": k[len(PREFIX):].decode(), "data": d, "ttl": ttl}) + "\n")
    out.close()


def py_delete_user(r, user):
    doomed = []
    for batch in scan_batches(r):
        pipe = r.pipeline(transaction=False)
        for k in batch:
            pipe.get(k)
        for k, v in zip(batch, pipe.execute()):
            if v is not None and pickle.loads(v).get("_auth_user_id") == user:
                doomed.append(k)
    for i in range(0, len(doomed), 500):
        r.delete(*doomed[i:i + 500])
    return len(doomed)


def scan_batches(r):
    cursor = 0
    while True:
        cursor, keys = r.scan(cursor, match=PREFIX.replace("[", "\\[") + "*", count=1000)
        if keys:
            yield keys
        if cursor == 0:
            return


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def run(label, sessionctl, url, db, n, options):
    r = redis.Redis.from_url(f"{url}/{db}", **options)
    tmp = tempfile.mkdtemp(prefix="sessionctl-redis-bench-")
    cfg = os.path.join(tmp, "cfg.json")
    with open(cfg, "w") as f:
        json.dump({"SESSION_ENGINE": "cache", "SECRET_KEY": "bench-secret-not-used-for-cache",
                   "CACHES": {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                          "LOCATION": f"{url}/{db}", "OPTIONS": options}}}, f)
    os.chmod(cfg, 0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONCTL_")}
    tool = [sessionctl, "--config", cfg]

    print(f"[{label}] filling {n} sessions...", flush=True)
    fill(r, n)
    t_tool, _ = timed(lambda: subprocess.run(tool + ["inspect", "--all", "--json"], stdout=subprocess.DEVNULL,
                                             check=True, env=env))
    t_py, _ = timed(lambda: py_inspect(r))
    print(f"[{label}] inspect --all --json: sessionctl {t_tool:.2f}s  redis-py loop {t_py:.2f}s  "
          f"ratio {t_py / t_tool:.2f}x", flush=True)

    t_tool, _ = timed(lambda: subprocess.run(tool + ["-q", "delete", "--user", "42"], check=True, env=env))
    left = r.dbsize()
    fill(r, n)
    t_py, deleted = timed(lambda: py_delete_user(r, "42"))
    check = "same result" if r.dbsize() == left else f"DIFFERENT: {left} vs {r.dbsize()} keys left"
    print(f"[{label}] delete --user 42 ({deleted} sessions): sessionctl {t_tool:.2f}s  redis-py loop {t_py:.2f}s  "
          f"ratio {t_py / t_tool:.2f}x  ({check})", flush=True)
    r.flushdb()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessionctl", required=True)
    p.add_argument("--redis", default=os.environ.get("SESSIONCTL_TEST_REDIS", "redis://127.0.0.1:6391"))
    p.add_argument("--tls", default=os.environ.get("SESSIONCTL_TEST_REDIS_TLS"),
                   help="a rediss:// server to run the same benchmark on (default $SESSIONCTL_TEST_REDIS_TLS)")
    certs = os.environ.get("SESSIONCTL_TEST_REDIS_TLS_CERTS")
    p.add_argument("--tls-ca", default=os.path.join(certs, "ca.crt") if certs else None,
                   help="the CA that signed the TLS server's certificate")
    p.add_argument("--db", type=int, default=11)
    p.add_argument("-n", type=int, default=100000)
    args = p.parse_args()
    run("plain", args.sessionctl, args.redis, args.db, args.n, {})
    if args.tls:
        run("tls", args.sessionctl, args.tls, args.db, args.n, {"ssl_ca_certs": args.tls_ca} if args.tls_ca else {})
    return 0


if __name__ == "__main__":
    sys.exit(main())
