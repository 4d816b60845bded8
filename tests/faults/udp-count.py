#!/usr/bin/env python3
"""UDP counting helper for the packet fault tests.

  udp-count.py recv PORT MAX_SECONDS     counts datagrams (IPv4 and IPv6) until SIGTERM
                                         or MAX_SECONDS; prints "received N"
  udp-count.py send HOST PORT COUNT [GAP_MS] [SRC_PORT]
                                         sends COUNT datagrams; prints "sent N errors E"
                                         (E: sendto() failures such as ENOBUFS)
"""
import socket
import sys

# Run from the source tree (as root): leave no __pycache__ there.
sys.dont_write_bytecode = True
import udp_common  # noqa: E402


def recv(port, max_seconds):
    received = 0

    def count(data):
        nonlocal received
        received += 1

    udp_common.receive(port, max_seconds, count)
    print("received %d" % received, flush=True)


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
    udp_common.send_counted(count, gap_ms, lambda i: s.sendto(b"x%06d" % i, (host, port)))


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]), float(sys.argv[3]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
             float(sys.argv[5]) if len(sys.argv) > 5 else 0,
             int(sys.argv[6]) if len(sys.argv) > 6 else 0)
