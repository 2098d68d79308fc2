"""What bench/pg_bench.py and bench/mysql_bench.py share: the site's writer that runs
beside each cleanup, sessionctl's config and runs, the server's CPU time, and the
clearsessions rounds (Django, then sessionctl, each on a fresh copy of one table).

Wall time on a shared 2-core machine swings with whatever else runs; the server's CPU
time (its processes' user + system time, read from /proc: the bench and the server
share the machine) is the work each side made the server do, and swings much less.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HZ = os.sysconf("SC_CLK_TCK")


def process_cpu(pid, children=False):
    """CPU seconds `pid` has used (all its threads); with children, also those of its
    children, running ones and those it has reaped."""
    def stat(p):
        with open(f"/proc/{p}/stat") as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])

    _, own, reaped = stat(pid)
    total = own + (reaped if children else 0)
    if children:
        for p in os.listdir("/proc"):
            if p.isdigit() and int(p) != pid:
                try:
                    ppid, t, _ = stat(p)
                except (OSError, IndexError):
                    continue
                if ppid == pid:
                    total += t
    return total / HZ


class Writer(threading.Thread):
    """A site's writes during a cleanup: new sessions and updates of live ones, one
    autocommit statement each, expiring at `later` (the server's SQL for two weeks from
    now); records the longest one."""

    def __init__(self, connect, later, live_keys):
        super().__init__(daemon=True)
        self.connect, self.later, self.live = connect, later, live_keys
        self.stop = threading.Event()
        self.longest = 0.0
        self.writes = 0
        self.error = None

    def run(self):
        import random
        try:
            con = self.connect()
            cur = con.cursor()
            n = 0
            while not self.stop.is_set():
                t = time.monotonic()
                if n % 2:
                    cur.execute(f"INSERT INTO django_session VALUES (%s, 'e30:1ruzA4:x', {self.later})",
                                [f"writer{os.getpid()}{n:012d}"])
                else:
                    cur.execute(f"UPDATE django_session SET expire_date = {self.later} WHERE session_key = %s",
                                [random.choice(self.live)])
                self.longest = max(self.longest, time.monotonic() - t)
                self.writes += 1
                n += 1
                time.sleep(0.005)
            con.close()
        except Exception as e:  # noqa: BLE001
            self.error = f"{type(e).__name__}: {e}"


class Sessionctl:
    """sessionctl with a config (mode 600, secret in a file) for `database`."""

    def __init__(self, binary, secret, database, prefix):
        self.binary = binary
        tmp = tempfile.mkdtemp(prefix=prefix)
        secret_file = os.path.join(tmp, "secret")
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, secret.encode())
        os.close(fd)
        self.config = os.path.join(tmp, "sessionctl.json")
        fd = os.open(self.config, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, json.dumps({"SECRET_KEY_FILE": secret_file, "USE_TZ": True, "TIME_ZONE": "UTC",
                                 "DATABASES": {"default": database}}).encode())
        os.close(fd)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONCTL_")}

    def __call__(self, *argv):
        t = time.monotonic()
        r = subprocess.run([self.binary, "--config", self.config, *argv], capture_output=True, text=True,
                           env=self.env)
        if r.returncode not in (0, 1):
            sys.exit(f"sessionctl {argv} exited {r.returncode}: {r.stderr}")
        return time.monotonic() - t, r.stdout


def load():
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def clearsessions_rounds(rounds, reset, keys_left, new_writer, django_clearsessions, sessionctl, server_cpu,
                         settle=None):
    """Django's clearsessions, then sessionctl's default and (first round only)
    --one-transaction, each on a fresh copy (reset()) while a writer runs; prints
    each one's wall time, the server CPU it cost, the writer's longest statement and
    whether the rows left agree. settle(), when given, waits for the server's
    deferred work (InnoDB's purge of the deleted rows) and is timed too: the work is
    then the same whichever side defers it."""

    def measured(fn):
        w = new_writer()
        cpu0 = server_cpu()
        w.start()
        try:
            t = time.monotonic()
            fn()
            wall = time.monotonic() - t
        finally:
            w.stop.set()
            w.join()
        if w.error:
            print(f"  the writer failed: {w.error}", flush=True)
        cpu = server_cpu() - cpu0
        line = (f"{wall:.2f}s, server CPU {cpu:.2f}s (writer's longest statement {w.longest * 1000:.0f} ms, "
                f"{w.writes} writes; {load()})")
        if settle:
            t = time.monotonic()
            settle()
            line += (f"; until purged {wall + time.monotonic() - t:.2f}s, server CPU "
                     f"{server_cpu() - cpu0:.2f}s")
        return wall, line

    for round_ in range(rounds):
        reset()
        django_s, line = measured(django_clearsessions)
        left_django = keys_left()
        print(f"clearsessions: Django {line}", flush=True)
        for label, argv in (("sessionctl", ["clearsessions"]),
                            ("sessionctl --one-transaction", ["clearsessions", "--one-transaction"])):
            if round_ and "--one-transaction" in argv:
                continue
            reset()
            ours_s, line = measured(lambda: sessionctl(*argv))
            agree = keys_left() == left_django
            print(f"clearsessions: {label} {line}; {ours_s / django_s:.2f}x Django's time, results "
                  f"{'agree' if agree else 'DIFFER'}", flush=True)
