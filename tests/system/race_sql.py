"""SQL databases for the race tests (races_test.py): the DATABASES entry Django
and sessionctl both get, and what django_session holds at the end (read with
sqlite3 / MySQLdb / psycopg2, not with sessionctl, so a sessionctl bug cannot
hide itself).

SQLite is a file in the run's folder. MariaDB/MySQL (SESSIONCTL_TEST_MYSQL,
Django's django.db.backends.mysql on Debian's python3-mysqldb) and PostgreSQL
(SESSIONCTL_TEST_PG, psycopg2) come from scripts/servers.sh: each run creates
a database of its own, sessionctl_race_<pid>_<n>, and drops it at the end
(sql_servers.py, as django_integration/test_mysql_engine.py and test_pg_engine.py).
"""

import importlib
import os
import sqlite3
from datetime import timezone

import sql_servers

ENV_VAR = {"mysql": "SESSIONCTL_TEST_MYSQL", "pg": "SESSIONCTL_TEST_PG"}
DRIVER = {"mysql": "MySQLdb", "pg": "psycopg2"}


def server_missing(kind):
    """None when the server (and its Python driver) is there; else ("SKIP"|"FAIL", reason)."""
    if kind == "sqlite":
        return None
    var = ENV_VAR[kind]
    hint = ""
    if not os.environ.get(var):
        reason, hint = f"{var} is not set", ' (eval "$(scripts/servers.sh start)" to run it)'
    else:
        try:
            importlib.import_module(DRIVER[kind])
            return None
        except ImportError as e:
            reason = f"{DRIVER[kind]} cannot be imported ({e})"
    if os.environ.get("SESSIONCTL_REQUIRE_SERVERS") == "1":
        return "FAIL", f"{reason}, but SESSIONCTL_REQUIRE_SERVERS=1 requires the {kind} engine to run"
    return "SKIP", reason + hint


def _stamp(dt):
    """An expire_date as SQLite's Django stores it (UTC, 'YYYY-MM-DD HH:MM:SS.ffffff'), to compare as text."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


class SqlDatabase:
    """One run's database: created by create(), read by rows(), dropped by drop()."""

    _runs = 0

    def __init__(self, kind, folder):
        self.kind = kind
        SqlDatabase._runs += 1
        if kind == "sqlite":
            self.name = str(folder / "db.sqlite3")
            self.settings = {"ENGINE": "django.db.backends.sqlite3", "NAME": self.name, "OPTIONS": {"timeout": 10}}
        else:
            self.url = os.environ[ENV_VAR[kind]]
            self.name = f"sessionctl_race_{os.getpid()}_{SqlDatabase._runs}"
            self.settings = sql_servers.database_settings(kind, self.url, self.name)
        self.created = False

    def create(self):
        """The empty database (SQLite: nothing to do, Django's migrate creates the file)."""
        if self.kind != "sqlite":
            sql_servers.create_database(self.kind, self.url, self.name)
        self.created = True

    def drop(self):
        if self.created and self.kind != "sqlite":  # the SQLite file goes with the run's folder
            sql_servers.drop_database(self.kind, self.url, self.name)

    def rows(self):
        """{key: expire_date as UTC text} of django_session."""
        if self.kind == "sqlite":
            con = sqlite3.connect(self.name, timeout=30)
        else:
            con = sql_servers.connect(self.kind, self.url, self.name)
        try:
            cur = con.cursor()
            cur.execute("SELECT session_key, expire_date FROM django_session")
            if self.kind == "sqlite":  # already text, as Django wrote it
                return dict(cur.fetchall())
            # MySQL: DATETIME(6) holding UTC (USE_TZ), read naive; PostgreSQL: timestamptz, read aware.
            return {k: _stamp(e) for k, e in cur.fetchall()}
        finally:
            con.close()
