#!/usr/bin/env python3
"""Measuring helper for the shaping tests (delay, reorder, bandwidth).

  shape-probe.py echo PORT MAX_SECONDS
      UDP echo (IPv4 and IPv6): answers each datagram with its payload, the
      kernel's receive time of it and its arrival number; prints "listening".
  shape-probe.py udp HOST PORT COUNT GAP_MS [SIZE]
      sends COUNT numbered, timestamped datagrams GAP_MS apart to an echo and
      prints one JSON line: one-way delays forward (client -> echo) and reverse,
      (from the echo's send, so its own latency is not counted) and RTT
      (each: n, min, p50, p99, max, mean, std in ms), and per direction
      how many packets overtook an earlier one ("overtakers").
  shape-probe.py sink PORT MAX_SECONDS
      TCP sink; prints one JSON line per connection: bytes and the steady rate
      (bits/s) from 1 s after the first byte to the last byte.
  shape-probe.py source HOST PORT SECONDS
      TCP source: sends as fast as it can for SECONDS.

Times are kernel receive timestamps (SO_TIMESTAMPNS, CLOCK_REALTIME, which
every network namespace of a host shares) against time.time_ns() at send.
"""
import json
import math
import select
import socket
import struct
import sys
import threading
import time

SO_TIMESTAMPNS = 35
HEADER = struct.Struct("!IQ")           # seq, client send time (ns)
REPLY = struct.Struct("!IQQQI")         # seq, client send time, echo receive and send times, echo arrival number


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def recv_stamped(s, size=65536):
    data, anc, _, addr = s.recvmsg(size, 64)
    stamp = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", payload[:16])
            stamp = sec * 1000000000 + nsec
    if stamp is None:
        stamp = time.time_ns()
    return data, stamp, addr


def echo(port, max_seconds):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("::", port))
    print("listening", flush=True)
    arrivals = 0
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], 0.5)
        if not r:
            continue
        data, stamp, addr = recv_stamped(s)
        if len(data) < HEADER.size:
            continue
        seq, sent = HEADER.unpack_from(data)
        reply = REPLY.pack(seq, sent, stamp, time.time_ns(), arrivals) + data[REPLY.size:]
        arrivals += 1
        s.sendto(reply, addr)


def summary(values_ns):
    v = sorted(values_ns)
    n = len(v)
    if n == 0:
        return {"n": 0}
    ms = [x / 1e6 for x in v]
    mean = sum(ms) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in ms) / n)

    def pct(p):
        return ms[min(n - 1, max(0, int(math.ceil(p * n)) - 1))]
    return {"n": n, "min": round(ms[0], 3), "p50": round(pct(0.5), 3), "p99": round(pct(0.99), 3),
            "max": round(ms[-1], 3), "mean": round(mean, 3), "std": round(std, 3)}


def overtakers(order):
    """How many packets arrived while a packet sent before them had not yet."""
    count = 0
    later_min = math.inf
    for seq in reversed(order):
        if later_min < seq:
            count += 1
        later_min = min(later_min, seq)
    return count


def udp(host, port, count, gap_ms, size):
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.connect((host, port))
    replies = []
    done = threading.Event()

    def receive():
        while not done.is_set() or len(replies) < count:
            r, _, _ = select.select([s], [], [], 0.2)
            if not r:
                if done.is_set():
                    return
                continue
            data, stamp, _ = recv_stamped(s)
            if len(data) >= REPLY.size:
                replies.append(REPLY.unpack_from(data) + (stamp,))

    t = threading.Thread(target=receive)
    t.start()
    pad = b"\0" * max(0, size - REPLY.size)
    start = time.monotonic()
    errors = 0
    for seq in range(count):
        wait = start + seq * gap_ms / 1000.0 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            s.send(HEADER.pack(seq, time.time_ns()) + pad)
        except OSError:
            errors += 1
    # Late replies: wait for as long as the slowest one so far took, at least 1 s.
    time.sleep(1.0)
    done.set()
    t.join()
    fwd = [echo_rx - sent for seq, sent, echo_rx, echo_tx, _, back in replies]
    rev = [back - echo_tx for seq, sent, echo_rx, echo_tx, _, back in replies]
    rtt = [back - sent for seq, sent, echo_rx, echo_tx, _, back in replies]
    by_echo_arrival = [r[0] for r in sorted(replies, key=lambda r: r[4])]
    print(json.dumps({
        "sent": count, "send_errors": errors, "received": len(replies),
        "forward": summary(fwd), "reverse": summary(rev), "rtt": summary(rtt),
        "forward_overtakers": overtakers(by_echo_arrival),
        # replies leave the echo in its arrival order: that order is the one to keep on the way back
        "reverse_overtakers": overtakers([r[4] for r in replies]),
    }), flush=True)


def sink(port, max_seconds):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.listen(4)
    s.settimeout(max_seconds)
    print("listening", flush=True)
    try:
        c, _ = s.accept()
    except socket.timeout:
        return
    c.settimeout(max_seconds)
    total = 0
    first = None
    mark_time = mark_bytes = None
    last = None
    while True:
        try:
            data = c.recv(1 << 16)
        except socket.timeout:
            break
        if not data:
            break
        now = time.monotonic()
        if first is None:
            first = now
        total += len(data)
        if mark_time is None and now - first >= 1.0:
            mark_time, mark_bytes = now, total
        last = now
    rate = None
    if mark_time is not None and last > mark_time:
        rate = (total - mark_bytes) * 8 / (last - mark_time)
    print(json.dumps({"bytes": total, "seconds": (last - first) if first else 0, "rate_bps": rate}), flush=True)


def source(host, port, seconds):
    s = socket.create_connection((host, port), timeout=10)
    chunk = b"x" * 65536
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.send(chunk)
    s.close()


def main():
    cmd = sys.argv[1]
    if cmd == "echo":
        echo(int(sys.argv[2]), float(sys.argv[3]))
    elif cmd == "udp":
        size = int(sys.argv[6]) if len(sys.argv) > 6 else 64
        udp(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), size)
    elif cmd == "sink":
        sink(int(sys.argv[2]), float(sys.argv[3]))
    elif cmd == "source":
        source(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
