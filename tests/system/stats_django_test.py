#!/usr/bin/python3
"""`sessionctl --json stats` against Django's own count of the same store (issue 6).

    /usr/bin/python3 tests/system/stats_django_test.py --sessionctl PATH [--rows N]

A store generated with real Django (bench/gen_store.py: 60% expired, 80% logged in,
user 42 owning 25 sessions) is counted twice: by a Django loop over
Session.objects (get_decoded(), Counter; bench/django_ops.py stats) and by
sessionctl. Totals, live/expired, authenticated/anonymous/undecodable, distinct
users, the top 10 users and the size summary must be equal; so must the expiry
buckets (only sessions crossing a bucket boundary between the two runs may move).
Exit status 1 on a difference.
"""

import argparse
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "bench")
SECRET = "stats-django-test-secret-not-real-91c3"


def bench_run_module():
    """bench/run (a script without .py) as a module, for its compare_stats()."""
    loader = importlib.machinery.SourceFileLoader("bench_run", os.path.join(BENCH, "run"))
    spec = importlib.util.spec_from_loader("bench_run", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessionctl", required=True)
    ap.add_argument("--rows", type=int, default=3000)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sessionctl-stats-")
    db = os.path.join(tmp, "store.sqlite3")
    env = dict(os.environ, BENCH_DB=db, BENCH_SECRET_KEY=SECRET, TZ="UTC")
    env.pop("SESSIONCTL_CONFIG", None)
    env.pop("SESSIONCTL_SECRET_KEY", None)
    subprocess.run([sys.executable, os.path.join(BENCH, "gen_store.py"), str(args.rows), db + ".manifest.json",
                    "--jobs", "1"], env=env, check=True)
    secret_file = os.path.join(tmp, "secret_key")
    with open(secret_file, "w") as f:
        f.write(SECRET + "\n")
    os.chmod(secret_file, 0o600)
    config = os.path.join(tmp, "sessionctl.json")
    with open(config, "w") as f:
        json.dump({"SECRET_KEY_FILE": secret_file, "USE_TZ": True, "TIME_ZONE": "UTC",
                   "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}}}, f)
    django = subprocess.run([sys.executable, os.path.join(BENCH, "django_ops.py"), "stats", "10"], env=env,
                            check=True, capture_output=True, text=True)
    ours = subprocess.run([args.sessionctl, "--config", config, "--json", "stats", "--top", "10"], env=env,
                          check=True, capture_output=True, text=True)
    dj, ct = json.loads(django.stdout), json.loads(ours.stdout)
    diff = bench_run_module().compare_stats(dj, ct)
    if diff or ct["total"] != args.rows or ct["authenticated"] == 0:
        print("FAIL stats_vs_django: %s\n  django     %s\n  sessionctl %s" % (diff or "implausible totals",
                                                                          json.dumps(dj), json.dumps(ct)))
        return 1
    print("PASS stats_vs_django: %d sessions, %d live, %d authenticated, %d users, top user %s with %d"
          % (ct["total"], ct["live"], ct["authenticated"], ct["users"], ct["top_users"][0]["user_id"],
             ct["top_users"][0]["sessions"]))
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
