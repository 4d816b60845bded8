#!/usr/bin/env python3
"""TCP goodput between two namespaces, for the bandwidth tests.

  qdisc-tcp-rate.py server ADDR PORT    accepts one connection, prints "rate BITS_PER_S BYTES SECONDS"
                                        measured from 1 s after the first byte (past slow start and
                                        the token bucket's burst) to the last byte
  qdisc-tcp-rate.py client ADDR PORT SECONDS   sends as fast as it can for SECONDS
"""
import socket
import sys
import time

SKIP = 1.0


def server(addr, port):
    family = socket.AF_INET6 if ':' in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    print('listening', flush=True)
    s.settimeout(30)
    c, _ = s.accept()
    c.settimeout(30)
    first = None
    window_start = None
    window_bytes = 0
    last = None
    while True:
        data = c.recv(65536)
        if not data:
            break
        now = time.monotonic()
        if first is None:
            first = now
        if now - first >= SKIP:
            if window_start is None:
                window_start = now
            else:
                window_bytes += len(data)
            last = now
    if window_start is None or last is None or last - window_start < 0.5:
        print('rate 0 0 0 (transfer too short)')
        return 1
    seconds = last - window_start
    print('rate %d %d %.3f' % (window_bytes * 8 / seconds, window_bytes, seconds), flush=True)
    return 0


def client(addr, port, seconds):
    family = socket.AF_INET6 if ':' in addr else socket.AF_INET
    s = socket.create_connection((addr, port), timeout=10)
    del family
    buf = b'x' * 65536
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.sendall(buf)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(30)
    while s.recv(4096):
        pass
    return 0


if __name__ == '__main__':
    if sys.argv[1] == 'server':
        sys.exit(server(sys.argv[2], int(sys.argv[3])))
    sys.exit(client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
