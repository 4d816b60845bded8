#!/usr/bin/env python3
"""Victim for the io-fault tests: file operations whose outcome (errno name per
call) and duration are printed as one JSON line.

  write-fsync FILE N   open FILE once, N times: write 4 KiB, fsync
  read FILE N          N times: pread 4 KiB at offset 0 from an fd opened once
  ops FILE N           N times: open(O_CREAT)+write+close (counts each step)
  held FILE GO N       open FILE, create GO.open, wait for GO to exist, then as write-fsync
"""
import errno
import json
import os
import sys
import time

def outcome(fn):
    t = time.monotonic()
    try:
        fn()
        r = "ok"
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    return r, (time.monotonic() - t) * 1000.0

def count(tally, step, r):
    tally.setdefault(step, {}).setdefault(r, 0)
    tally[step][r] += 1

def main():
    what, path = sys.argv[1], sys.argv[2]
    n = int(sys.argv[4] if what == "held" else sys.argv[3])
    tally, ms = {}, {}
    block = b"x" * 4096
    if what in ("write-fsync", "held"):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if what == "held":
            go = sys.argv[3]
            open(go + ".open", "w").close()
            while not os.path.exists(go):
                time.sleep(0.02)
        for _ in range(n):
            r, _t = outcome(lambda: os.write(fd, block))
            count(tally, "write", r)
            r, t = outcome(lambda: os.fsync(fd))
            count(tally, "fsync", r)
            ms.setdefault("fsync", []).append(t)
        r, _t = outcome(lambda: os.close(fd))
        count(tally, "close", r)
    elif what == "read":
        fd = os.open(path, os.O_RDONLY)
        for _ in range(n):
            r, t = outcome(lambda: os.pread(fd, 4096, 0))
            count(tally, "read", r)
            ms.setdefault("read", []).append(t)
        os.close(fd)
    elif what == "ops":
        for _ in range(n):
            holder = {}
            r, _t = outcome(lambda: holder.setdefault("fd", os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)))
            count(tally, "open", r)
            if r == "ok":
                r, _t = outcome(lambda: os.write(holder["fd"], block))
                count(tally, "write", r)
                r, _t = outcome(lambda: os.close(holder["fd"]))
                count(tally, "close", r)
    else:
        sys.exit("unknown action " + what)
    for k, v in ms.items():
        v.sort()
        ms[k] = {"p50": v[len(v) // 2], "p99": v[min(len(v) - 1, int(len(v) * 0.99))], "n": len(v),
                 "min": v[0], "max": v[-1]}
    print(json.dumps({"tally": tally, "ms": ms}))

main()
