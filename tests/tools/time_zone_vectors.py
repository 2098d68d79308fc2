#!/usr/bin/python3
"""Writes tests/data/time-zones/vectors.tsv: Python zoneinfo's make_naive and
make_aware (fold=0) for the zones and instants below, from this machine's
zoneinfo files, for tests/core/test_time_zone.cpp.

    /usr/bin/python3 tests/tools/time_zone_vectors.py > tests/data/time-zones/vectors.tsv

Instants lie in 2012..2030, whose rules tzdata no longer changes for these
zones, around every transition there (the hour before, the gap, the
repeated hour), and in 2038..2042 for zones whose rules look settled: past
the last transition of a "fat" TZif file (2037), where the file's POSIX TZ
footer decides.
Lines: zone, kind (u2w: UTC instant -> wall, w2u: wall -> instant), input and
output as Unix/wall microseconds.
"""
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

ZONES = ["America/New_York", "Europe/Paris", "Pacific/Kiritimati", "Asia/Kathmandu", "America/Sao_Paulo",
         "Australia/Lord_Howe", "Europe/Dublin", "Pacific/Apia", "America/St_Johns",
         "Australia/Sydney", "Pacific/Chatham", "UTC"]
EPOCH = datetime(1970, 1, 1)
RANGES = [(datetime(2012, 1, 1), datetime(2030, 12, 31), ZONES),
          # Morocco's future changes follow predicted Ramadan dates: only the past.
          (datetime(2012, 1, 1), datetime(2024, 12, 31), ["Africa/Casablanca"]),
          (datetime(2038, 1, 1), datetime(2042, 12, 31),
           ["America/New_York", "Europe/Paris", "Australia/Lord_Howe", "Europe/Dublin", "Pacific/Chatham",
            "America/St_Johns", "Australia/Sydney"])]


def micros(naive):
    return (naive - EPOCH) // timedelta(microseconds=1)


def rows(name, zone, lo, hi, rng):
    points = [(lo + (hi - lo) * rng.random(), [timedelta(0)]) for _ in range(20)]
    # Transitions: where the offset changes within 6 hours; find the hour,
    # then sample the UTC instants around it, and the wall clock around it
    # on both offsets (the gap and the repeated hour).
    t = lo
    while t < hi:
        before = t.replace(tzinfo=timezone.utc).astimezone(zone).utcoffset()
        if (t + timedelta(hours=6)).replace(tzinfo=timezone.utc).astimezone(zone).utcoffset() != before:
            while (t + timedelta(hours=1)).replace(tzinfo=timezone.utc).astimezone(zone).utcoffset() == before:
                t += timedelta(hours=1)
            after = (t + timedelta(hours=1)).replace(tzinfo=timezone.utc).astimezone(zone).utcoffset()
            for m in range(-60, 150, 53):
                p = t + timedelta(minutes=m, seconds=rng.randrange(60), microseconds=rng.randrange(1000000))
                points.append((p, [before, after]))
        t += timedelta(hours=6)
    for p, shifts in points:
        wall = p.replace(tzinfo=timezone.utc).astimezone(zone).replace(tzinfo=None)
        yield f"{name}\tu2w\t{micros(p)}\t{micros(wall)}"
        for shift in shifts:
            w = p + shift
            inst = w.replace(tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)
            yield f"{name}\tw2u\t{micros(w)}\t{micros(inst)}"


def main():
    rng = random.Random(16)
    print("# zone\tkind\tin_micros\tout_micros  (tests/tools/time_zone_vectors.py)")
    for lo, hi, zones in RANGES:
        for name in zones:
            for row in rows(name, ZoneInfo(name), lo, hi, rng):
                print(row)


main()
