#!/usr/bin/env python3
"""The Django side of bench/run: each operation as an operator would write it
against the project in bench/benchsite (database: $BENCH_DB).

    django_ops.py clearsessions          call_command("clearsessions")
    django_ops.py delete-user ID         loop over Session.objects.iterator(),
                                         get_decoded(), delete() the user's sessions
    django_ops.py inspect-all            one JSON line per session on stdout
    django_ops.py stats [TOP]            what `sessionctl --json stats` reports, computed with
                                         Session.objects.iterator() and get_decoded()
    django_ops.py raw-delete             reference: one DELETE ... WHERE expire_date < now
                                         with a 256 MiB page cache (sqlite3 module, no Django)
    django_ops.py dump                   sha256 of SELECT * ... ORDER BY session_key, and the row count
"""

import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def setup():
    sys.path.insert(0, HERE)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
    import django

    django.setup()


def clearsessions():
    setup()
    from django.core.management import call_command

    call_command("clearsessions")


def delete_user(uid):
    setup()
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.models import Session

    deleted = 0
    for session in Session.objects.iterator():
        if session.get_decoded().get(SESSION_KEY) == uid:
            session.delete()
            deleted += 1
    print(deleted)


def inspect_all():
    setup()
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    now = timezone.now()
    write = sys.stdout.write
    dumps = json.dumps
    for s in Session.objects.iterator():
        data = s.get_decoded()
        write(dumps({"key": s.session_key, "data": data, "expire_date": s.expire_date.isoformat(),
                     "expired": s.expire_date <= now, "user_id": data.get(SESSION_KEY),
                     "size": len(s.session_data)}) + "\n")


def stats(top=10):
    """The figures of `sessionctl --json stats`, as Django sees the store.

    get_decoded() turns an undecodable session into {} (and logs it), so
    Django cannot tell those from anonymous ones: "undecodable" stays 0 and
    such sessions count as anonymous (the generated stores hold none)."""
    setup()
    import datetime
    from collections import Counter

    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    now = timezone.now()
    total = live = authenticated = 0
    per_user, live_per_user, sizes = Counter(), Counter(), Counter()
    buckets = Counter()
    limits = [("lt_1h", 1), ("lt_1d", 24), ("lt_7d", 7 * 24), ("lt_30d", 30 * 24)]
    for s in Session.objects.iterator():
        total += 1
        is_live = s.expire_date > now
        live += is_live
        sizes[len(s.session_data)] += 1
        if not is_live:
            buckets["expired"] += 1
        else:
            left = s.expire_date - now
            for name, hours in limits:
                if left < datetime.timedelta(hours=hours):
                    buckets[name] += 1
                    break
            else:
                buckets["later"] += 1
        uid = s.get_decoded().get(SESSION_KEY)
        if uid is not None:
            authenticated += 1
            uid = str(uid)
            per_user[uid] += 1
            live_per_user[uid] += is_live

    def rank(item):
        uid, n = item
        return (-n, 0, int(uid), "") if uid.isdigit() and (uid == "0" or uid[0] != "0") else (-n, 1, 0, uid)

    ordered = sorted(sizes.items())

    def nearest(p):
        wanted = max(1, -(-p * total // 100))
        seen = 0
        for size, n in ordered:
            seen += n
            if seen >= wanted:
                return size

    out = {
        "total": total, "live": live, "expired": total - live, "authenticated": authenticated,
        "anonymous": total - authenticated, "undecodable": 0, "users": len(per_user),
        "top_users": [{"user_id": u, "sessions": n, "live": live_per_user[u]}
                      for u, n in sorted(per_user.items(), key=rank)[:top]],
        "size": {"min": ordered[0][0] if total else None, "median": nearest(50) if total else None,
                 "p90": nearest(90) if total else None, "p99": nearest(99) if total else None,
                 "max": ordered[-1][0] if total else None,
                 "total": sum(size * n for size, n in ordered)},
        "expiry": {k: buckets[k] for k in ("expired", "lt_1h", "lt_1d", "lt_7d", "lt_30d", "later")},
    }
    print(json.dumps(out))


def raw_delete():
    import datetime
    import sqlite3

    conn = sqlite3.connect(os.environ["BENCH_DB"], isolation_level=None)
    conn.execute("PRAGMA cache_size = -262144")
    now = str(datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None))
    conn.execute('DELETE FROM "django_session" WHERE "expire_date" < ?', (now,))
    conn.close()


def dump():
    import sqlite3

    conn = sqlite3.connect(os.environ["BENCH_DB"])
    h = hashlib.sha256()
    n = 0
    for row in conn.execute('SELECT * FROM "django_session" ORDER BY "session_key"'):
        h.update(repr(row).encode())
        n += 1
    print(json.dumps({"sha256": h.hexdigest(), "rows": n}))


if __name__ == "__main__":
    op = sys.argv[1]
    if op == "clearsessions":
        clearsessions()
    elif op == "delete-user":
        delete_user(sys.argv[2])
    elif op == "inspect-all":
        inspect_all()
    elif op == "stats":
        stats(int(sys.argv[2]) if len(sys.argv) > 2 else 10)
    elif op == "raw-delete":
        raw_delete()
    elif op == "dump":
        dump()
    else:
        sys.exit("unknown operation %r" % op)
