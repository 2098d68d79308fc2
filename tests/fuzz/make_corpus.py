#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, extracted from Django's vector files.

    tests/fuzz/make_corpus.py [--clean] [--data tests/data] [--out tests/fuzz/corpus]

Writes tests/fuzz/corpus/<target>/<sha1 of content> (libFuzzer's own naming), at
most MAX_FILES files per target and MAX_BYTES per file, and prints a count per
target. Existing files are kept (a libFuzzer -merge may have added some) unless
--clean is given. Deterministic: the same vectors give the same files.

Inputs per target:
  fuzz_session_decode  every encoded value: decode.json inputs, signing.json,
                       legacy.json, signed_cookie.json, file_backend.json content
  fuzz_signed_payload  the JSON payloads inside those values (the bytes the target
                       signs), plus signing.json's payload texts
  fuzz_legacy          the JSON of the legacy values, plus the other payloads
  fuzz_json            every JSON payload, plus hand-written edge cases (big
                       integers, surrogates, latin-1 bytes, nesting at the limit)
  fuzz_config          hand-written config files: the README's, every setting
                       with a good and a wrong type, broken JSON
  fuzz_session_key     keys.json and file_backend.json keys, stored session keys
  fuzz_pickle          every pickle in cache.json (Redis and memcached values,
                       FileBasedCache files and their inflated value pickles,
                       DatabaseCache rows), pickle_opcodes.json's protocol 0-5
                       pickles, signing.json's PickleSerializer payloads, plus
                       hand-written ones (refused globals, memo cycles, nesting)
"""

import argparse
import ast
import base64
import hashlib
import json
import shutil
import sys
import zlib
from pathlib import Path

MAX_FILES = 200
MAX_BYTES = 8192

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def to_bytes(text):
    """A vector string as the bytes sessionctl would read (latin-1 when it fits,
    which keeps JSON payloads byte-exact, else UTF-8)."""
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def b64url_decode(s):
    s = s.encode("ascii") if isinstance(s, str) else s
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def signed_payload_json(blob):
    """The JSON bytes inside "payload:ts:sig", or None."""
    try:
        value = blob.rsplit(":", 1)[0]
        payload = value.rsplit(":", 1)[0]
        compressed = payload.startswith(".")
        raw = b64url_decode(payload[1:] if compressed else payload)
        return zlib.decompress(raw) if compressed else raw
    except Exception:
        return None


def legacy_json(encoded):
    try:
        decoded = base64.b64decode(encoded)
        return decoded.split(b":", 1)[1]
    except Exception:
        return None


def load(data_dir, name):
    out = []
    for version_dir in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        path = version_dir / name
        if path.exists():
            out.append(json.loads(path.read_text(encoding="utf-8")))
    return out


def encoded_values(data_dir):
    values = []
    for doc in load(data_dir, "decode.json"):
        for case in doc["cases"]:
            for field in ("input", "encoded"):
                if field in case:
                    values.append(case[field])
    for doc in load(data_dir, "signing.json"):
        for case in doc["cases"]:
            values.append(case["encoded"])
    for doc in load(data_dir, "legacy.json"):
        for case in doc["cases"]:
            values.append(case["encoded"])
    for doc in load(data_dir, "signed_cookie.json"):
        for case in doc["cases"]:
            values.append(case["cookie_value"])
    for doc in load(data_dir, "file_backend.json"):
        for f in doc["files"]:
            values.append(f["content"])
    return [to_bytes(v) for v in values]


def json_payloads(data_dir):
    payloads = []
    for doc in load(data_dir, "signing.json"):
        for case in doc["cases"]:
            payloads.append(to_bytes(case["json"]))
    for doc in load(data_dir, "decode.json"):
        for case in doc["cases"]:
            for field in ("input", "encoded"):
                if field in case:
                    p = signed_payload_json(case[field])
                    if p is not None:
                        payloads.append(p)
    for doc in load(data_dir, "signed_cookie.json"):
        for case in doc["cases"]:
            p = signed_payload_json(case["cookie_value"])
            if p is not None:
                payloads.append(p)
    return payloads


def legacy_payloads(data_dir):
    out = []
    for doc in load(data_dir, "legacy.json"):
        for case in doc["cases"]:
            p = legacy_json(case["encoded"])
            if p is not None:
                out.append(p)
    return out


def payload_texts(data_dir):
    """signing.json's payload field ("eyJ..." or ".eJz..."): the raw-text mode."""
    out = []
    for doc in load(data_dir, "signing.json"):
        for case in doc["cases"]:
            out.append(to_bytes(case["payload"]))
            out.append(to_bytes(case["signed_value"]))
    return out


def json_edge_cases():
    cases = [
        b"", b" ", b"{}", b"[]", b"null", b"true", b"false", b"0", b"-0", b"-0.0", b"1.5e-07",
        b"1e16", b"1e400", b"-1e400", b"1e-400", b"5e-324", b"1.7976931348623157e308",
        b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808",
        b"-9223372036854775809", b"1" * 4300, b"1" * 4301, b"NaN", b"Infinity", b"-Infinity",
        b'{"x":NaN,"y":-Infinity,"z":Infinity}', b'"\\ud800"', b'"\\udc00"', b'"\\ud800\\udc00"',
        b'"\\udc00\\ud800"', b'"\\ud83d\\ude00"', b'"\\ud800\\u0041"', b'"\\ud800', b'"\\u00e9"',
        b'"\xe9\xff\x80"', b'"\xc3\xa9"', b'"\x7f"', b'"\\u0000\\u001f\\u007f"', b'"\x01"',
        b'"\\/\\b\\f\\n\\r\\t\\"\\\\"', b'"\\x"', b'"\\u12"', b'{"a":1,"a":2}', b'{"a":1,"b":2,"a":3}',
        b'{"a":1}x', b'{"a":1} ', b' \t\r\n{ "a" : [ 1 , 2 ] }\n', b'{"a" 1}', b'{"a":1,}', b'[1,]',
        b"[1 2]", b"{'a':1}", b"01", b"1.", b".5", b"1e", b"1e+", b"-", b"--1", b"tru", b"nul",
        b"[" * 512 + b"]" * 512, b"[" * 513 + b"]" * 513, b'{"a":' * 300 + b"1" + b"}" * 300,
        b'{"_session_expiry":"2023-11-15T22:13:20.750000+00:00","_auth_user_id":"42"}',
        # More keys than the parser indexes linearly (16), with duplicates before
        # and after that point: the last value wins, the first position stays.
        b"{" + b",".join(b'"k%d":%d' % (i, i) for i in range(40)) + b',"k3":"dup","k30":"dup","k3":[3]}',
    ]
    return cases


def config_cases():
    readme = {
        "SESSION_ENGINE": "django.contrib.sessions.backends.db",
        "SECRET_KEY_FILE": "/nonexistent/sessionctl-fuzz/secret_key",
        "SECRET_KEY_FALLBACKS_FILE": "/nonexistent/sessionctl-fuzz/old_keys",
        "SESSION_COOKIE_AGE": 1209600,
        "SESSION_COOKIE_NAME": "sessionid",
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/mysite/db.sqlite3"}},
    }
    good = {
        "SESSION_ENGINE": "db",
        "SECRET_KEY": "fuzz-config-secret-0123456789-abcdefghijklmnop",
        "SECRET_KEY_FILE": None,
        "SECRET_KEY_FALLBACKS": ["fuzz-config-fallback-0123456789-abcdefghijklmno"],
        "SECRET_KEY_FALLBACKS_FILE": None,
        "SESSION_COOKIE_AGE": 3600,
        "SESSION_COOKIE_NAME": "sid",
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": False,
        "SESSION_FILE_PATH": "/tmp",
        "SESSION_CACHE_ALIAS": "default",
        "SESSION_SERIALIZER": "django.contrib.sessions.serializers.JSONSerializer",
        "SESSION_STORE_CLASS": "SessionStore",
        "USE_TZ": False,
        "TIME_ZONE": "Europe/Paris",
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3",
                                  "OPTIONS": {"timeout": 5}}},
        "CACHES": {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                               "LOCATION": "redis://user:pw@127.0.0.1:6379/0"}},
    }
    wrong = {"SESSION_ENGINE": 1, "SECRET_KEY": ["x"], "SESSION_COOKIE_AGE": "3600", "USE_TZ": "yes",
             "SECRET_KEY_FALLBACKS": [1], "DATABASES": [], "SESSION_FILE_PATH": 3, "TIME_ZONE": None}
    out = [json.dumps(readme, indent=2).encode(), json.dumps(good).encode(), b"{}", b"[]", b"null",
           b'"a string"', b"", b"{", b'{"SESSION_ENGINE": "db",}', b'{"NOT_A_SETTING": 1}',
           b'{"SESSION_SERIALIZER": "django.contrib.sessions.serializers.PickleSerializer"}',
           b'{"DATABASES": {}}', b'{"DATABASES": {"default": 1}}', b'{"SECRET_KEY": ""}',
           b'{"SECRET_KEY_FILE": "/nonexistent/sessionctl-fuzz/key"}',
           b'{"SECRET_KEY": "s", "SECRET_KEY": "t"}', b'{"SESSION_COOKIE_AGE": 1e3}',
           b'{"SESSION_COOKIE_AGE": 99999999999999999999999}', b'{"TIME_ZONE": "\xff"}',
           b'\xef\xbb\xbf{"USE_TZ": true}', b'{"SESSION_ENGINE": "cached_db"} trailing']
    for key, value in good.items():
        out.append(json.dumps({key: value}).encode())
    for key, value in wrong.items():
        out.append(json.dumps({key: value}).encode())
    return out


def session_keys(data_dir):
    keys = []
    for doc in load(data_dir, "keys.json"):
        for case in doc["validate"]:
            value = ast.literal_eval(case["input_repr"])
            if isinstance(value, str):
                keys.append(value)
        keys.extend(doc["generated_key_samples_unpatched"])
    for doc in load(data_dir, "file_backend.json"):
        keys.extend(doc["key_validation"].keys())
        keys.extend(f["session_key"] for f in doc["files"])
    for doc in load(data_dir, "cache.json"):
        for section in ("memcached", "redis", "filebased"):
            if isinstance(doc.get(section), list):
                keys.extend(c["session_key"] for c in doc[section] if "session_key" in c)
    keys = [k.encode("utf-8") for k in keys]
    keys += [b"", b"../../../../etc/passwd", b"abcdefgh\x00ijkl", b"abcdefgh\n", b"ABCDEFGH", b"\x80" * 8,
             b"\xe9" * 8, b"\xc3\xa9" * 8, b"a\\b\\c\\d\\e\\f", b"sessionid" + b"a" * 32]
    return keys


def pickle_inputs(data_dir):
    out = []
    for doc in load(data_dir, "cache.json"):
        for section in ("redis", "memcached"):
            if isinstance(doc.get(section), list):
                out.extend(bytes.fromhex(c["value_hex"]) for c in doc[section]
                           if isinstance(c.get("value_hex"), str) and c.get("flags", 1) == 1)
        for f in doc.get("filebased", []):
            raw = bytes.fromhex(f["file_hex"])
            out.append(raw)
            offset = f.get("zlib_part_offset")
            if offset is None:
                continue
            try:
                out.append(zlib.decompress(raw[offset:]))
            except zlib.error:
                pass
        for r in doc.get("db_cache", {}).get("rows", []):
            out.extend(base64.b64decode(row[1]) for row in r["rows"])
    for doc in load(data_dir, "pickle_opcodes.json"):
        out.extend(bytes.fromhex(p["hex"]) for p in doc["same_dict_all_protocols"].values())
    for doc in load(data_dir, "signing.json"):
        cases = doc.get("pickle_serializer_cases")
        for case in cases if isinstance(cases, list) else []:
            out.append(bytes.fromhex(case["payload_pickle_hex"]))
    return out + pickle_edge_cases()


def pickle_edge_cases():
    """Pickles Django never writes but an attacker might: refused globals, a
    memo that refers to itself, deep nesting, huge counts in tiny inputs."""
    return [
        b"", b".", b"\x80\x05.", b"N.", b"\x80\x05N.",
        b"cos\nsystem\n(S'id'\ntR.",                                        # protocol 0 RCE
        b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.",
        b"\x80\x02cbuiltins\neval\nq\x00X\x04\x00\x00\x001+1q\x01\x85q\x02Rq\x03.",
        b"\x80\x05]\x94h\x00a.",                                            # list containing itself
        b"\x80\x05}\x94\x8c\x01a\x94h\x00s.",                              # dict containing itself
        b"\x80\x05" + b"]\x94" * 600 + b"a" * 599 + b".",                    # nesting past the limit
        b"\x80\x05" + b"(" * 600 + b".",                                        # open marks
        b"\x80\x05]\x94(K\x01K\x02e" + b"h\x00h\x00\x86\x94" * 30 + b".",    # memo fan-out
        b"\x80\x05\x8b\xff\xff\xff\x7f.",                                  # LONG4 length 2**31
        b"\x80\x05\x8d\xff\xff\xff\xff\xff\xff\xff\x7f.",                  # BINUNICODE8 huge length
        b"\x80\x05\x95\xff\xff\xff\xff\xff\xff\xff\x7fN.",                 # frame past the end
        b"\x80\x05X\x02\x00\x00\x00\xed\xa0.",                            # lone surrogate in UTF-8
        b"\x80\x05}\x94(K\x01K\x02G?\xf0\x00\x00\x00\x00\x00\x00K\x03\x88K\x04u.",  # 1, 1.0, True: one key
        b"\x80\x05}\x94K\x01K\x02\x86\x94K\x03s.",                          # tuple key: refused
        b"\x80\x05\x8c\x08datetime\x94\x8c\x08datetime\x94\x93\x94C\n\x07\xe8\x0d\x20\x19\x3c\x3c\x0f\x42\x40\x94\x85\x94R\x94.",
        b"\x80\x05\x8c\x07decimal\x94\x8c\x07Decimal\x94\x93\x94\x8c\x04-0E9\x94\x85\x94R\x94.",
    ]


def write_corpus(out_dir, target, inputs, clean):
    target_dir = out_dir / target
    if clean and target_dir.exists():
        shutil.rmtree(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    seen = set()
    written = 0
    for data in inputs:
        if len(data) > MAX_BYTES:
            continue
        name = hashlib.sha1(data).hexdigest()
        if name in seen:
            continue
        seen.add(name)
        if len(seen) > MAX_FILES:
            break
        (target_dir / name).write_bytes(data)
        written += 1
    total = sum(1 for p in target_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    print(f"{target}: {written} seeds written, {total} files in {target_dir.relative_to(ROOT)}")
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "data")
    parser.add_argument("--out", type=Path, default=HERE / "corpus")
    parser.add_argument("--clean", action="store_true", help="remove each target's corpus first")
    args = parser.parse_args()

    values = encoded_values(args.data)
    payloads = json_payloads(args.data)
    legacy = legacy_payloads(args.data)
    texts = payload_texts(args.data)
    edges = json_edge_cases()

    corpora = {
        "fuzz_session_decode": values,
        "fuzz_signed_payload": payloads + legacy + edges[:40] + texts,
        "fuzz_legacy": legacy + payloads + edges[:40],
        "fuzz_json": edges + payloads + legacy,
        "fuzz_config": config_cases(),
        "fuzz_session_key": session_keys(args.data),
        "fuzz_pickle": pickle_inputs(args.data),
    }
    for target, inputs in corpora.items():
        if write_corpus(args.out, target, inputs, args.clean) == 0:
            print(f"{target}: no seeds", file=sys.stderr)
            return 1
    for target in corpora:
        crashes = HERE / "crashes" / target
        crashes.mkdir(parents=True, exist_ok=True)
        (crashes / ".gitkeep").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
