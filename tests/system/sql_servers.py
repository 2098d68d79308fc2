"""The SQL servers the tests share (scripts/servers.sh): MariaDB/MySQL at
SESSIONCTL_TEST_MYSQL (reached with Debian's python3-mysqldb) and PostgreSQL at
SESSIONCTL_TEST_PG (psycopg2). A test process creates a database of its own on
one, points Django and sessionctl at it (database_settings) and drops it at the
end. No Django here: race_sql.py uses it before any Django is set up.

kind is "mysql" or "pg"; url is the server's URL (scheme://user[:password]@host:port[/db]).
"""

import urllib.parse

DJANGO_BACKEND = {"mysql": "django.db.backends.mysql", "pg": "django.db.backends.postgresql"}
_DEFAULTS = {"mysql": (3306, "root"), "pg": (5432, "postgres")}  # port, user when the URL names none


def server_parts(kind, url):
    """HOST, PORT, USER, PASSWORD of url, as Django's DATABASES spells them."""
    u = urllib.parse.urlsplit(url)
    port, user = _DEFAULTS[kind]
    return dict(HOST=u.hostname or "127.0.0.1", PORT=str(u.port or port),
                USER=urllib.parse.unquote(u.username or user), PASSWORD=urllib.parse.unquote(u.password or ""))


def connect(kind, url, dbname=None):
    """An autocommit connection to the server (PostgreSQL: database dbname or "postgres";
    MySQL: dbname or none)."""
    p = server_parts(kind, url)
    if kind == "mysql":
        import MySQLdb
        con = MySQLdb.connect(host=p["HOST"], port=int(p["PORT"]), user=p["USER"], password=p["PASSWORD"],
                              **({"database": dbname} if dbname else {}))
        con.autocommit(True)
    else:
        import psycopg2
        con = psycopg2.connect(host=p["HOST"], port=p["PORT"], user=p["USER"], password=p["PASSWORD"] or None,
                               dbname=dbname or "postgres")
        con.autocommit = True
    return con


def admin(kind, url, *statements):
    """Run statements (CREATE/DROP DATABASE ...) on a connection of their own."""
    con = connect(kind, url)
    try:
        cur = con.cursor()
        for s in statements:
            cur.execute(s)
        cur.close()
    finally:
        con.close()


def create_database(kind, url, name):
    """An empty database `name` (dropped first if a previous run left it)."""
    if kind == "mysql":
        admin(kind, url, f"DROP DATABASE IF EXISTS `{name}`", f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    else:
        admin(kind, url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')


def drop_database(kind, url, name):
    """Drop `name`; on PostgreSQL even with connections still open (WITH (FORCE))."""
    if kind == "mysql":
        admin(kind, url, f"DROP DATABASE IF EXISTS `{name}`")
    else:
        admin(kind, url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_settings(kind, url, name, **override):
    """The DATABASES entry of database `name` on the server, for Django and sessionctl alike."""
    return dict({"ENGINE": DJANGO_BACKEND[kind], "NAME": name, **server_parts(kind, url)}, **override)
