#!/usr/bin/python3
"""Real-Django integration tests of sessionctl behind Redis Sentinel, configured
as django-redis's SentinelClient (LOCATION redis://SERVICE/DB, OPTIONS.SENTINELS,
SENTINEL_KWARGS): both directions and delete --user; a `SENTINEL failover`
between two runs is followed (writes land on the new primary); one sentinel
down is tolerated, all down is exit 3.

    PYTHONPATH=... /usr/bin/python3 tests/system/django_integration/test_redis_sentinel.py \
        --sessionctl PATH --django 5.2 [-k SUBSTRING] [--keep]

Starts its own primary, replica and three sentinels (redis-server,
redis-sentinel) on free loopback ports, with short down-after and failover
timeouts; without those programs every test SKIPs, unless
SESSIONCTL_REQUIRE_SERVERS=1, where they FAIL.
"""

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
from test_cache_engines import CACHE_ENGINE, DB, DJANGO_REDIS  # noqa: E402

SERVICE = "sessionctl-primary"
SENTINEL_PASSWORD = "sentinel-test-pw"  # a test-only password of a test-only server
TESTS = h.Tests()
GROUP = None  # the SentinelGroup of this run, started before the first test


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(what, predicate, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.1)
    fail(f"timed out waiting for {what}")


class SentinelGroup:
    """A primary, its replica and three sentinels (quorum 2) that need a password."""

    def __init__(self):
        import redis
        self.redis = redis
        self.dir = Path(tempfile.mkdtemp(prefix="sessionctl-sentinel-"))
        self.procs = {}
        self.ports = [free_port(), free_port()]
        self.start_server("primary", self.ports[0])
        self.start_server("replica", self.ports[1], "--replicaof", "127.0.0.1", str(self.ports[0]))
        wait_until("the replica to sync", lambda: self.client(self.ports[1]).info("replication")
                   ["master_link_status"] == "up")
        self.sentinel_ports = [free_port() for _ in range(3)]
        for i, port in enumerate(self.sentinel_ports):
            conf = self.dir / f"sentinel-{i}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.dir}\nrequirepass {SENTINEL_PASSWORD}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.ports[0]} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 4000\n")
            self.procs[f"sentinel-{i}"] = subprocess.Popen(
                ["redis-sentinel", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for port in self.sentinel_ports:
            wait_until("a sentinel to see the replica", lambda p=port: any(
                r["port"] == self.ports[1] and "disconnected" not in r["flags"]
                for r in self.sentinel(p).sentinel_slaves(SERVICE)))

    def start_server(self, name, port, *extra):
        self.procs[name] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--dbfilename", f"{name}.rdb", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(f"redis-server {name}", lambda: self.client(port).ping())

    def client(self, port, db=0):
        return self.redis.Redis(port=port, db=db, socket_timeout=2)

    def sentinel(self, port):
        return self.redis.Redis(port=port, password=SENTINEL_PASSWORD, socket_timeout=2)

    def live_sentinels(self):
        return [p for i, p in enumerate(self.sentinel_ports) if self.procs[f"sentinel-{i}"].poll() is None]

    def primary_port(self):
        return int(self.sentinel(self.live_sentinels()[0]).sentinel_get_master_addr_by_name(SERVICE)[1])

    def failover(self):
        """SENTINEL failover, then waits until every live sentinel names the new
        primary and it says so itself."""
        old = self.primary_port()
        new = self.ports[1] if old == self.ports[0] else self.ports[0]
        wait_until("SENTINEL failover to be accepted", lambda: self.sentinel(
            self.live_sentinels()[0]).execute_command("SENTINEL", "FAILOVER", SERVICE))
        wait_until("the sentinels to name the new primary", lambda: all(
            int(self.sentinel(p).sentinel_get_master_addr_by_name(SERVICE)[1]) == new
            for p in self.live_sentinels()))
        wait_until("the new primary", lambda: self.client(new).execute_command("ROLE")[0] == b"master")
        return old, new

    def stop_sentinel(self, i):
        proc = self.procs[f"sentinel-{i}"]
        proc.kill()
        proc.wait()

    def start_sentinel(self, i):
        if self.procs[f"sentinel-{i}"].poll() is not None:
            self.procs[f"sentinel-{i}"] = subprocess.Popen(
                ["redis-sentinel", str(self.dir / f"sentinel-{i}.conf")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_until("a sentinel to restart", lambda: self.sentinel(self.sentinel_ports[i]).ping())

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class SentinelCase(redis_tests.CacheCase):
    def __init__(self, name, keep=False):
        super().__init__(name, DJANGO_REDIS, CACHE_ENGINE, "sentinel", keep=keep)

    def caches_for(self, url, options=None):
        return {"default": {
            "BACKEND": DJANGO_REDIS, "LOCATION": f"redis://{SERVICE}/{DB}", "KEY_PREFIX": self.prefix,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.SentinelClient",
                "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                "SENTINELS": [["127.0.0.1", p] for p in GROUP.sentinel_ports],
                "SENTINEL_KWARGS": {"password": SENTINEL_PASSWORD, "socket_timeout": 1},
                "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 2, **(options or {})}}}

    def __enter__(self):
        # django-redis before 5.3 reads the factory only from this setting
        # (OPTIONS.CONNECTION_FACTORY is 5.3's); sessionctl needs neither.
        from django.test.utils import override_settings
        self._factory = override_settings(DJANGO_REDIS_CONNECTION_FACTORY="django_redis.pool.SentinelConnectionFactory")
        self._factory.enable()
        return super().__enter__()

    def __exit__(self, exc_type, exc, tb):
        try:
            return super().__exit__(exc_type, exc, tb)
        finally:
            self._factory.disable()

    def redis(self):
        return GROUP.client(GROUP.primary_port(), DB)

    def store(self, key=None):
        # django-redis keeps its pools for the whole process, and a pooled
        # connection to the old primary stays in use after a failover (the old
        # primary takes writes until the sentinels demote it): start afresh.
        from django.core.cache import caches
        from django_redis.pool import ConnectionFactory
        ConnectionFactory._pools.clear()
        client = caches["default"].client
        client._clients = [None] * len(client._server)
        return super().store(key)


def test(fn):
    TESTS.add(fn, "_sentinel")
    return fn


test(redis_tests.test_django_writes_sessionctl_reads)
test(redis_tests.test_sessionctl_writes_django_reads)
test(redis_tests.test_delete_user_logs_client_out)


@test
def test_follows_a_failover_between_runs(c):
    s = c.store()
    s["before"] = "failover"
    s.save()
    check_eq(c.sessionctl("inspect", s.session_key, "--json").ok().json_lines()[0]["data"], {"before": "failover"},
             "read before the failover")
    old, new = GROUP.failover()
    rec = c.sessionctl("inspect", s.session_key, "--json").ok().json_lines()[0]
    check_eq(rec["data"], {"before": "failover"}, "read from the new primary")
    key = c.sessionctl("create", "--data", '{"after": 1}', "--json").ok().json()["key"]
    check(GROUP.client(new, DB).get(c.full_key(key)) is not None, "the write did not land on the new primary")
    # django-redis reads from a replica: the old primary, once the sentinels
    # have demoted it (some seconds after the switch) and it has synced.
    wait_until("the old primary to rejoin as a replica", lambda: GROUP.client(old).info("replication")
               .get("master_link_status") == "up" and GROUP.client(old, DB).get(c.full_key(key)) is not None, 40)
    check_eq(dict(c.store(key).load()), {"after": 1}, "Django (through Sentinel) reads the new session")
    c.sessionctl("delete", key).ok()
    check(GROUP.client(new, DB).get(c.full_key(key)) is None, "delete did not reach the new primary")


@test
def test_one_sentinel_down_is_tolerated_all_down_is_exit_3(c):
    s = c.store()
    s["x"] = 1
    s.save()
    try:
        GROUP.stop_sentinel(0)  # the first one asked
        check_eq(c.sessionctl("inspect", "--all", "--keys-only").ok().out.split(), [s.session_key],
                 "inspect --all with the first sentinel down")
        key = c.sessionctl("create", "--data", "{}", "--json").ok().json()["key"]
        check(c.redis().get(c.full_key(key)) is not None, "create with the first sentinel down")
        GROUP.stop_sentinel(1)
        GROUP.stop_sentinel(2)
        r = c.sessionctl("inspect", "--all").expect_error(3, "sentinel")
        check(SENTINEL_PASSWORD not in r.out + r.err, "the sentinel password appears in the output")
    finally:
        for i in range(3):
            GROUP.start_sentinel(i)
        wait_until("the sentinels to answer", lambda: all(
            GROUP.sentinel(p).sentinel_get_master_addr_by_name(SERVICE) for p in GROUP.sentinel_ports))


@test
def test_failover_during_bulk_delete_exit_3_rerun_finishes(c):
    # The primary holds writes (CLIENT PAUSE WRITE) so the delete is certain to
    # be under way, connected to it, when the failover happens.
    import pickle
    if h.django_version()[:2] != (5, 2):
        h.note("runs on Django 5.2 only (no Django code involved; saves CI time)")
        return
    n = 3000
    primary = GROUP.client(GROUP.primary_port(), DB)
    value = pickle.dumps({"_auth_user_id": "7", "pad": "x" * 100}, pickle.HIGHEST_PROTOCOL)
    pipe = primary.pipeline(transaction=False)
    for i in range(n):
        pipe.set(c.full_key(f"{i:032d}"), value, ex=3600)
    pipe.execute()
    cfg = c.cache_config("slow.json", caches=c.caches_for(None, {"SOCKET_TIMEOUT": 30}))
    primary.execute_command("CLIENT", "PAUSE", 30000, "WRITE")
    try:
        proc = c.start_sessionctl("delete", "--user", "7", "--json", config=cfg)
        wait_until("sessionctl to read from the primary", lambda: any(
            cl.get("cmd") in ("mget", "scan", "eval") for cl in primary.client_list()))
        GROUP.failover()
    finally:
        primary.execute_command("CLIENT", "UNPAUSE")
    out, err = proc.communicate(timeout=60)
    err = err.decode()
    check_eq(proc.returncode, 3, f"exit status (stderr: {err[:400]})")
    check("failover" in err and f"of {n} sessions were deleted before that" in err,
          f"stderr does not say what happened and what was done: {err[:400]!r}")
    h.note(err.strip())
    r = c.sessionctl("delete", "--user", "7", "--json").ok()
    check_eq(r.json()["deleted"], n, "the rerun deletes every session the new primary holds")
    check_eq(list(c.redis().scan_iter(match=c.prefix + ":*")), [], "sessions left on the new primary")


@test
def test_wrong_sentinel_password_exit_3(c):
    caches = c.caches_for(None)
    caches["default"]["OPTIONS"]["SENTINEL_KWARGS"] = {"password": "not-the-sentinel-pw"}
    r = c.sessionctl("inspect", "--all", config=c.cache_config("bad.json", caches=caches)).expect_error(3)
    check("not-the-sentinel-pw" not in r.out + r.err, "the password appears in the output")


def why_no_server(_t):
    for program in ("redis-server", "redis-sentinel"):
        if shutil.which(program) is None:
            return f"{program} is not installed"
    return None


def setup(sessionctl):
    global GROUP
    version = h.setup_django(sessionctl)
    if why_no_server(None) is None:
        GROUP = SentinelGroup()
    return version


def teardown():
    if GROUP:
        GROUP.stop()


if __name__ == "__main__":
    sys.exit(h.run_module(__doc__, TESTS, setup=setup, teardown=teardown, why_no_server=why_no_server,
                          make_case=lambda t, keep: SentinelCase(t["name"], keep=keep)))
