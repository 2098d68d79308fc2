#!/usr/bin/env python3
"""No sessionctl output may ever contain SECRET_KEY or a fallback (issue 7).

    secrets_test.py --sessionctl PATH [--keep] [-k SUBSTRING]

Runs every command (inspect, decode, create, delete, expire, clearsessions, config,
--version, --help and each command's --help), plain, with -v and with --json,
against a temporary SQLite django_session table holding sessions signed with the
secret, with the fallback, with a wrong key, expired and malformed; then the error
paths (bad config JSON around the secret, unknown key, wrong type, missing secret
file, wrong secret, malformed blob, missing and corrupt database). Every run's
stdout and stderr is searched for each secret (and for its first and last 16
characters); the secret must also never be taken from argv (--set SECRET_KEY=...,
--secret-key and --secret exit 2 without echoing it), and no value after an
unknown option, nor an extra argument, is ever echoed in a usage error.

Each case prints "PASS name" or "FAIL name: why"; the last line is
"N passed, M failed"; exit 1 on any failure. Each case also checks the exit code it
expects, so that a command that silently did nothing cannot pass.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

SECRET = "SeCrEt-grep-7f3a9c1e5d2b-do-not-print-K3y-0123456789abcdefXYZ"
FALLBACK = "FaLlBaCk-grep-2b8d4e6f0a1c-old-rotated-K3y-9876543210fedcbaQRS"
WRONG = "WrOnG-grep-9e1d7c3b5a4f-another-site-K3y-5647382910zyxwvuTUV"
SECRETS = {"SECRET_KEY": SECRET, "SECRET_KEY_FALLBACKS[0]": FALLBACK, "wrong secret": WRONG}

DDL = ('CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, '
       '"session_data" text NOT NULL, "expire_date" datetime NOT NULL)')
SALT = "django.contrib.sessions.SessionStore"
COOKIE_SALT = "django.contrib.sessions.backends.signed_cookies"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PASSWORD_HASH = "pbkdf2_sha256$600000$grepsalt$Yb0cQ2x1nZ1hJ9b0cQ2x1nZ1hJ9b0cQ2x1nZ1hJ9b0cQ="

# Keys of the rows written into the table.
K_LIVE = "grepkeylive00000000000000000001"
K_USER = "grepkeyuser00000000000000000042"
K_FALLBACK = "grepkeyfallback0000000000000003"
K_WRONG = "grepkeywrongsecret0000000000004"
K_EXPIRED = "grepkeyexpired00000000000000005"
K_MALFORMED = "grepkeymalformed000000000000006"
K_DELETE = "grepkeydelete000000000000000007"
K_EXPIRE = "grepkeyexpire000000000000000008"


# --------------------------------------------------------------- Django signing

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b62(n):
    if n == 0:
        return "0"
    sign = "-" if n < 0 else ""
    n = abs(n)
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return sign + out


def salted_hmac(key_salt, value, secret):
    key = hashlib.sha256((key_salt + secret).encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).digest()


def sign(value, secret, salt):
    return value + ":" + b64(salted_hmac(salt + "signer", value, secret))


def dumps(obj, secret, salt=SALT, compress=True, timestamp=None):
    """django.core.signing.dumps(obj, salt=salt, compress=True) with JSONSerializer."""
    data = json.dumps(obj, separators=(",", ":")).encode("latin-1")
    payload = b64(data)
    if compress:
        z = zlib.compress(data)
        if len(z) < len(data) - 1:
            payload = "." + b64(z)
    ts = int(time.time()) if timestamp is None else timestamp
    return sign(payload + ":" + b62(ts), secret, salt)


def expire_date(delta_seconds):
    t = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(seconds=delta_seconds)
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")


# --------------------------------------------------------------- the fixture

class Fixture:
    def __init__(self, root):
        self.root = root
        self.db = root / "db.sqlite3"
        self.secret_file = root / "secret_key"
        self.fallbacks_file = root / "old_keys"
        self.config = root / "sessionctl.json"
        self.secret_file.write_text(SECRET + "\n")
        self.fallbacks_file.write_text(FALLBACK + "\n")
        os.chmod(self.secret_file, 0o600)
        os.chmod(self.fallbacks_file, 0o600)
        self.write_config(self.config, {"SECRET_KEY_FILE": str(self.secret_file),
                                        "SECRET_KEY_FALLBACKS_FILE": str(self.fallbacks_file)})
        self.reset_db()

    def base_settings(self):
        return {
            "SESSION_ENGINE": "django.contrib.sessions.backends.db",
            "USE_TZ": True,
            "TIME_ZONE": "UTC",
            "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(self.db)}},
        }

    def write_config(self, path, extra, mode=0o600, raw=None):
        path.write_text(raw if raw is not None else json.dumps({**self.base_settings(), **extra}, indent=2))
        os.chmod(path, mode)
        return path

    def reset_db(self):
        if self.db.exists():
            self.db.unlink()
        con = sqlite3.connect(self.db)
        con.execute(DDL)
        rows = [
            (K_LIVE, dumps({"cart": [1, 2, 3], "note": "grep test"}, SECRET), expire_date(86400)),
            (K_USER, dumps({"_auth_user_id": "42", "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                            "_auth_user_hash": "0" * 64}, SECRET), expire_date(86400)),
            (K_FALLBACK, dumps({"signed": "with the fallback"}, FALLBACK), expire_date(86400)),
            (K_WRONG, dumps({"signed": "with another site's key"}, WRONG), expire_date(86400)),
            (K_EXPIRED, dumps({"old": True}, SECRET), expire_date(-86400)),
            (K_MALFORMED, sign("bm90IGpzb24:" + b62(int(time.time())), SECRET, SALT),
             expire_date(86400)),
            (K_DELETE, dumps({"to": "delete"}, SECRET), expire_date(86400)),
            (K_EXPIRE, dumps({"to": "expire"}, SECRET), expire_date(86400)),
        ]
        con.executemany("INSERT INTO django_session VALUES (?, ?, ?)", rows)
        con.commit()
        con.close()


# --------------------------------------------------------------- running

class Runner:
    def __init__(self, sessionctl, fixture, only):
        self.sessionctl = sessionctl
        self.fx = fixture
        self.only = only
        self.passed = 0
        self.failed = 0
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("SESSIONCTL_") and k not in ("XDG_CONFIG_HOME",)}
        self.env["HOME"] = str(fixture.root / "home")
        self.env["TZ"] = "UTC"
        (fixture.root / "home").mkdir(exist_ok=True)

    def run(self, name, args, expect, stdin=None, config=None, env=None, check=None):
        """One case: `sessionctl --config CONFIG ARGS`; expect is a set of exit codes."""
        if self.only and self.only not in name:
            return
        cfg = self.fx.config if config is None else config
        argv = [self.sessionctl] + (["--config", str(cfg)] if cfg else []) + args
        run_env = dict(self.env, **(env or {}))
        try:
            p = subprocess.run(argv, input=(stdin or "").encode(), capture_output=True, env=run_env,
                               cwd=self.fx.root, timeout=60)
        except subprocess.TimeoutExpired:
            self.report(name, "timed out after 60 s")
            return
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        problems = []
        for what, secret in SECRETS.items():
            for stream, text in (("stdout", out), ("stderr", err)):
                for piece in (secret, secret[:16], secret[-16:]):
                    if piece in text:
                        problems.append(f"{what} ({'whole' if piece == secret else 'part'}) in {stream}")
                        break
        if p.returncode not in expect:
            problems.append(f"exit {p.returncode}, expected {sorted(expect)}; stderr: {err.strip()[:300]!r}")
        if check and not problems:
            why = check(out, err)
            if why:
                problems.append(why)
        self.report(name, "; ".join(problems))

    def report(self, name, problem):
        if problem:
            self.failed += 1
            print(f"FAIL {name}: {problem}")
        else:
            self.passed += 1
            print(f"PASS {name}")
        sys.stdout.flush()


def non_empty(out, err):
    return None if out.strip() else "no output on stdout"


# --------------------------------------------------------------- the cases

def main():
    parser = argparse.ArgumentParser(description="Fails if sessionctl prints a secret.")
    parser.add_argument("--sessionctl", required=True)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("-k", dest="only", default="", help="run only cases whose name contains this")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="sessionctl-secrets-"))
    fx = Fixture(root)
    r = Runner(str(Path(args.sessionctl).resolve()), fx, args.only)
    good_blob = dumps({"hello": "world"}, SECRET)
    fallback_blob = dumps({"hello": "fallback"}, FALLBACK)
    wrong_blob = dumps({"hello": "wrong"}, WRONG)
    cookie = dumps({"cookie": 1}, SECRET, salt=COOKIE_SALT)
    bad_json_blob = sign("bm90IGpzb24:" + b62(int(time.time())), SECRET, SALT)
    OK, NOTFOUND, USAGE, BAD = {0}, {1}, {2}, {4}

    # -- help and version: no config needed, and none may be read
    r.run("--version", ["--version"], OK, check=non_empty)
    r.run("--help", ["--help"], OK, check=non_empty)
    for cmd in ("inspect", "decode", "create", "delete", "expire", "clearsessions", "copy", "config"):
        r.run(f"{cmd} --help", [cmd, "--help"], OK, check=non_empty)

    # -- every command, plain, -v and --json
    for flags, tag in (([], ""), (["-v"], " -v"), (["--json"], " --json"), (["-v", "--json"], " -v --json")):
        r.run(f"config{tag}", flags + ["config"], OK, check=non_empty)
        r.run(f"inspect --all{tag}", flags + ["inspect", "--all"], OK, check=non_empty)
        r.run(f"inspect KEY{tag}", flags + ["inspect", K_LIVE, K_FALLBACK, K_WRONG, K_MALFORMED], {0, 4, 5})
        r.run(f"inspect --user{tag}", flags + ["inspect", "--all", "--user", "42"], OK, check=non_empty)
        r.run(f"inspect unknown key{tag}", flags + ["inspect", "grepkeynotthere0000000000000000"], NOTFOUND)
        r.run(f"inspect invalid key{tag}", flags + ["inspect", "../../etc/passwd"], USAGE | NOTFOUND)
        r.run(f"decode{tag}", flags + ["decode", good_blob], OK, check=non_empty)
        r.run(f"decode fallback{tag}", flags + ["decode", fallback_blob], OK, check=non_empty)
        r.run(f"decode --stdin{tag}", flags + ["decode", "--stdin"], OK, stdin=good_blob + "\n")
        r.run(f"decode --signed-cookie{tag}", flags + ["decode", "--signed-cookie", cookie], OK)
        r.run(f"decode wrong secret{tag}", flags + ["decode", wrong_blob], BAD)
        r.run(f"decode wrong secret --no-verify{tag}", flags + ["decode", "--no-verify", wrong_blob], BAD | OK)
        r.run(f"decode malformed blob{tag}", flags + ["decode", "not:a:session"], BAD)
        r.run(f"decode garbage{tag}", flags + ["decode", "\x01\x02garbage=="], BAD)
        r.run(f"decode bad JSON payload{tag}", flags + ["decode", bad_json_blob], BAD)
        r.run(f"decode secret as blob{tag}", flags + ["decode", SECRET], BAD)
        r.run(f"create --data{tag}", flags + ["create", "--data", '{"a": 1}'], OK, check=non_empty)
        r.run(f"create --user{tag}", flags + ["create", "--user", "42", "--password-hash", PASSWORD_HASH],
              OK, check=non_empty)
        r.run(f"create bad data{tag}", flags + ["create", "--data", "{not json"], USAGE | BAD)
        r.run(f"expire --in{tag}", flags + ["expire", K_EXPIRE, "--in", "3600"], OK)
        r.run(f"expire --now{tag}", flags + ["expire", K_EXPIRE, "--now"], OK)
        r.run(f"expire unknown key{tag}", flags + ["expire", "grepkeynotthere0000000000000000", "--in", "60"],
              NOTFOUND)
        r.run(f"delete --dry-run --user{tag}", flags + ["delete", "--user", "42", "--dry-run"], OK)
        r.run(f"delete --where --dry-run{tag}", flags + ["delete", "--where", "note=grep test", "--dry-run"], OK)
        r.run(f"delete KEY{tag}", flags + ["delete", K_DELETE], OK)
        r.run(f"clearsessions --dry-run{tag}", flags + ["clearsessions", "--dry-run"], OK)
        r.run(f"clearsessions{tag}", flags + ["clearsessions"], OK)
        r.run(f"delete --user{tag}", flags + ["delete", "--user", "42"], OK | NOTFOUND)
        # copy to a file store signed with another site's key (given inline):
        # the undecodable records fail (exit 5), nothing names either secret.
        copy_dir = root / f"copy-files{tag.replace(' ', '')}"
        copy_dir.mkdir(exist_ok=True)
        copy_to = fx.write_config(root / "copy-target.json", {
            "SESSION_ENGINE": "django.contrib.sessions.backends.file", "SESSION_FILE_PATH": str(copy_dir),
            "SECRET_KEY": WRONG})
        r.run(f"copy --dry-run{tag}", flags + ["copy", "--to", str(copy_to), "--dry-run"], {5})
        r.run(f"copy{tag}", flags + ["copy", "--to", str(copy_to)], {5})
        r.run(f"copy again{tag}", flags + ["copy", "--to", str(copy_to), "--overwrite"], {5})
        fx.reset_db()

    # -- the secret is never taken from argv, and not echoed when refused
    for setting, value in (("SECRET_KEY", SECRET), ("SECRET_KEY_FALLBACKS", json.dumps([FALLBACK]))):
        for cmd in (["config"], ["inspect", "--all"]):
            r.run(f"--set {setting}=... {cmd[0]} is refused", ["--set", f"{setting}={value}"] + cmd, USAGE)
    r.run("--set SECRET_KEY=... without a config", ["--set", f"SECRET_KEY={SECRET}", "config"], USAGE, config="")

    # -- --secret-key / --secret are refused by name, anywhere; a usage error
    #    names the option it is about, never a value given with it
    def names(text):
        return lambda out, err: None if text in err else f"stderr does not say {text!r}: {err.strip()[:300]!r}"
    for name, argv, said in (
            ("--secret-key SECRET before the command", ["--secret-key", SECRET, "inspect", K_LIVE],
             "--secret-key is not accepted"),
            ("--secret=SECRET after the command", ["inspect", f"--secret={SECRET}", K_LIVE],
             "--secret is not accepted"),
            ("--secret-key=SECRET after the keys", ["inspect", K_LIVE, f"--secret-key={SECRET}"],
             "--secret-key is not accepted"),
            ("--secret SECRET before config", ["--secret", SECRET, "config"], "--secret is not accepted"),
            ("unknown option, then the secret", ["--bogus", SECRET], "unknown option --bogus"),
            ("unknown option after the command, the secret attached", ["inspect", K_LIVE, f"--bogus={SECRET}"],
             "unknown option --bogus"),
            ("misspelled --secret-key, the secret attached", [f"--secrte-key={SECRET}", "inspect", K_LIVE],
             "unknown option --secrte-key"),
            ("unknown short option, the secret attached", [f"-p{SECRET}", "config"], "unknown option -p"),
            ("the secret as an extra argument", [SECRET, "config"], "1 unexpected argument"),
            ("the secret as the value of --limit", ["inspect", "--all", "--limit", SECRET],
             "invalid value for --limit"),
            ("the secret as the value of a flag", [f"--json={SECRET}", "config"], "invalid value for --json")):
        r.run(f"{name} is refused", argv, USAGE, check=names(said))

    # -- configuration errors around the secret
    cfgs = root / "configs"
    cfgs.mkdir()
    inline = fx.write_config(cfgs / "inline.json", {"SECRET_KEY": SECRET, "SECRET_KEY_FALLBACKS": [FALLBACK]})
    inline_readable = fx.write_config(cfgs / "inline-readable.json",
                                      {"SECRET_KEY": SECRET, "SECRET_KEY_FALLBACKS": [FALLBACK]}, mode=0o644)
    full = json.dumps({**fx.base_settings(), "SECRET_KEY": SECRET}, indent=2)
    broken = {
        "bad JSON after the secret": full[:full.index(SECRET) + len(SECRET) + 2] + ",,,",
        "bad JSON inside the secret": full[:full.index(SECRET) + 20],
        "bad JSON, unterminated secret": '{"SECRET_KEY": "' + SECRET,
        "bad JSON, secret as a bare word": '{"SECRET_KEY": ' + SECRET + "}",
        "bad JSON, invalid UTF-8 after secret": '{"SECRET_KEY": "' + SECRET + '\udcff"}',
        # nlohmann's out_of_range error quotes the number (found by fuzz_config).
        "number out of range next to the secret": '{"SECRET_KEY": "' + SECRET + '", "SESSION_COOKIE_AGE": 1'
                                                  + "0" * 400 + "}",
    }
    for name, text in broken.items():
        path = cfgs / (name.replace(" ", "_").replace(",", "") + ".json")
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        os.chmod(path, 0o600)
        for cmd in (["config"], ["inspect", "--all"], ["-v", "--json", "decode", good_blob]):
            r.run(f"config {name}: {' '.join(cmd)}", cmd, USAGE, config=path)
    wrong_types = {
        "unknown key holding the secret": {"NOT_A_SETTING": SECRET},
        "SECRET_KEY as a list": {"SECRET_KEY": [SECRET]},
        "SECRET_KEY as an object": {"SECRET_KEY": {"value": SECRET}},
        "SECRET_KEY_FALLBACKS as a string": {"SECRET_KEY": SECRET, "SECRET_KEY_FALLBACKS": FALLBACK},
        "SECRET_KEY_FALLBACKS with a number": {"SECRET_KEY": SECRET, "SECRET_KEY_FALLBACKS": [FALLBACK, 1]},
        "wrong type next to the secret": {"SECRET_KEY": SECRET, "SESSION_COOKIE_AGE": "two weeks"},
        "unsupported serializer": {"SECRET_KEY": SECRET,
                                   "SESSION_SERIALIZER": "django.contrib.sessions.serializers.PickleSerializer"},
        "missing SECRET_KEY_FILE": {"SECRET_KEY_FILE": str(root / "no-such-secret-file")},
        "missing SECRET_KEY_FALLBACKS_FILE": {"SECRET_KEY": SECRET,
                                              "SECRET_KEY_FALLBACKS_FILE": str(root / "no-such-fallbacks")},
    }
    for name, extra in wrong_types.items():
        path = fx.write_config(cfgs / (name.replace(" ", "_") + ".json"), extra)
        for cmd in (["config"], ["inspect", "--all"], ["--json", "create", "--data", "{}"]):
            # `config` shows a serializer it cannot use without failing.
            expect = USAGE | OK if name == "unsupported serializer" and cmd == ["config"] else USAGE
            r.run(f"config {name}: {' '.join(cmd)}", cmd, expect, config=path)

    # Inline secrets, from the environment, and a world-readable file (warning)
    r.run("inline secret: config", ["config"], OK, config=inline, check=non_empty)
    r.run("inline secret: -v --json inspect --all", ["-v", "--json", "inspect", "--all"], OK, config=inline)
    r.run("inline secret readable by others: config", ["config"], OK, config=inline_readable,
          check=lambda out, err: None if "readable" in err else "no warning about a readable secret")
    r.run("inline secret readable by others: decode", ["decode", good_blob], OK, config=inline_readable)
    env_cfg = fx.write_config(cfgs / "env.json", {"SECRET_KEY_FALLBACKS": [FALLBACK]})
    for cmd in (["config"], ["-v", "inspect", "--all"], ["--json", "decode", fallback_blob]):
        r.run(f"secret from $SESSIONCTL_SECRET_KEY: {' '.join(cmd)}", cmd, OK, config=env_cfg,
              env={"SESSIONCTL_SECRET_KEY": SECRET})
    no_secret = fx.write_config(cfgs / "no-secret.json", {})
    r.run("no secret: create", ["create", "--data", "{}"], USAGE, config=no_secret)
    r.run("no secret: decode", ["decode", good_blob], USAGE | BAD, config=no_secret)

    # A wrong secret against the store: nothing verifies, nothing is deleted
    wrong_cfg = fx.write_config(cfgs / "wrong.json", {"SECRET_KEY": WRONG})
    for flags, tag in (([], ""), (["-v"], " -v"), (["--json"], " --json")):
        r.run(f"wrong secret: inspect --all{tag}", flags + ["inspect", "--all"], OK, config=wrong_cfg)
        r.run(f"wrong secret: inspect KEY{tag}", flags + ["inspect", K_LIVE], {0, 4}, config=wrong_cfg)
        r.run(f"wrong secret: decode{tag}", flags + ["decode", good_blob], BAD, config=wrong_cfg)
        r.run(f"wrong secret: delete --user{tag}", flags + ["delete", "--user", "42"], NOTFOUND | OK,
              config=wrong_cfg)
        r.run(f"wrong secret: clearsessions --dry-run{tag}", flags + ["clearsessions", "--dry-run"], OK,
              config=wrong_cfg)

    # Store errors: missing and corrupt database
    missing_db = fx.write_config(cfgs / "missing-db.json", {
        "SECRET_KEY": SECRET,
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(root / "nope.sqlite3")}}})
    corrupt_path = root / "corrupt.sqlite3"
    corrupt_path.write_bytes(b"SQLite format 3\x00" + SECRET.encode() + b"\xff" * 4000)
    corrupt_db = fx.write_config(cfgs / "corrupt-db.json", {
        "SECRET_KEY": SECRET,
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(corrupt_path)}}})
    for cmd in (["inspect", "--all"], ["-v", "clearsessions"], ["--json", "delete", K_LIVE]):
        r.run(f"missing database: {' '.join(cmd)}", cmd, USAGE, config=missing_db)
        r.run(f"corrupt database: {' '.join(cmd)}", cmd, BAD | USAGE, config=corrupt_db)

    print(f"{r.passed} passed, {r.failed} failed")
    if args.keep or r.failed:
        print(f"(kept {root})" if args.keep else f"(temporary files in {root})")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if r.failed or r.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
