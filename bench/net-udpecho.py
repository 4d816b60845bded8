#!/usr/bin/env python3
"""UDP ping-pong for the delay benchmark (bench/net-delay.sh).

  net-udpecho.py server PORT
      echoes every datagram back to its sender, until killed.
  net-udpecho.py rtt ADDR PORT [--count 1000] [--rate 100]
      sends COUNT probes at RATE per second; prints the round-trip times (p50, p99, min,
      max in ms) and the loss.
  net-udpecho.py rate ADDR PORT [--rates 1000,2000,...] [--seconds 2]
      for each rate, sends probes paced at that rate for SECONDS; prints sent/s, echoed/s,
      loss and RTT p50/p99; then the highest rate that kept loss under 1 % (stops at the
      first rate above it, or when this sender cannot reach the rate itself).

Each probe is 64 bytes: sequence number and send time (CLOCK_MONOTONIC, ns). One
non-blocking socket in one thread: sends when due, reads echoes in between.
"""
import argparse
import math
import select
import socket
import struct
import sys
import time

PROBE = struct.Struct("!QQ")
SIZE = 64
GRACE_S = 1.0   # echoes are awaited this long after the last send (plus the highest RTT seen)


def server(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", port))
    print("listening", flush=True)
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def run(addr, port, rate, count):
    """Sends `count` probes at `rate`/s; returns (sent, rtts_ms, send_seconds, reordered)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.connect((addr, port))
    s.setblocking(False)
    pad = b"\0" * (SIZE - PROBE.size)
    period = 1e9 / rate
    rtts = []
    seen = set()
    last_seq = -1
    reordered = 0
    sent = 0
    start = time.monotonic_ns()
    next_due = start
    end_wait = None

    def drain():
        nonlocal last_seq, reordered
        while True:
            try:
                data = s.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            if len(data) < PROBE.size:
                continue
            seq, t = PROBE.unpack_from(data)
            if seq in seen:
                continue
            seen.add(seq)
            if seq < last_seq:
                reordered += 1
            last_seq = max(last_seq, seq)
            rtts.append((time.monotonic_ns() - t) / 1e6)

    send_end = start
    while True:
        now = time.monotonic_ns()
        if sent < count:
            # Catch up on every probe that is due (bounded, so reading is not starved).
            burst = 0
            while sent < count and next_due <= now and burst < 64:
                try:
                    s.send(PROBE.pack(sent, time.monotonic_ns()) + pad)
                except (BlockingIOError, InterruptedError, ConnectionRefusedError):
                    pass   # counted as sent: a full socket buffer is a loss of the path under test
                sent += 1
                burst += 1
                next_due += period
            if sent == count:
                send_end = time.monotonic_ns()
                end_wait = send_end + int((GRACE_S + (max(rtts) / 1e3 if rtts else 0)) * 1e9)
        drain()
        if sent == count:
            if len(seen) == count or time.monotonic_ns() >= end_wait:
                break
            timeout = max(0, (end_wait - time.monotonic_ns()) / 1e9)
        else:
            timeout = max(0, (next_due - time.monotonic_ns()) / 1e9)
        if timeout > 0:
            select.select([s], [], [], min(timeout, 0.05))
    s.close()
    return sent, rtts, (send_end - start) / 1e9, reordered


def rtt_mode(a):
    sent, rtts, _, reordered = run(a.addr, a.port, a.rate, a.count)
    loss = 100.0 * (sent - len(rtts)) / sent
    print("rtt sent %d echoed %d loss %.2f%% reordered %d p50 %.3f p99 %.3f min %.3f max %.3f ms" % (
        sent, len(rtts), loss, reordered, pct(rtts, 50), pct(rtts, 99), min(rtts, default=float("nan")),
        max(rtts, default=float("nan"))))


def rate_mode(a):
    best = 0
    for rate in [int(r) for r in a.rates.split(",")]:
        count = int(rate * a.seconds)
        sent, rtts, secs, reordered = run(a.addr, a.port, rate, count)
        achieved = sent / secs if secs > 0 else 0
        loss = 100.0 * (sent - len(rtts)) / sent
        print("rate %d/s sent %.0f/s echoed %.0f/s loss %.2f%% reordered %d p50 %.3f p99 %.3f ms" % (
            rate, achieved, len(rtts) / secs if secs > 0 else 0, loss, reordered, pct(rtts, 50), pct(rtts, 99)),
            flush=True)
        if achieved < 0.95 * rate:
            print("sender limit: this tool reached only %.0f/s" % achieved)
            break
        if loss >= 1.0:
            break
        best = rate
    print("max rate with loss < 1%%: %d packets/s" % best)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("server")
    p.add_argument("port", type=int)
    p = sub.add_parser("rtt")
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--rate", type=float, default=100)
    p = sub.add_parser("rate")
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("--rates", default="1000,2000,5000,10000,20000,40000,80000")
    p.add_argument("--seconds", type=float, default=2)
    a = ap.parse_args()
    if a.mode == "server":
        server(a.port)
    elif a.mode == "rtt":
        rtt_mode(a)
    else:
        rate_mode(a)


if __name__ == "__main__":
    sys.exit(main())
