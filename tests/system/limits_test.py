#!/usr/bin/python3
"""Decoding limits against real Django (issue 7): none refuses a session
Django would accept; a zlib bomb is refused with one clear line.

    limits_test.py --sessionctl PATH [-k SUBSTRING]

Real Django (the system python3-django, 3.2 on Python 3.11) writes, through
SessionStore.save() into an SQLite django_session table:
  - a 1 MiB session (mostly incompressible text, plus a 20,000-key dict), and
  - the deepest session it can both save and load back (nested lists; found
    by bisection, so it is Django's own RecursionError bound, ~990 levels);
sessionctl must decode both (inspect --json) to exactly what Django loads.
Then:
  - a signed zlib bomb (100 MiB of zeros in ~100 KiB) is refused by `decode`
    with exit 4 and one line naming SESSION_MAX_INFLATED_SIZE;
  - SESSION_MAX_INFLATED_SIZE (ours) is honoured both ways: set below the
    1 MiB session's size it refuses that session (exit 4); an 8 MiB payload
    is refused under 4 MiB and read under 16 MiB; 0, -1 or a string is a
    config error (exit 2).
Prints PASS/FAIL per case and "N passed, M failed"; exit 1 on any failure.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import django_signing  # noqa: E402

SECRET = "limits-test-secret-5d1c9e3b7a-never-printed-0123456789abcdefXYZ"

DJANGO_WRITER = r"""
import json, os, random, sys
import django
from django.conf import settings
settings.configure(
    SECRET_KEY=open(sys.argv[2]).read().strip(), USE_TZ=True, INSTALLED_APPS=["django.contrib.sessions"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}},
)
django.setup()
from django.core.management import call_command
from django.contrib.sessions.backends.db import SessionStore
call_command("migrate", "sessions", verbosity=0)

def save(data):
    s = SessionStore()
    s.update(data)
    s.create()
    back = SessionStore(s.session_key).load()   # Django must read it back, too
    assert back == data, "Django did not read back what it wrote"
    return s.session_key

rng = random.Random(7)
alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 éü€"
big = {"blob": "".join(rng.choice(alphabet) for _ in range(600_000)),
       "cart": {f"item{i}": [i, i * 1.5, str(i)] for i in range(20_000)},
       "_auth_user_id": "42"}
size = len(json.dumps(big, separators=(",", ":")).encode("latin-1", "backslashreplace"))
out = {"big": save(big), "big_json_bytes": size}

def nested(n):
    v = 1
    for _ in range(n - 1):   # the session dict itself is level 1
        v = [v]
    return {"deep": v}

lo, hi = 2, 1500   # Python 3.11 stops near 1000
while lo < hi:               # the deepest nesting Django saves and loads back
    mid = (lo + hi + 1) // 2
    try:
        save(nested(mid))
        lo = mid
    except RecursionError:
        hi = mid - 1
out["deep"] = save(nested(lo))
out["depth"] = lo
print(json.dumps(out))
"""


def zlib_bomb(inflated):
    """A correctly signed session value whose JSON inflates to `inflated` bytes."""
    z = zlib.compressobj(9)
    body = z.compress(b'{"a":"')
    chunk = b"0" * (1 << 20)
    for _ in range(inflated // len(chunk)):
        body += z.compress(chunk)
    body += z.compress(b'"}') + z.flush()
    return django_signing.sign("." + django_signing.b64(body), SECRET)


class Runner:
    def __init__(self, sessionctl, root, only):
        self.sessionctl = sessionctl
        self.root = root
        self.only = only
        self.passed = self.failed = 0
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONCTL_")}
        self.env["HOME"] = str(root)

    def run(self, config, *args, stdin=None):
        p = subprocess.run([self.sessionctl, "--config", str(config), *args], input=stdin, capture_output=True,
                           text=True, env=self.env, cwd=self.root, timeout=120)
        if SECRET in p.stdout or SECRET in p.stderr:
            raise AssertionError("the secret was printed")
        return p

    def case(self, name, fn):
        if self.only and self.only not in name:
            return
        try:
            line = fn()
        except Exception as e:
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        else:
            self.passed += 1
            print(f"PASS {name}: {line}", flush=True)


def one_error_line(p, code, words):
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert p.returncode == code, f"exit {p.returncode}, expected {code}: {p.stderr.strip()[:300]!r}"
    assert len(lines) == 1, f"{len(lines)} stderr lines: {p.stderr.strip()[:300]!r}"
    for w in words:
        assert w in lines[0], f"stderr does not mention {w!r}: {lines[0]!r}"
    return f"exit {p.returncode}: {lines[0]}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessionctl", required=True)
    ap.add_argument("-k", dest="only")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sessionctl-limits-"))
    try:
        db = root / "db.sqlite3"
        secret_file = root / "secret_key"
        secret_file.write_text(SECRET + "\n")
        os.chmod(secret_file, 0o600)

        def config(name, **extra):
            path = root / name
            path.write_text(json.dumps({"SECRET_KEY_FILE": str(secret_file), "USE_TZ": True, "TIME_ZONE": "UTC",
                                        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3",
                                                                  "NAME": str(db)}}, **extra}))
            os.chmod(path, 0o600)
            return path

        cfg = config("sessionctl.json")
        p = subprocess.run(["/usr/bin/python3", "-c", DJANGO_WRITER, str(db), str(secret_file)], capture_output=True,
                           text=True, timeout=300)
        if p.returncode != 0:
            print(f"FAIL django_writer: {p.stderr.strip()[-600:]}")
            return 1
        made = json.loads(p.stdout.strip().splitlines()[-1])
        rn = Runner(str(Path(args.sessionctl).resolve()), root, args.only)

        def django_data(key):
            q = ("import sys, json, django; from django.conf import settings; "
                 "settings.configure(SECRET_KEY=open(sys.argv[2]).read().strip(), INSTALLED_APPS=['django.contrib.sessions'], "
                 "DATABASES={'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': sys.argv[1]}}); django.setup(); "
                 "sys.setrecursionlimit(20000); "
                 "from django.contrib.sessions.backends.db import SessionStore; "
                 "print(json.dumps(SessionStore(sys.argv[3]).load()))")
            r = subprocess.run(["/usr/bin/python3", "-c", q, str(db), str(secret_file), key], capture_output=True,
                               text=True, timeout=120)
            assert r.returncode == 0, r.stderr[-300:]
            return json.loads(r.stdout)

        def decodes(key, what):
            def case():
                p = rn.run(cfg, "--json", "inspect", key)
                assert p.returncode == 0, f"exit {p.returncode}: {p.stderr.strip()[:300]!r}"
                got = json.loads(p.stdout)
                assert got["error"] is None, got["error"]
                sys.setrecursionlimit(20000)
                assert got["data"] == django_data(key), "sessionctl's data differs from what Django loads"
                return what
            return case

        rn.case("django_1mib_session_decodes",
                decodes(made["big"], f"{made['big_json_bytes']} bytes of JSON written by Django decode"))
        rn.case("django_deepest_session_decodes",
                decodes(made["deep"], f"nesting {made['depth']} deep (the most Django saves and loads) decodes"))

        bomb = zlib_bomb(100 << 20)

        def bomb_refused():
            p = rn.run(cfg, "decode", "--stdin", stdin=bomb)
            line = one_error_line(p, 4, ["SESSION_MAX_INFLATED_SIZE"])
            return f"{len(bomb)}-byte value inflating to 100 MiB: {line}"
        rn.case("zlib_bomb_refused", bomb_refused)

        def bomb_allowed_when_raised():
            small = zlib_bomb(8 << 20)  # 8 MiB: refused under a 4 MiB cap, read under 16 MiB
            p = rn.run(config("low.json", SESSION_MAX_INFLATED_SIZE=(4 << 20)), "decode", "--stdin", stdin=small)
            one_error_line(p, 4, ["SESSION_MAX_INFLATED_SIZE"])
            p = rn.run(config("raised.json", SESSION_MAX_INFLATED_SIZE=(16 << 20)), "decode", "--stdin", stdin=small)
            assert p.returncode == 0, f"exit {p.returncode}: {p.stderr.strip()[:300]!r}"
            return "an 8 MiB payload: exit 4 under a 4 MiB cap, decodes under 16 MiB"
        rn.case("max_inflated_size_raised", bomb_allowed_when_raised)

        def big_refused_when_lowered():
            p = rn.run(config("lowered.json", SESSION_MAX_INFLATED_SIZE=(512 << 10)), "--json", "inspect", made["big"])
            got = json.loads(p.stdout)
            assert got["error"] and "SESSION_MAX_INFLATED_SIZE" in got["error"], got["error"]
            p = rn.run(config("lowered.json", SESSION_MAX_INFLATED_SIZE=(512 << 10)), "inspect", made["big"])
            assert p.returncode == 4, f"exit {p.returncode}"
            return f"the 1 MiB session with a 512 KiB cap: exit 4, error {got['error']!r}"
        rn.case("max_inflated_size_lowered", big_refused_when_lowered)

        def bad_values():
            lines = []
            for value in (0, "64M", -1):
                p = rn.run(config("bad.json", SESSION_MAX_INFLATED_SIZE=value), "inspect", made["big"])
                lines.append(one_error_line(p, 2, ["SESSION_MAX_INFLATED_SIZE"]))
            return " | ".join(lines)
        rn.case("max_inflated_size_bad_values", bad_values)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{rn.passed} passed, {rn.failed} failed")
    return 1 if rn.failed else 0


if __name__ == "__main__":
    sys.exit(main())
