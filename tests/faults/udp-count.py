#!/usr/bin/env python3
"""UDP counting helper for the packet fault tests.

  udp-count.py recv PORT MAX_SECONDS     counts datagrams (IPv4 and IPv6) until SIGTERM
                                         or MAX_SECONDS; prints "received N"
  udp-count.py send HOST PORT COUNT [GAP_MS] [SRC_PORT]
                                         sends COUNT datagrams; prints "sent N errors E"
                                         (E: sendto() failures such as ENOBUFS)
"""
import signal
import socket
import sys
import time


class Stop(Exception):
    pass


def on_term(signum, frame):
    raise Stop()


def recv(port, max_seconds):
    signal.signal(signal.SIGTERM, on_term)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.settimeout(max_seconds)
    n = 0
    try:
        print("listening", flush=True)
        while True:
            s.recv(2048)
            n += 1
    except (Stop, socket.timeout):
        pass
    print("received %d" % n, flush=True)


def send(host, port, count, gap_ms, src_port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    # Without IP_RECVERR the kernel hides ENOBUFS from UDP senders; ping sets it,
    # so do we, to see every local send failure a drop could cause.
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, 25, 1)  # IPV6_RECVERR
    else:
        s.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR
    if src_port:
        s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", src_port))
    errors = 0
    sent = 0
    for i in range(count):
        try:
            s.sendto(b"x%06d" % i, (host, port))
            sent += 1
        except OSError:
            errors += 1
        if gap_ms:
            time.sleep(gap_ms / 1000.0)
    print("sent %d errors %d" % (sent, errors), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]), float(sys.argv[3]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
             float(sys.argv[5]) if len(sys.argv) > 5 else 0,
             int(sys.argv[6]) if len(sys.argv) > 6 else 0)
