#!/usr/bin/python3
"""Race test of the file engine: `sessionctl clearsessions` against a live writer.

    file_race_test.py --sessionctl PATH [--files 5000] [--targets 500] [--rounds 6]
                      [--time-limit 45] [--keep]

Each round fills a fresh SESSION_FILE_PATH with --files expired sessions. The
content is real session data made by `sessionctl create`, and os.utime makes
each file's mtime 30 days old, so every file is expired by mtime. While
`sessionctl clearsessions` sweeps the directory, another process keeps
rewriting --targets of those sessions the way Django's FileStore.save() does:

  1. os.open(name, O_WRONLY) with no O_CREAT. A missing file is Django's
     UpdateError: the session was already gone, so it is not rewritten.
  2. tempfile.mkstemp(dir, prefix=name + "_out_"), then write and close.
  3. os.rename over the name. The new file has a fresh mtime, so it is live.

The writer follows the sweep: it watches which entries (in readdir order,
the order of the sweep) are already gone and rewrites each target when the
sweep front comes within --lookahead entries of it, so that many rewrites land
while the sweep is judging or about to unlink that very file. Targets the
sweep reached first are gone (Django's save() would raise UpdateError), which
is fine. Checks of each round:
  - sessionctl exits 0
  - every session the writer rewrote (its rename completed) still exists, and
    holds the content of its LAST rewrite. This is the point of the test: a
    sweep that judged the old file and unlinked it after the rename would lose
    a live session.
  - every expired file nobody rewrote is gone (the sweep did its job)
  - no `_out_` temporary file is left behind
Rounds stop early at --time-limit seconds (default 45), so a run stays under a
minute. Prints one PASS/FAIL line per round and `N passed, M failed` last. Exit
status 0 when all rounds passed, 1 otherwise, 2 on a usage error. Needs only
/usr/bin/python3 and the binary; Django is not needed.
"""

import argparse
import json
import multiprocessing as mp
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

PREFIX = "sessionid"
OLD = 30 * 86400


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def make_blobs(sessionctl, cfg, directory, count):
    """`count` distinct encoded sessions, made by sessionctl (then their files removed)."""
    blobs = []
    for i in range(count):
        p = run([sessionctl, "--config", cfg, "create", "--data", json.dumps({"round_blob": i, "cart": [1, 2, 3]})])
        if p.returncode != 0:
            sys.exit(f"file_race_test: sessionctl create failed ({p.returncode}): {p.stderr.strip()}")
        key = p.stdout.split()[0]
        path = os.path.join(directory, PREFIX + key)
        with open(path) as f:
            blobs.append(f.read())
        os.unlink(path)
    return blobs


def rewrite(directory, name, blob):
    """Django's FileStore.save() of an existing session; False on UpdateError."""
    path = os.path.join(directory, name)
    try:
        fd = os.open(path, os.O_WRONLY)
        os.close(fd)
    except FileNotFoundError:
        return False
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=name + "_out_")
    try:
        os.write(fd, blob.encode())
    finally:
        os.close(fd)
    os.rename(tmp, path)
    return True


def writer(directory, order, targets, blobs, lookahead, go, stop, conn):
    """Rewrites each target just before the sweep reaches it.

    The sweep front is the first file in readdir order that is not a target
    and still exists. Every target not yet handled within `lookahead` entries
    past the front gets rewritten, so that it is still stale when the sweep
    starts on it and is replaced while the sweep judges it."""
    is_target = set(targets)
    pos = {name: i for i, name in enumerate(order)}
    pending = sorted(targets, key=pos.get)
    last = {}      # name -> index of the blob of its last completed rewrite
    gone = []      # missing when the writer came (Django: UpdateError)
    total = 0
    go.wait()
    j = 0
    while not stop.is_set() and pending:
        # the sweep front: the first non-target entry that still exists
        while j < len(order) and (order[j] in is_target
                                  or not os.path.lexists(os.path.join(directory, order[j]))):
            j += 1
        while pending and pos[pending[0]] < j + lookahead:
            name = pending.pop(0)
            b = (last.get(name, -1) + 1) % len(blobs)
            if rewrite(directory, name, blobs[b]):
                last[name] = b
                total += 1
            else:
                gone.append(name)
    conn.send((last, sorted(gone), total))
    conn.close()


def one_round(n, args, work, blobs_cache):
    d = os.path.join(work, f"round{n}")
    sessions = os.path.join(d, "sessions")
    os.makedirs(sessions)
    secret = os.path.join(d, "secret_key")
    with open(secret, "w") as f:
        f.write(blobs_cache["secret"])
    os.chmod(secret, 0o600)
    cfg = os.path.join(d, "config.json")
    with open(cfg, "w") as f:
        json.dump({"SESSION_ENGINE": "django.contrib.sessions.backends.file", "SESSION_FILE_PATH": sessions,
                   "SECRET_KEY_FILE": secret, "USE_TZ": True, "TIME_ZONE": "UTC"}, f)
    if "blobs" not in blobs_cache:
        blobs_cache["blobs"] = make_blobs(args.sessionctl, cfg, sessions, 4)
    blobs = blobs_cache["blobs"]

    # --files expired sessions
    t_setup = time.monotonic()
    old = time.time() - OLD
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    for i in range(args.files):
        key = "".join(secrets.choice(alphabet) for _ in range(32))
        path = os.path.join(sessions, PREFIX + key)
        with open(path, "w") as f:
            f.write(blobs[i % len(blobs)])
        os.utime(path, (old, old))
    order = os.listdir(sessions)   # readdir order, as the sweep sees it
    step = max(1, len(order) // args.targets)
    targets = order[::step][: args.targets]

    setup = time.monotonic() - t_setup
    ctx = mp.get_context("fork")
    go, stop = ctx.Event(), ctx.Event()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=writer, args=(sessions, order, targets, blobs, args.lookahead, go, stop, child))
    proc.start()
    go.set()
    time.sleep(0.002)  # let the writer get going
    t0 = time.monotonic()
    p = subprocess.Popen([args.sessionctl, "--config", cfg, "--json", "clearsessions"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60)
    sweep = time.monotonic() - t0
    stop.set()
    last, gone, total = parent.recv()
    proc.join(timeout=30)

    problems = []
    if p.returncode != 0:
        problems.append(f"sessionctl exited {p.returncode}: {err.strip()}")
    left = set(os.listdir(sessions))
    lost = [nm for nm in last if nm not in left]
    wrong = []
    for nm, b in last.items():
        if nm in left:
            with open(os.path.join(sessions, nm)) as f:
                if f.read() != blobs[b]:
                    wrong.append(nm)
    if lost:
        problems.append(f"{len(lost)} rewritten sessions were deleted: {lost[:5]}")
    if wrong:
        problems.append(f"{len(wrong)} rewritten sessions do not hold their last rewrite: {wrong[:5]}")
    temps = [nm for nm in left if "_out_" in nm]
    if temps:
        problems.append(f"temporary files left: {temps[:5]}")
    stale_left = [nm for nm in left if nm not in last and "_out_" not in nm]
    if stale_left:
        problems.append(f"{len(stale_left)} expired files nobody rewrote survived the sweep: {stale_left[:5]}")
    try:
        deleted = json.loads(out).get("deleted")
    except ValueError:
        deleted = None
        problems.append(f"clearsessions --json printed {out!r}")
    summary = (f"{args.files} expired files, {len(targets)} targets; setup {setup:.1f}s, sweep "
               f"{sweep * 1000:.0f} ms, deleted {deleted}; {len(last)} rewritten during the sweep "
               f"({len(last) - len(lost)} kept), {len(gone)} swept before the writer came")
    if not args.keep and not problems:
        shutil.rmtree(d, ignore_errors=True)
    return problems, summary, d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessionctl", required=True)
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--targets", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--lookahead", type=int, default=50,
                    help="rewrite a target when the sweep front is this many entries before it (default 50)")
    ap.add_argument("--time-limit", type=float, default=45.0)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not (os.path.isfile(args.sessionctl) and os.access(args.sessionctl, os.X_OK)):
        print(f"file_race_test: error: {args.sessionctl} is not an executable file", file=sys.stderr)
        return 2
    if args.files < 1 or not 1 <= args.targets <= args.files or args.rounds < 1:
        print("file_race_test: error: need --files >= --targets >= 1 and --rounds >= 1", file=sys.stderr)
        return 2
    args.sessionctl = os.path.abspath(args.sessionctl)

    start = time.monotonic()
    work = tempfile.mkdtemp(prefix="sessionctl-file-race-")
    cache = {"secret": secrets.token_urlsafe(50)}
    passed = failed = 0
    for n in range(1, args.rounds + 1):
        elapsed = time.monotonic() - start
        if n > 1 and elapsed + elapsed / (n - 1) > args.time_limit:
            print(f"(stopped after {n - 1} rounds: --time-limit {args.time_limit:g}s)", flush=True)
            break
        try:
            problems, summary, d = one_round(n, args, work, cache)
        except Exception as e:  # noqa: BLE001
            problems, summary, d = [f"{type(e).__name__}: {e}"], "", os.path.join(work, f"round{n}")
        if problems:
            failed += 1
            print(f"FAIL round {n}: {summary}", flush=True)
            for pr in problems:
                print(f"    {pr}", flush=True)
            print(f"    (files kept in {d})", flush=True)
        else:
            passed += 1
            print(f"PASS round {n}: {summary}", flush=True)
    if not failed and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
