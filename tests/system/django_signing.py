"""Django's session signing, without Django: what the fault and limit tests
(faults_test.py, limits_test.py) write into stores and feed to `decode`.

Mirrors django.core.signing (TimestampSigner, sha256, the "signer" key salt) as
SessionBase.encode uses it; the tests compare against real Django elsewhere.
"""

import base64
import hashlib
import hmac
import json
import time
import zlib

SALT = "django.contrib.sessions.SessionStore"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b62(n):
    out = ""
    while True:
        n, r = divmod(n, 62)
        out = B62[r] + out
        if n == 0:
            return out


def sign(payload, secret, salt=SALT):
    """TimestampSigner(key=secret, salt=salt).sign(payload): payload:timestamp:signature."""
    value = payload + ":" + b62(int(time.time()))
    key = hashlib.sha256((salt + "signer" + secret).encode()).digest()
    return value + ":" + b64(hmac.new(key, value.encode(), hashlib.sha256).digest())


def dumps(obj, secret, salt=SALT):
    """django.core.signing.dumps(obj, salt, compress=True) with JSONSerializer."""
    data = json.dumps(obj, separators=(",", ":")).encode("latin-1")
    payload = b64(data)
    z = zlib.compress(data)
    if len(z) < len(data) - 1:
        payload = "." + b64(z)
    return sign(payload, secret, salt)
