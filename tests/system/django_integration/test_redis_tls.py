#!/usr/bin/python3
"""Real-Django integration tests of sessionctl over rediss:// (TLS): Django's
RedisCache (Django >= 4.0) and django-redis, both directions, delete --user,
and the verification failures (wrong CA, expired certificate, hostname
mismatch: exit 3 with the reason; ssl_cert_reqs none connects).

    PYTHONPATH=... /usr/bin/python3 tests/system/django_integration/test_redis_tls.py \
        --sessionctl PATH --django 5.2 [-k SUBSTRING] [--keep]

Needs the TLS-only Redis of scripts/servers.sh (SESSIONCTL_TEST_REDIS_TLS, with
the test CA and certificates in SESSIONCTL_TEST_REDIS_TLS_CERTS); without it every
test SKIPs, unless SESSIONCTL_REQUIRE_SERVERS=1. The failure cases start private
TLS redis-servers presenting the expired and wrong-name certificates.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/system: djangoharness
sys.path.insert(0, str(Path(__file__).resolve().parent))  # test_cache_engines: the Redis tests reused
import djangoharness as h  # noqa: E402
from djangoharness import check, check_eq, fail  # noqa: E402
import test_cache_engines as redis_tests  # noqa: E402
from test_cache_engines import CACHE_ENGINE, CACHED_DB_ENGINE, DB, DJANGO_REDIS, REDIS_CACHE  # noqa: E402

TLS_URL = os.environ.get("SESSIONCTL_TEST_REDIS_TLS", "").rstrip("/")
CERTS = Path(os.environ.get("SESSIONCTL_TEST_REDIS_TLS_CERTS", "/nonexistent"))

TESTS = h.Tests()


def tls_options(backend, **ssl):
    """The ssl_* keyword arguments where each backend takes them: RedisCache's
    OPTIONS, django-redis's OPTIONS.CONNECTION_POOL_KWARGS."""
    ssl = {"ssl_ca_certs": str(CERTS / "ca.crt"), **ssl}
    return ssl if backend == REDIS_CACHE else {"CONNECTION_POOL_KWARGS": ssl}


class TlsCase(redis_tests.CacheCase):
    def caches_for(self, url, options=None):
        return super().caches_for(url, options if options is not None else tls_options(self.backend))

    def redis(self):
        import redis
        return redis.Redis.from_url(f"{self.redis_url}/{DB}", ssl_ca_certs=str(CERTS / "ca.crt"))


def both_backends(fn, engines=(CACHE_ENGINE,)):
    for backend in (REDIS_CACHE, DJANGO_REDIS):
        for engine in engines:
            suffix = "_tls_redis" if backend == REDIS_CACHE else "_tls_djredis"
            suffix += "_cached_db" if engine == CACHED_DB_ENGINE else ""
            TESTS.add(fn, suffix, backend=backend, engine=engine)
    return fn


# Django writes and sessionctl reads, sessionctl writes and Django reads,
# delete --user logs a client out: the plain-Redis tests, over TLS.
both_backends(redis_tests.test_django_writes_sessionctl_reads, engines=(CACHE_ENGINE, CACHED_DB_ENGINE))
both_backends(redis_tests.test_sessionctl_writes_django_reads)
both_backends(redis_tests.test_delete_user_logs_client_out)


@both_backends
def test_url_query_settings(c):
    # The settings may sit in LOCATION's query string instead (redis-py reads them there).
    s = c.store()
    s["q"] = 1
    s.save()
    from urllib.parse import quote
    url = f"{c.redis_url}/{DB}?ssl_cert_reqs=required&ssl_ca_certs={quote(str(CERTS / 'ca.crt'), safe='')}"
    cfg = c.cache_config("query.json", caches={"default": {"BACKEND": c.backend, "LOCATION": url,
                                                           "KEY_PREFIX": c.prefix}})
    rec = c.sessionctl("inspect", s.session_key, "--json", config=cfg).ok().json_lines()[0]
    check_eq(rec["data"], {"q": 1}, "read through a query-string configured rediss://")


def private_config(c, server, **ssl):
    # A short connect timeout: a plain server never answers a TLS handshake.
    options = {**tls_options(c.backend, **ssl), "socket_connect_timeout": 0.5}
    return c.cache_config(f"private-{server.port}.json", caches={"default": {
        "BACKEND": c.backend, "LOCATION": f"rediss://localhost:{server.port}/0", "KEY_PREFIX": c.prefix,
        "OPTIONS": options}})


@both_backends
def test_verification_failures_exit_3_with_the_reason(c):
    cfg = c.cache_config("wrong-ca.json", caches=c.caches_for(c.redis_url, tls_options(
        c.backend, ssl_ca_certs=str(CERTS / "other-ca.crt"))))
    c.sessionctl("inspect", "--all", config=cfg).expect_error(3, "certificate not trusted")
    with PrivateTlsRedis("expired") as server:
        c.sessionctl("inspect", "--all", config=private_config(c, server)).expect_error(
            3, "certificate expired", "2020")
    with PrivateTlsRedis("wronghost") as server:
        c.sessionctl("inspect", "--all", config=private_config(c, server)).expect_error(3, "hostname mismatch")
        # redis-py's switch for just this check
        c.sessionctl("inspect", "--all", config=private_config(c, server, ssl_check_hostname=False)).ok()
    # rediss:// to a plain port: a handshake failure, not a hang.
    with redis_tests.PrivateRedis() as plain:
        c.sessionctl("inspect", "--all", config=private_config(c, plain)).expect_error(3, "TLS handshake", "timed out")


@both_backends
def test_cert_reqs_none_connects_without_the_ca(c):
    s = c.store()
    s["unverified"] = True
    s.save()
    for reqs in ("none", None):
        cfg = c.cache_config(f"none-{reqs}.json", caches=c.caches_for(c.redis_url, tls_options(
            c.backend, ssl_ca_certs=str(CERTS / "other-ca.crt"), ssl_cert_reqs=reqs)))
        rec = c.sessionctl("inspect", s.session_key, "--json", config=cfg).ok().json_lines()[0]
        check_eq(rec["data"], {"unverified": True}, f"read with ssl_cert_reqs {reqs!r}")


class PrivateTlsRedis:
    """A TLS-only redis-server presenting CERTS/<name>.crt."""

    def __init__(self, name):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.dir = tempfile.mkdtemp(prefix="sessionctl-redis-tls-")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--tls-cert-file", str(CERTS / f"{name}.crt"),
             "--tls-key-file", str(CERTS / f"{name}.key"), "--tls-ca-cert-file", str(CERTS / "ca.crt"),
             "--tls-auth-clients", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        self.__exit__()
        fail("private TLS redis-server did not start")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def why_no_server(t):
    if not TLS_URL:
        return "SESSIONCTL_TEST_REDIS_TLS is not set"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    return None


if __name__ == "__main__":
    sys.exit(h.run_module(
        __doc__, TESTS, why_skip=redis_tests.why_skip, why_no_server=why_no_server,
        make_case=lambda t, keep: TlsCase(t["name"], t["backend"], t["engine"], TLS_URL or None, keep=keep)))
