#!/usr/bin/python3
"""Real-Django tests of `sessionctl copy`: a client logged in on each source engine
(db on SQLite, db on PostgreSQL, db on MariaDB, file, cache on Redis, cached_db) is still logged in
after `copy --to` each other engine and Django switching SESSION_ENGINE; the data
and expiry read back through Django on the target are the source's; the source is
unchanged. Plus a copy to a site with another SECRET_KEY (logins re-hashed from the
user table), and cached_db's cached copies whose row is gone.

    PYTHONPATH=... /usr/bin/python3 tests/system/django_integration/test_copy.py \
        --sessionctl PATH --django 5.2 [-k SUBSTRING] [--keep]

One process per Django version loops over every (source, target) pair. Django
keeps its user table in the case's SQLite file; a database router sends the
sessions app to the alias the engine under test uses ('default' SQLite, 'pg' or
'my', this process's own PostgreSQL and MariaDB databases, created and dropped here). Redis is
SESSIONCTL_TEST_REDIS db 6 with a KEY_PREFIX per case (RedisCache; django-redis
on 3.2). Pairs needing a server that is not there SKIP, or FAIL under
SESSIONCTL_REQUIRE_SERVERS=1. Prints PASS/FAIL/SKIP lines and `RESULT <passed> <failed>`.
"""

import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/system: djangoharness
import djangoharness as h  # noqa: E402
import sql_servers  # noqa: E402
from djangoharness import Case, check, check_eq, fail  # noqa: E402

REDIS_URL = os.environ.get("SESSIONCTL_TEST_REDIS", "").rstrip("/")
PG_URL = os.environ.get("SESSIONCTL_TEST_PG", "")
REDIS_DB = 6
MYSQL_URL = os.environ.get("SESSIONCTL_TEST_MYSQL", "")


MYSQL_PROBLEM = h.mysql_client_problem() if MYSQL_URL else None
MYSQL_USABLE = bool(MYSQL_URL) and MYSQL_PROBLEM is None
PG_DBNAME = f"sessionctl_copy_{os.getpid()}"
MY_DBNAME = PG_DBNAME
ENGINES = ("db", "pg", "mysql", "file", "cache", "cached_db")
DB_ENGINES = ("db", "pg", "mysql", "cached_db")
MODULES = {"db": "django.contrib.sessions.backends.db", "pg": "django.contrib.sessions.backends.db",
           "mysql": "django.contrib.sessions.backends.db",
           "file": "django.contrib.sessions.backends.file", "cache": "django.contrib.sessions.backends.cache",
           "cached_db": "django.contrib.sessions.backends.cached_db"}
NEEDS = {"pg": "pg", "mysql": "mysql", "cache": "redis", "cached_db": "redis"}
ALIASES = {"pg": "pg", "mysql": "my", "cached_db": "cdb"}

# The alias the sessions app reads and writes (SessionRouter).
SESSION_DB = {"alias": "default"}


class SessionRouter:
    def db_for_read(self, model, **hints):
        return SESSION_DB["alias"] if model._meta.app_label == "sessions" else None

    db_for_write = db_for_read

    def allow_migrate(self, db, app_label, **hints):
        return app_label == "sessions" if db in ("pg", "my", "cdb") else None


TESTS = h.Tests()


def pg_database():
    return sql_servers.database_settings("pg", PG_URL, PG_DBNAME)


def my_database():
    return sql_servers.database_settings("mysql", MYSQL_URL, MY_DBNAME)


def setup(sessionctl_path):
    got = h.setup_django(sessionctl_path)
    # cached_db's table: a SQLite file of its own per case (CopyCase).
    h.add_database("cdb", {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"})
    if PG_URL:
        sql_servers.create_database("pg", PG_URL, PG_DBNAME)
        h.add_database("pg", pg_database())
    if MYSQL_USABLE:
        sql_servers.create_database("mysql", MYSQL_URL, MY_DBNAME)
        h.add_database("my", my_database())
    from django.core.management import call_command
    from django.db import router
    router.routers = [SessionRouter()]
    if PG_URL:
        call_command("migrate", "sessions", database="pg", verbosity=0, interactive=False)
    if MYSQL_USABLE:
        call_command("migrate", "sessions", database="my", verbosity=0, interactive=False)
    return got


def teardown():
    from django.db import connections
    connections.close_all()
    if MYSQL_USABLE:
        sql_servers.drop_database("mysql", MYSQL_URL, MY_DBNAME)
    if PG_URL:
        sql_servers.drop_database("pg", PG_URL, PG_DBNAME)


def cache_backend():
    return ("django.core.cache.backends.redis.RedisCache" if h.django_version() >= (4, 0)
            else "django_redis.cache.RedisCache")


class CopyCase(Case):
    """A Case with one store of each engine: its own session directory, Redis key
    prefix, and (emptied) PostgreSQL session table."""

    def __enter__(self):
        super().__enter__()
        self.prefix = f"cp-{uuid.uuid4().hex[:12]}"
        self.files = self.tmp / "sessions"
        self.files.mkdir()
        self.cdb = self.tmp / "cached_db.sqlite3"
        from django.core.management import call_command
        from django.db import connections
        connections["cdb"].close()
        connections["cdb"].settings_dict["NAME"] = str(self.cdb)
        call_command("migrate", "sessions", database="cdb", verbosity=0, interactive=False)
        if PG_URL:
            from django.db import connections
            with connections["pg"].cursor() as cur:
                cur.execute("TRUNCATE django_session")
        if MYSQL_USABLE:
            from django.db import connections
            with connections["my"].cursor() as cur:
                cur.execute("DELETE FROM django_session")
        return self

    def __exit__(self, exc_type, exc, tb):
        if REDIS_URL:
            try:
                r = self.redis()
                keys = list(r.scan_iter(match=self.prefix + "*", count=1000))
                if keys:
                    r.delete(*keys)
            except Exception:  # noqa: BLE001 - cleanup only
                pass
        SESSION_DB["alias"] = "default"
        from django.db import connections
        connections["cdb"].close()
        connections["cdb"].settings_dict["NAME"] = ":memory:"
        return super().__exit__(exc_type, exc, tb)

    def redis(self):
        import redis
        return redis.Redis.from_url(f"{REDIS_URL}/{REDIS_DB}")

    def key_prefix(self, engine):
        return f"{self.prefix}-{engine}"

    def caches(self, engine):
        return {"default": {"BACKEND": cache_backend(), "LOCATION": f"{REDIS_URL}/{REDIS_DB}",
                            "KEY_PREFIX": self.key_prefix(engine)}}

    def django_settings(self, engine, secret=None, files=None):
        """override_settings() arguments making Django use `engine`'s store."""
        kw = {"SESSION_ENGINE": MODULES[engine], "SESSION_FILE_PATH": str(files or self.files),
              "SECRET_KEY": secret or self.secret}
        if REDIS_URL:
            kw["CACHES"] = self.caches(engine)
        return kw

    def engine_config(self, engine, name, secret_file=None, files=None, extra=None):
        """The sessionctl config of `engine`'s store."""
        cfg = {"SESSION_ENGINE": MODULES[engine]}
        if engine == "pg":
            cfg["DATABASES"] = {"default": pg_database()}
        elif engine == "mysql":
            cfg["DATABASES"] = {"default": my_database()}
        elif engine in ("db", "cached_db"):
            db = self.db if engine == "db" else self.cdb
            cfg["DATABASES"] = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db)}}
        if engine == "file":
            cfg["SESSION_FILE_PATH"] = str(files or self.files)
        if engine in ("cache", "cached_db"):
            cfg["CACHES"] = self.caches(engine)
        cfg.update(extra or {})
        return self.write_config(name, secret_file=secret_file, extra=cfg, drop=("DATABASES",))

    def use(self, engine, **kw):
        """A context: Django on `engine`'s store."""
        SESSION_DB["alias"] = ALIASES.get(engine, "default")
        forget_storage_path()
        return self.settings(**self.django_settings(engine, **kw))


def forget_storage_path():
    from django.contrib.sessions.backends.file import SessionStore
    if "_storage_path" in SessionStore.__dict__:
        del SessionStore._storage_path


def store(engine, key=None):
    from importlib import import_module
    return import_module(MODULES[engine]).SessionStore(key)


def stored_expiry(c, engine, key):
    """Unix time the store itself keeps for `key`, read as Django's engines do; None
    for a file whose _session_expiry is a number of seconds (Django then never
    expires it server-side: each load is `that many seconds from now`)."""
    from django.conf import settings
    if engine in DB_ENGINES:
        from django.contrib.sessions.models import Session
        return Session.objects.get(session_key=key).expire_date.timestamp()
    if engine == "file":
        if isinstance(store("file", key).load().get("_session_expiry"), int):
            return None
        st = os.stat(Path(settings.SESSION_FILE_PATH) / (settings.SESSION_COOKIE_NAME + key))
        return st.st_mtime + settings.SESSION_COOKIE_AGE
    r = c.redis()
    r.ping()
    pttl = r.pttl(f"{c.key_prefix(engine)}:1:django.contrib.sessions.cache{key}")
    check(pttl > 0, f"the cache key of {key} has no TTL ({pttl})")
    return time.time() + pttl / 1000.0


def raw_state(c, engine):
    """Everything the store holds, for 'the source is unchanged'."""
    state = {}
    if engine in DB_ENGINES:
        from django.contrib.sessions.models import Session
        state["rows"] = sorted(Session.objects.values_list("session_key", "session_data", "expire_date"))
    if engine == "file":
        state["files"] = sorted((p.name, p.read_bytes(), p.stat().st_mtime_ns) for p in c.files.iterdir())
    if engine in ("cache", "cached_db"):
        r = c.redis()
        state["cache"] = sorted((k, r.get(k)) for k in r.scan_iter(match=c.key_prefix(engine) + ":*", count=1000))
    return state


def sessionctl_json(c, *args, config):
    r = c.sessionctl("--json", *args, config=config)
    return r, (json.loads(r.out) if r.out.strip() else None)


def make_sessions(c, engine):
    """Under `engine`: alice logged in by a real client (with some data) and an
    anonymous session with its own expiry. Their keys and data, and alice's client."""
    c.make_user("alice", 41)
    client = c.client()
    check(client.login(username="alice", password="pw-alice"), "client.login(alice) failed")
    c.get(client, "/set?color=blue&n=1")
    check_eq(c.get(client, "/whoami"), "41", f"alice on {engine} before the copy")
    s = store(engine)
    s["cart"] = [1, 2, {"sku": "é"}]
    s.set_expiry(3600)
    s.save()
    alice_key = c.session_key_of(client)
    return client, {alice_key: dict(store(engine, alice_key).load()), s.session_key: dict(store(engine, s.session_key).load())}


def check_pair(c, source, target):
    with c.use(source):
        client, sessions = make_sessions(c, source)
        before = raw_state(c, source)
        expiries = {k: stored_expiry(c, source, k) for k in sessions}
    src_cfg = c.engine_config(source, f"{source}.json")
    dst_cfg = c.engine_config(target, f"{target}.json")
    t_copy = time.time()
    r, out = sessionctl_json(c, "copy", "--to", dst_cfg, config=src_cfg)
    r.ok()
    check_eq((out["matched"], out["copied"], out["skipped"], out["failed"]), (2, 2, 0, 0),
             f"copy {source} -> {target}: matched/copied/skipped/failed\n      {r.describe()}")
    with c.use(source):
        check_eq(raw_state(c, source), before, f"the {source} store after copying it")
    with c.use(target):
        for key, data in sessions.items():
            check_eq(dict(store(target, key).load()), data, f"{target}: Django's load() of {key}")
            got, want = stored_expiry(c, target, key), expiries[key]
            if want is None:  # a file's relative expiry: what Django's save() writes at copy time
                want = t_copy + data["_session_expiry"]
                if got is not None:
                    check(want - 1 <= got <= want + 3, f"{target}: expiry of {key} is {got:.6f}, "
                                                       f"copy time + _session_expiry {want:.6f}")
                continue
            if got is None:
                check_eq(data.get("_session_expiry"), 3600, f"{target}: the relative expiry of {key}")
                continue
            # Never longer than the source's (measuring a TTL costs a few ms); a
            # cache TTL loses the fraction and the time the copy took.
            check(want - 2.5 <= got <= want + 0.02,
                  f"{target}: expiry of {key} is {got:.6f}, the source's {want:.6f}")
        alice_key = c.session_key_of(client)
        fresh = c.client_with_cookie(alice_key)
        check_eq(c.get(fresh, "/whoami"), "41", f"alice after copy {source} -> {target} and the switch")
    # A second run copies nothing and changes nothing: every key is there already.
    r, out = sessionctl_json(c, "copy", "--to", dst_cfg, config=src_cfg)
    r.ok()
    check_eq((out["copied"], out["skipped_because"]["already_in_target"]), (0, 2), "a second copy")


def server_reason(*engines):
    for e in engines:
        need = NEEDS.get(e)
        if need == "pg" and not PG_URL:
            return "needs SESSIONCTL_TEST_PG"
        if need == "mysql" and not MYSQL_URL:
            return "needs SESSIONCTL_TEST_MYSQL"
        if need == "redis" and not REDIS_URL:
            return "needs SESSIONCTL_TEST_REDIS"
    return None


def pair_test(source, target):
    def fn(c):
        check_pair(c, source, target)
    fn.__name__ = f"test_copy_{source}_to_{target}"
    TESTS.add(fn, engines=(source, target))


for _s in ENGINES:
    for _t in ENGINES:
        if _s != _t:
            pair_test(_s, _t)


def test_copy_to_another_secret(c):
    """db -> file with another SECRET_KEY: the data is re-signed for the target, and
    with the user table in the target's DATABASES alice's _auth_user_hash is made
    anew with the target's key: she stays logged in. Without a user table on either
    side (file -> file, DATABASES without one) her login is reported as lost, and is; with the
    source's key in the target's SECRET_KEY_FALLBACKS (Django >= 4.1) it survives."""
    with c.use("db"):
        client, sessions = make_sessions(c, "db")
    alice_key = c.session_key_of(client)
    other = h.new_secret()
    other_file = c.write_secret_file("other_secret", other)
    src_cfg = c.engine_config("db", "db.json")
    users_db = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(c.db)}}
    dst_cfg = c.engine_config("file", "file.json", secret_file=other_file, extra={"DATABASES": users_db})
    r, out = sessionctl_json(c, "copy", "--to", dst_cfg, config=src_cfg)
    r.ok()
    check_eq((out["copied"], out["logins_lost"], out.get("auth_hashes_recomputed")), (2, 0, 1),
             f"copy to another secret with the user table\n      {r.describe()}")
    with c.use("file", secret=other):
        from django.contrib.auth import get_user_model
        want_hash = get_user_model().objects.get(pk=41).get_session_auth_hash()
        for key, data in sessions.items():
            got = dict(store("file", key).load())
            if key == alice_key:
                check_eq(got.get("_auth_user_hash"), want_hash, "alice's hash under the target's SECRET_KEY")
                check(data["_auth_user_hash"] != want_hash, "the source's hash is the target's")
                data = {**data, "_auth_user_hash": want_hash}
            check_eq(got, data, f"file (other secret): Django's load() of {key}")
        check_eq(c.get(c.client_with_cookie(alice_key), "/whoami"), "41",
                 "alice on a site with another SECRET_KEY (user table read: re-hashed, logged in)")

    # No user table on either side: the login cannot be re-hashed.
    third = h.new_secret()
    third_file = c.write_secret_file("third_secret", third)
    files3 = c.tmp / "sessions3"
    files3.mkdir()
    # (without DATABASES, sessionctl would look for db.sqlite3 next to the config: the case's)
    no_users = {"DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3",
                                          "NAME": str(c.tmp / "no-such.sqlite3")}}}
    src_nodb = c.engine_config("file", "file-nodb.json", secret_file=other_file, extra=no_users)
    dst3 = c.engine_config("file", "file3.json", secret_file=third_file, files=files3, extra=no_users)
    r, out = sessionctl_json(c, "copy", "--to", dst3, config=src_nodb)
    r.ok()
    check_eq((out["copied"], out["logins_lost"], out["auth_hashes_recomputed"]), (2, 1, 0),
             f"copy to another secret without a user table\n      {r.describe()}")
    check("will not survive" in r.err, f"no warning about lost logins\n      {r.describe()}")
    with c.use("file", secret=third, files=files3):
        for key, data in sessions.items():
            if key != alice_key:
                check_eq(dict(store("file", key).load()), data, f"file (third secret): Django's load() of {key}")
        check_eq(c.get(c.client_with_cookie(alice_key), "/whoami"), "anonymous",
                 "alice on a site with another SECRET_KEY (no user table: logged out, as reported)")
    if h.django_version() >= (4, 2):
        files2 = c.tmp / "sessions2"
        files2.mkdir()
        dst2 = c.engine_config("file", "file2.json", secret_file=other_file, files=files2,
                               extra={"SECRET_KEY_FALLBACKS": [c.secret]})
        r, out = sessionctl_json(c, "copy", "--to", dst2, config=src_cfg)
        r.ok()
        check_eq(out["logins_lost"], 0, f"logins lost with the old key as a fallback\n      {r.describe()}")
        with c.use("file", secret=other, files=files2), c.settings(SECRET_KEY_FALLBACKS=[c.secret]):
            check_eq(c.get(c.client_with_cookie(alice_key), "/whoami"), "41",
                     "alice on a site that keeps the old SECRET_KEY as a fallback")


TESTS.add(test_copy_to_another_secret, engines=("db", "file"))


def test_copy_overwrite_to_mysql(c):
    """db (SQLite) -> db (MariaDB), then alice's session changes in the source: a
    plain copy keeps the target's copy (exit 5), --overwrite replaces it, and
    Django on MariaDB serves alice the new data, still logged in."""
    with c.use("db"):
        client, sessions = make_sessions(c, "db")
    src_cfg = c.engine_config("db", "db.json")
    dst_cfg = c.engine_config("mysql", "mysql.json")
    r, out = sessionctl_json(c, "copy", "--to", dst_cfg, config=src_cfg)
    r.ok()
    with c.use("db"):
        c.get(client, "/set?color=red")
    alice_key = c.session_key_of(client)
    r, out = sessionctl_json(c, "copy", "--to", dst_cfg, config=src_cfg)
    check_eq((r.rc, out["existing_keys"] if out else None), (5, [alice_key]), f"copy again\n      {r.describe()}")
    with c.use("mysql"):
        check_eq(store("mysql", alice_key).load().get("color"), "blue", "MariaDB keeps its copy without --overwrite")
    r, out = sessionctl_json(c, "copy", "--overwrite", "--to", dst_cfg, config=src_cfg)
    r.ok()
    check_eq(out["overwritten"], 1, f"copy --overwrite\n      {r.describe()}")
    with c.use("mysql"):
        check_eq(store("mysql", alice_key).load().get("color"), "red", "MariaDB after --overwrite")
        check_eq(c.get(c.client_with_cookie(alice_key), "/whoami"), "41", "alice on MariaDB after --overwrite")


TESTS.add(test_copy_overwrite_to_mysql, engines=("db", "mysql"))

def test_copy_cached_db_cache_only(c):
    """cached_db -> db: a cached copy whose row is gone (Django's load() reads the
    cache first, so it is still a live session) is copied too, and alice, whose row
    was deleted behind Django's back, is logged in on the target."""
    with c.use("cached_db"):
        client, sessions = make_sessions(c, "cached_db")
        alice_key = c.session_key_of(client)
        from django.contrib.sessions.models import Session
        Session.objects.filter(session_key=alice_key).delete()
        check_eq(c.get(c.client_with_cookie(alice_key), "/whoami"), "41", "alice served from the cached copy")
        check(not Session.objects.filter(session_key=alice_key).exists(), "the row came back")
        before = raw_state(c, "cached_db")
    src_cfg = c.engine_config("cached_db", "cached_db.json")
    dst_cfg = c.engine_config("db", "db.json")
    r, out = sessionctl_json(c, "copy", "--to", dst_cfg, config=src_cfg)
    r.ok()
    check_eq((out["matched"], out["copied"], out.get("copied_from_cache_only")), (2, 2, 1),
             f"copy cached_db -> db: matched/copied/from the cache only\n      {r.describe()}")
    with c.use("cached_db"):
        check_eq(raw_state(c, "cached_db"), before, "the cached_db store after copying it")
    with c.use("db"):
        for key, data in sessions.items():
            check_eq(dict(store("db", key).load()), data, f"db: Django's load() of {key}")
        check_eq(c.get(c.client_with_cookie(alice_key), "/whoami"), "41", "alice after the copy and the switch")
    r, out = sessionctl_json(c, "copy", "--to", dst_cfg, config=src_cfg)
    r.ok()
    check_eq((out["copied"], out["skipped_because"]["already_in_target"]), (0, 2), "a second copy")


TESTS.add(test_copy_cached_db_cache_only, engines=("cached_db", "db"))


def why_no_server(t):
    return server_reason(*t.get("engines", ()))


def why_skip(t):
    return MYSQL_PROBLEM if "mysql" in t.get("engines", ()) else None


if __name__ == "__main__":
    sys.exit(h.run_module(__doc__, TESTS, case_class=CopyCase, setup=setup, teardown=teardown,
                          why_no_server=why_no_server, why_skip=why_skip))
