#!/usr/bin/python3
"""Round trip of session payloads between real Django and the sessionctl tool.

    /usr/bin/python3 tests/system/django_roundtrip.py --tool PATH [--count 1000] [--seed N]
                     [--django-path DIR] [--strict-payload] [--failures-file FILE]

(a) django->sessionctl: `count` random session dicts are encoded by Django's
    `SessionStore().encode()` and fed to `TOOL decode`; every output line must be
    exactly `json.dumps(d, separators=(",", ":"))`.
(b) sessionctl->django: `count` other dicts are fed as that JSON text to
    `TOOL encode`; every output line is decoded by Django's `SessionStore().decode()`
    and its `json.dumps` text must equal the input text (type exact: 1 / 1.0 / true
    differ, NaN equals NaN).

The tool gets the secret in $SESSIONCTL_SECRET_KEY. Everything random (dicts and
secret) derives from --seed, which is printed first so that a failure can be
replayed. Exit status: 0 all passed, 1 some failed, 2 usage/environment error.
"""

import argparse
import json
import logging
import math
import os
import random
import struct
import subprocess
import sys
import time
import zlib

SEP = (",", ":")
MAX_EXAMPLES = 5


def dumps(obj):
    return json.dumps(obj, separators=SEP)


# --------------------------------------------------------------------------- args

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tool", required=True, help="path of the sessionctl tool under test")
    p.add_argument("--count", type=int, default=1000, help="dicts per direction (default 1000)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")
    p.add_argument("--django-path", action="append", default=[], metavar="DIR",
                   help="put DIR first on sys.path before importing django (repeatable), "
                        "e.g. the output of django_env.sh")
    p.add_argument("--secret", default=None, help="use this SECRET_KEY instead of a seeded random one")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per tool run (default 600)")
    p.add_argument("--strict-payload", action="store_true",
                   help="(b) also require the tool's payload part (before the timestamp) to be "
                        "byte-identical to Django's encode() and the timestamp to be near now")
    p.add_argument("--failures-file", default=None, metavar="FILE",
                   help="write every failing case in full to FILE (JSON lines)")
    a = p.parse_args(argv)
    if a.count < 1:
        p.error("--count must be >= 1")
    if a.seed is None:
        a.seed = (time.time_ns() // 1000) % 1_000_000_000
    return a


# --------------------------------------------------------------------------- random data

ASCII_PRINT = "".join(chr(c) for c in range(0x20, 0x7F))
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CONTROLS = "".join(chr(c) for c in range(0x20)) + "\x7f"
C1 = "".join(chr(c) for c in range(0x80, 0xA0))
LATIN1 = "".join(chr(c) for c in range(0xA0, 0x100))
SPECIAL_BMP = "\u00ff\u0100\u07ff\u0800\u2028\u2029\u200b\ufeff\ufffd\ufffe\uffff\ud7ff\ue000\uabcd\u4e2d\u6587\u0416\u05d0\u0627"
TRICKY = ['\\', '"', '\\"', '\\u0000', '\\ud83d', '\\n', '"}', '{"a":1}', ':', '.', '::', '.:',
          'NaN', 'Infinity', 'null', 'true', '</script>', '/', '\\/', "'", '%s', '\r\n', '\t']
WELL_KNOWN_KEYS = ["_auth_user_id", "_auth_user_backend", "_auth_user_hash", "_session_expiry",
                   "testcookie", "_messages", "_csrftoken", "_language", "django_language",
                   "cart", "next", "visits", "", " ", "_"]
SPECIAL_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 1e16, -1e16, 1e15,
                  9999999999999998.0, 1234567890123456.0, 12345678901234567.0, 1e-7, 1e-5, 1e-4,
                  0.0001, 0.00009999999999999999, 0.001, 1e22, 1e23, 1e-323, 5e-324,
                  2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
                  float("inf"), float("-inf"), float("nan"), 2.0 ** 53, 2.0 ** 53 + 2, 2.0 ** 63,
                  2.0 ** 64, 123.456, 100.0, 1e100, 1.5e300, 4.35, 0.30000000000000004]
SPECIAL_INTS = [0, 1, -1, 127, 128, 255, 256, 2 ** 31 - 1, 2 ** 31, -2 ** 31, -2 ** 31 - 1,
                2 ** 32, 2 ** 53, 2 ** 53 + 1, -(2 ** 53 + 1), 2 ** 63 - 1, 2 ** 63, -2 ** 63,
                -2 ** 63 - 1, 2 ** 64 - 1, 2 ** 64, -(2 ** 64), -(2 ** 70), 10 ** 30, -10 ** 30,
                10 ** 100, 3 ** 200]


def rand_char(rng, flavor):
    if flavor == "mix":
        flavor = rng.choice(["ascii", "ascii", "ascii", "alnum", "controls", "c1", "latin1",
                             "bmp", "special_bmp", "astral", "emoji"])
        if rng.random() < 0.0005:   # lone surrogates: a few, not in half of all dicts
            flavor = "surrogate"
    if flavor == "ascii":
        return rng.choice(ASCII_PRINT)
    if flavor == "alnum":
        return rng.choice(ALNUM)
    if flavor == "controls":
        return rng.choice(CONTROLS)
    if flavor == "c1":
        return rng.choice(C1)
    if flavor == "latin1":
        return rng.choice(LATIN1)
    if flavor == "bmp":
        c = rng.randint(0x100, 0xFFFF - 0x800)
        return chr(c + 0x800 if c >= 0xD800 else c)      # skip the surrogate block
    if flavor == "special_bmp":
        return rng.choice(SPECIAL_BMP)
    if flavor == "astral":
        return chr(rng.choice([0x10000, 0x10FFFF, 0x1F600, rng.randint(0x10000, 0x10FFFF)]))
    if flavor == "emoji":
        return chr(rng.randint(0x1F300, 0x1FAFF))
    if flavor == "surrogate":   # lone surrogates: json.dumps writes them as \udXXX escapes
        return chr(rng.randint(0xD800, 0xDFFF))
    raise AssertionError(flavor)


def rand_len(rng, maxlen):
    r = rng.random()
    if r < 0.1:
        return 0
    if r < 0.6:
        return rng.randint(1, min(12, maxlen))
    return rng.randint(1, maxlen)


def rand_str(rng, maxlen=60):
    r = rng.random()
    if r < 0.08:
        return "".join(rng.choice(TRICKY) for _ in range(rng.randint(1, 5)))
    flavor = rng.choices(
        ["ascii", "alnum", "controls", "c1", "latin1", "bmp", "special_bmp", "astral", "emoji",
         "surrogate", "mix"],
        weights=[20, 15, 4, 2, 4, 6, 3, 3, 4, 0.2, 20])[0]
    n = rand_len(rng, maxlen)
    return "".join(rand_char(rng, flavor) for _ in range(n))


def rand_key(rng):
    if rng.random() < 0.15:
        return rng.choice(WELL_KNOWN_KEYS)
    return rand_str(rng, 24)


def rand_int(rng):
    r = rng.random()
    if r < 0.4:
        return rng.randint(-1000, 1000)
    if r < 0.6:
        return rng.choice(SPECIAL_INTS)
    if r < 0.8:
        return rng.randint(-2 ** 63, 2 ** 63)
    if r < 0.95:
        return rng.getrandbits(rng.randint(64, 300)) * rng.choice([1, -1])
    return int("".join(rng.choice("0123456789") for _ in range(rng.randint(30, 1000)))) * rng.choice([1, -1])


def rand_float(rng):
    r = rng.random()
    if r < 0.3:
        while True:   # any double from random bits; NaN comes from SPECIAL_FLOATS
            f = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
            if not math.isnan(f):
                return f
    if r < 0.5:
        return rng.choice(SPECIAL_FLOATS)
    if r < 0.65:
        return rng.uniform(-1e6, 1e6)
    if r < 0.75:
        return float(rng.randint(-10 ** 17, 10 ** 17))
    if r < 0.9:   # short decimal literals around the repr exponent switches (1e-4, 1e16)
        return float("%d.%de%d" % (rng.randint(1, 9), rng.randint(0, 99999), rng.randint(-30, 30))) * rng.choice([1, -1])
    return round(rng.uniform(0, 1000), rng.randint(0, 4))


def rand_scalar(rng):
    r = rng.random()
    if r < 0.45:
        return rand_str(rng)
    if r < 0.62:
        return rand_int(rng)
    if r < 0.82:
        return rand_float(rng)
    if r < 0.92:
        return rng.choice([True, False])
    return None


def rand_value(rng, depth, maxdepth=5):
    if depth >= maxdepth or rng.random() < 0.6:
        return rand_scalar(rng)
    if rng.random() < 0.5:
        return [rand_value(rng, depth + 1, maxdepth) for _ in range(rng.choice([0, 1, 2, 3, 5, 8]))]
    return rand_dict(rng, depth + 1, maxdepth, rng.choice([0, 1, 2, 3, 5, 8]))


def rand_dict(rng, depth=0, maxdepth=5, nkeys=None):
    if nkeys is None:
        nkeys = rng.randint(0, 12)
    d = {}
    for _ in range(nkeys):
        d[rand_key(rng)] = rand_value(rng, depth, maxdepth)
    return d


def hexstr(rng, n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def typical_session(rng):
    d = {}
    if rng.random() < 0.7:
        uid = rng.choice([str(rng.randint(1, 10 ** rng.randint(1, 9))),
                          "%s-%s-4%s-a%s-%s" % (hexstr(rng, 8), hexstr(rng, 4), hexstr(rng, 3),
                                                hexstr(rng, 3), hexstr(rng, 12))])
        d["_auth_user_id"] = uid
        d["_auth_user_backend"] = rng.choice([
            "django.contrib.auth.backends.ModelBackend",
            "django.contrib.auth.backends.RemoteUserBackend",
            "allauth.account.auth_backends.AuthenticationBackend"])
        d["_auth_user_hash"] = hexstr(rng, rng.choice([64, 64, 40]))
    if rng.random() < 0.4:
        d["_session_expiry"] = rng.choice([
            0, 300, 1209600, rng.randint(1, 10 ** 7), rng.uniform(1, 1e6),
            "20%02d-%02d-%02dT%02d:%02d:%02d.%06d+00:00" % (
                rng.randint(20, 40), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999999)),
            "2026-12-09T10:11:12"])
    if rng.random() < 0.3:
        msgs = [["__json_message", rng.choice([0, 1]), rng.choice([10, 20, 25, 30, 40]),
                 rand_str(rng, 40)] + ([rand_str(rng, 10)] if rng.random() < 0.3 else [])
                for _ in range(rng.randint(1, 3))]
        d["_messages"] = dumps(msgs)
    if rng.random() < 0.2:
        d["_csrftoken"] = "".join(rng.choice(ALNUM) for _ in range(rng.choice([32, 64])))
    if rng.random() < 0.2:
        d["testcookie"] = "worked"
    if rng.random() < 0.2:
        d[rng.choice(["_language", "django_language"])] = rng.choice(["en", "de", "pt-br", "zh-hans", "sr-latn"])
    if rng.random() < 0.3:
        items = [{"sku": "SKU-%d" % rng.randint(1, 99999), "qty": rng.randint(1, 9),
                  "price": round(rng.uniform(0.5, 500), 2), "name": rand_str(rng, 30)}
                 for _ in range(rng.randint(0, 6))]
        d["cart"] = {"items": items, "total": round(sum(i["price"] * i["qty"] for i in items), 2),
                     "currency": rng.choice(["EUR", "USD", "JPY"]), "coupon": rng.choice([None, "WELCOME10"])}
    if rng.random() < 0.3:
        d["next"] = "/" + "/".join(rand_str(rng, 8) for _ in range(rng.randint(0, 3))) + "?page=%d&q=a+b" % rng.randint(1, 9)
    if rng.random() < 0.3:
        d["visits"] = rng.randint(0, 10 ** 6)
        d["last_seen"] = rng.uniform(1.6e9, 1.8e9)
    if rng.random() < 0.2:
        d["prefs"] = {"theme": rng.choice(["dark", "light"]), "tz": "Europe/Berlin", "beta": rng.choice([True, False]),
                      "notify": {"email": True, "sms": False, "limit": None}}
    if rng.random() < 0.2:
        d["wizard_step"] = {"step": str(rng.randint(0, 5)), "step_data": {}, "step_files": {}, "extra_data": {}}
    return d


def repetitive_dict(rng):
    """Long repetitive strings: compression certainly kicks in."""
    d = {}
    for _ in range(rng.randint(1, 4)):
        unit = rand_str(rng, 12) or "x"
        d[rand_key(rng)] = unit * rng.randint(20, 3000 // len(unit) + 20)
    if rng.random() < 0.5:
        d["list"] = [rand_scalar(rng)] * rng.randint(10, 200)
    return d


def incompressible_dict(rng):
    """Random data of some size: zlib still gains on large JSON, little or nothing on small."""
    d = {}
    for _ in range(rng.randint(1, 6)):
        n = rng.choice([8, 20, 40, 80, 200, 1000])
        d[rand_key(rng)] = "".join(rng.choice(ALNUM + "-_") for _ in range(n))
    return d


def boundary_dict(rng, target):
    """A dict whose JSON is at the compression boundary: zlib saves exactly `target` bytes
    (compression is used only if it saves >= 2)."""
    for _ in range(20000):
        k = rng.randint(2, 40)
        alpha = [chr(rng.randint(0x20, 0x7E)) for _ in range(k)]
        if rng.random() < 0.2:
            alpha.append(chr(rng.randint(0x80, 0x10FFFF)))
        s = "".join(rng.choice(alpha) for _ in range(rng.randint(1, 100)))
        d = {rand_key(rng): s} if rng.random() < 0.5 else {"k": s, "n": rand_scalar(rng)}
        try:
            data = dumps(d).encode("latin-1")
        except UnicodeEncodeError:
            continue
        if len(data) - len(zlib.compress(data)) == target:
            return d
    return {"k": "boundary-not-found"}


def many_keys_dict(rng):
    return {"%s%d" % (rand_str(rng, 6), i): rand_scalar(rng) for i in range(rng.randint(50, 400))}


def random_session(rng):
    kind = rng.choices(
        ["random", "typical", "nested", "repetitive", "incompressible", "boundary", "tiny",
         "numbers", "strings", "many"],
        weights=[25, 20, 10, 8, 8, 10, 6, 6, 6, 1])[0]
    if kind == "random":
        return rand_dict(rng)
    if kind == "typical":
        return typical_session(rng)
    if kind == "nested":
        return rand_dict(rng, 0, 5, rng.randint(1, 6))
    if kind == "repetitive":
        return repetitive_dict(rng)
    if kind == "incompressible":
        return incompressible_dict(rng)
    if kind == "boundary":
        return boundary_dict(rng, rng.choice([-2, -1, 0, 1, 2, 3, 4]))
    if kind == "tiny":
        return rng.choice([{}, {"": ""}, {"a": 1}, {rand_key(rng): rand_scalar(rng)}])
    if kind == "numbers":
        return {rand_key(rng): (rand_int(rng) if rng.random() < 0.5 else rand_float(rng)) for _ in range(rng.randint(1, 15))}
    if kind == "strings":
        return {rand_str(rng, 20): rand_str(rng, 200) for _ in range(rng.randint(1, 8))}
    return many_keys_dict(rng)


def fixed_corpus(rng):
    """Cases that every run covers (placed first), whatever the seed."""
    nested = [5]
    for i in range(9):
        nested = {"l%d" % i: nested} if i % 2 else [i, nested]
    return [
        {},
        {"_auth_user_id": "42", "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
         "_auth_user_hash": hexstr(rng, 64)},
        {"zero": 0, "neg_zero": -0.0, "one_f": 1.0, "one_i": 1, "true": True, "false": False,
         "none": None, "1e16": 1e16, "below_1e16": 9999999999999998.0, "1e-7": 1e-7,
         "1e-4": 0.0001, "below_1e-4": 0.00009999, "inf": float("inf"), "ninf": float("-inf"),
         "nan": float("nan"), "max": 1.7976931348623157e308, "min_sub": 5e-324,
         "min_norm": 2.2250738585072014e-308, "third": 1 / 3, "tenth": 0.1, "1e22": 1e22,
         "1e23": 1e23, "i64max": 2 ** 63 - 1, "i64min": -2 ** 63, "u64": 2 ** 64,
         "u64max": 2 ** 64 - 1, "neg70": -(2 ** 70), "e30": 10 ** 30, "e100": -10 ** 100,
         "empty_list": [], "empty_dict": {}, "mixed": [1, 1.0, True, "1", None, [], {}]},
        {'quote"back\\slash/': 'a"b\\c/d', "controls": CONTROLS, "c1": C1, "latin1": LATIN1,
         "bmp": SPECIAL_BMP, "astral": "\U0001F600\U00010000\U0010FFFF\U0001F389",
         "lone_high": "\ud800", "lone_low": "\udfff", "reversed_pair": "\ude00\ud83d",
         "split_pair": "\ud83d" + "\ude00", "high_then_text": "\udbffX",
         "looks_escaped": '\\u0000\\n\\"\\ud83d', "empty": "", "envelope": "a:b.c:d",
         "\u043a\u043b\u044e\u0447\U0001F600": "v", "\x00": "nul key", "": "empty key",
         "\x7f": "del key", "\u2028": "ls"},
        {"_session_expiry": "2026-12-09T10:11:12.123456+00:00", "testcookie": "worked",
         "_messages": '[["__json_message",0,25,"Welcome back, J\\u00fcrgen! \\ud83d\\ude00"]]',
         "_csrftoken": "".join(rng.choice(ALNUM) for _ in range(64)), "_language": "de",
         "cart": {"items": [{"sku": "A-1", "qty": 2, "price": 19.99}], "total": 39.98}},
        {"_session_expiry": 1209600},
        {"_session_expiry": 0},
        {"deep": nested},
        {"a": {"b": {"c": {"d": {"e": [1, [2, [3, [4, [5, {}]]]]]}}}}},
        {"blob": "x" * 10000},
        {"blob": "\U0001F600\u00e9\x00" * 3000},
        {"big": [2 ** 64] * 500, "floats": [0.1] * 500},
        incompressible_dict(rng),
        many_keys_dict(rng),
        boundary_dict(rng, 0),
        boundary_dict(rng, 1),
        boundary_dict(rng, 2),
        boundary_dict(rng, 3),
        {"huge_int": int("9" * 999), "neg_huge": -int("1" + "0" * 500)},
        {"s": "a"}, {"s": "aa"}, {"s": "aaa"},   # different base64 tail lengths
    ]


def make_sessions(seed, label, count):
    rng = random.Random("%d:%s" % (seed, label))
    out = fixed_corpus(rng)[:count]
    while len(out) < count:
        out.append(random_session(rng))
    return out


def make_secret(seed):
    rng = random.Random("%d:secret" % seed)
    chars = [rng.choice("abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)") for _ in range(50)]
    if rng.random() < 0.25:   # sometimes a non-ASCII secret (Django hashes its UTF-8 bytes)
        chars.insert(rng.randint(0, 50), rng.choice(["\u00e9", "\u00df", "\u20ac", "\U0001F511"]))
    return "".join(chars)


# --------------------------------------------------------------------------- tool runs

class ToolRun:
    def __init__(self, lines, problem, stderr):
        self.lines = lines        # list of str (output lines, no newline)
        self.problem = problem    # None or text: process-level failure
        self.stderr = stderr


def run_tool(tool, mode, input_lines, secret, timeout):
    env = dict(os.environ)
    env["SESSIONCTL_SECRET_KEY"] = secret
    data = "".join(line + "\n" for line in input_lines).encode("ascii")
    try:
        p = subprocess.run([tool, mode], input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return ToolRun([], "`%s %s` timed out after %gs" % (tool, mode, timeout),
                       (e.stderr or b"").decode("utf-8", "backslashreplace"))
    except OSError as e:
        return ToolRun([], "cannot run `%s %s`: %s" % (tool, mode, e), "")
    text = p.stdout.decode("utf-8", "backslashreplace")
    lines = text.split("\n")
    problem = None
    if lines and lines[-1] == "":
        lines.pop()
    elif text:
        problem = "output does not end with a newline"
    stderr = p.stderr.decode("utf-8", "backslashreplace")
    if p.returncode != 0:
        problem = "`%s %s` exited with status %d" % (tool, mode, p.returncode)
    elif len(lines) != len(input_lines):
        problem = "%d output lines for %d input lines" % (len(lines), len(input_lines))
    return ToolRun(lines, problem, stderr)


# --------------------------------------------------------------------------- reporting

def clip(s, n=300):
    s = str(s)
    if any(not (" " <= c <= "~") for c in s):   # make stray CR, NUL, non-ASCII visible
        s = ascii(s)
    return s if len(s) <= n else s[:n] + "... (%d chars)" % len(s)


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b)) if len(a) != len(b) else None


class Direction:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.examples = []     # dicts printed (max MAX_EXAMPLES)
        self.all_failures = []  # full records (for --failures-file)

    def fail(self, record):
        self.failed += 1
        self.all_failures.append(record)
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(record)

    def missing(self, record, total_lines, out_lines):
        """Missing output lines: one example for the first, the rest only counted."""
        if record["index"] == out_lines:
            n = total_lines - out_lines
            record["reason"] = "missing output line" + (" (and the %d following ones)" % (n - 1) if n > 1 else "")
            self.fail(record)
        else:
            self.failed += 1
            self.all_failures.append(dict(record, reason="missing output line"))

    def print_examples(self, out):
        for r in self.examples:
            where = "" if r.get("index") is None else " #%d" % r["index"]
            out.write("FAIL %s%s: %s\n" % (self.name, where, r["reason"]))
            for k in ("input", "encoded", "tool_out", "expected", "got", "django_log", "stderr"):
                if k in r and r[k] is not None:
                    out.write("  %-10s %s\n" % (k + ":", clip(r[k])))
            if isinstance(r.get("expected"), str) and isinstance(r.get("got"), str):
                i = first_diff(r["expected"], r["got"])
                if i is not None and (i > 200 or len(r["expected"]) > 300):
                    out.write("  first difference at char %d: expected %r, got %r\n"
                              % (i, r["expected"][max(0, i - 20):i + 40], r["got"][max(0, i - 20):i + 40]))


# --------------------------------------------------------------------------- main

class CaptureHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append("%s %s: %s" % (record.levelname, record.name, record.getMessage()))


def b62_decode(s):
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    sign = -1 if s.startswith("-") else 1
    n = 0
    for c in s.lstrip("-"):
        n = n * 62 + digits.index(c)
    return sign * n


def main(argv):
    args = parse_args(argv)
    for p in reversed(args.django_path):
        if not os.path.isdir(p):
            print("roundtrip: seed=%d django=?" % args.seed)
            print("roundtrip: error: --django-path %s is not a directory" % p)
            return 2
        sys.path.insert(0, os.path.abspath(p))
    try:
        import django
        from django.conf import settings
    except ImportError as e:
        print("roundtrip: seed=%d django=?" % args.seed)
        print("roundtrip: error: cannot import django: %s" % e)
        return 2
    print("roundtrip: seed=%d django=%s" % (args.seed, django.get_version()), flush=True)
    if args.django_path and not any(os.path.realpath(django.__file__).startswith(os.path.realpath(p) + os.sep)
                                    for p in args.django_path):
        print("roundtrip: warning: django imported from %s, not from --django-path" % django.__file__)

    secret = args.secret if args.secret is not None else make_secret(args.seed)
    settings.configure(
        SECRET_KEY=secret,
        INSTALLED_APPS=["django.contrib.sessions"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        SESSION_SERIALIZER="django.contrib.sessions.serializers.JSONSerializer",
        USE_TZ=True,
    )
    django.setup()
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.serializers import JSONSerializer
    from django.core import signing

    capture = CaptureHandler()
    for name in ("django.security.SuspiciousSession", "django.contrib.sessions"):
        lg = logging.getLogger(name)
        lg.addHandler(capture)
        lg.propagate = False   # keep Django's own warnings off our output; we report them ourselves

    store = SessionStore()

    # ---- (a) django -> sessionctl (TOOL decode)
    da = Direction("django->sessionctl")
    sessions_a = make_sessions(args.seed, "django->sessionctl", args.count)
    expected_a = [dumps(d) for d in sessions_a]
    encoded_a = [store.encode(d) for d in sessions_a]
    for i, (enc, exp) in enumerate(zip(encoded_a, expected_a)):   # the oracle must agree with itself
        back = dumps(store.decode(enc))
        if back != exp:
            print("roundtrip: internal error: Django does not round-trip case #%d: %s -> %s"
                  % (i, clip(exp), clip(back)))
            return 2
    run = run_tool(args.tool, "decode", encoded_a, secret, args.timeout)
    if run.problem:
        da.fail({"index": None, "reason": run.problem, "stderr": run.stderr.strip() or None})
    for i, (enc, exp) in enumerate(zip(encoded_a, expected_a)):
        got = run.lines[i] if i < len(run.lines) else None
        if run.problem is None and got == exp:
            da.passed += 1
            continue
        if run.problem is not None and got == exp:
            continue   # counted below as failed because the run itself failed
        rec = {"index": i, "input": exp, "encoded": enc, "expected": exp, "got": got}
        if got is None:
            da.missing(rec, len(encoded_a), len(run.lines))
        else:
            rec["reason"] = "tool reported an error" if got.startswith("ERROR ") else "decoded JSON text differs"
            da.fail(rec)
    if run.problem:
        da.passed, da.failed = 0, len(encoded_a)

    # ---- (b) sessionctl -> django (TOOL encode)
    db = Direction("sessionctl->django")
    sessions_b = make_sessions(args.seed, "sessionctl->django", args.count)
    input_b = [dumps(d) for d in sessions_b]
    run = run_tool(args.tool, "encode", input_b, secret, args.timeout)
    if run.problem:
        db.fail({"index": None, "reason": run.problem, "stderr": run.stderr.strip() or None})
    now = time.time()
    for i, (d, text) in enumerate(zip(sessions_b, input_b)):
        line = run.lines[i] if i < len(run.lines) else None
        rec = {"index": i, "input": text, "expected": text, "tool_out": line}
        if line is None:
            db.missing(rec, len(input_b), len(run.lines))
            continue
        if line.startswith("ERROR "):
            rec.update(reason="tool reported an error", got=line)
            db.fail(rec)
            continue
        del capture.messages[:]
        try:   # must be a valid signed session string: decode() alone returns {} on failure
            signing.loads(line, salt=store.key_salt, serializer=JSONSerializer)
        except Exception as e:
            rec.update(reason="not a valid signed session string (signing.loads raised %s: %s)"
                       % (type(e).__name__, e), got=None)
            db.fail(rec)
            continue
        try:
            decoded = store.decode(line)
            got = dumps(decoded)
        except Exception as e:   # 3.2 can raise out of decode() on some malformed input
            got = None
            rec.update(reason="Django's decode() raised %s: %s" % (type(e).__name__, e), got=None)
        else:
            rec["got"] = got
            if got != text:
                rec["reason"] = "Django's decode of the tool's output differs"
                if capture.messages:
                    rec["django_log"] = "; ".join(capture.messages)
        if "reason" not in rec and args.strict_payload:
            mine = line.rsplit(":", 2)
            ref = store.encode(d).rsplit(":", 2)
            if len(mine) != 3 or mine[0] != ref[0]:
                rec.update(reason="--strict-payload: payload differs from Django's encode()",
                           expected=ref[0], got=mine[0])
            else:
                try:
                    ts = b62_decode(mine[1])
                except ValueError:
                    ts = None
                if ts is None or abs(ts - now) > 600:
                    rec.update(reason="--strict-payload: timestamp %r is not near now" % mine[1])
        if "reason" in rec:
            db.fail(rec)
        elif run.problem is None:
            db.passed += 1
    if run.problem:
        db.passed, db.failed = 0, len(input_b)

    # ---- report
    out = sys.stdout
    for d in (da, db):
        d.print_examples(out)
    if args.failures_file and (da.all_failures or db.all_failures):
        with open(args.failures_file, "w") as f:
            for d in (da, db):
                for r in d.all_failures:
                    f.write(json.dumps(dict(r, direction=d.name)) + "\n")
        out.write("roundtrip: failing cases written to %s\n" % args.failures_file)
    ok = (da.failed == 0 and db.failed == 0 and da.passed == args.count and db.passed == args.count)
    if not ok:
        out.write("roundtrip: replay with --seed %d (SESSIONCTL_SECRET_KEY=%s)\n" % (args.seed, json.dumps(secret)))
    out.write("roundtrip: %s %d passed, %d failed; %s %d passed, %d failed\n"
              % (da.name, da.passed, da.failed, db.name, db.passed, db.failed))
    out.write("%d passed, %d failed\n" % (da.passed + db.passed, da.failed + db.failed))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
