"""The Django project bench/run measures against: the db session engine on a
SQLite file named by $BENCH_DB, a fixed secret (the benchmark's stores are
signed with it), USE_TZ with UTC. Nothing else is installed."""

import os

SECRET_KEY = os.environ.get("BENCH_SECRET_KEY", "sessionctl-bench-not-a-real-secret-6f1c0a9e4b7d2358")
DEBUG = False
ALLOWED_HOSTS = []
INSTALLED_APPS = ["django.contrib.sessions"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_DB", "db.sqlite3"),
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
