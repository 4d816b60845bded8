#!/usr/bin/env python3
"""UDP helper of the packet-duplicate and packet-corrupt tests: datagrams whose
content follows from their sequence number, so the receiver can tell copies and
changed bytes apart.

  udp-check.py recv PORT MAX_SECONDS
      until SIGTERM or MAX_SECONDS, prints
      "received N distinct D twice T more M changed C" (T: sequence numbers seen
      exactly twice, M: seen more than twice, C: datagrams whose bytes differ)
  udp-check.py send HOST PORT COUNT GAP_MS SIZE [cork]
      sends COUNT datagrams of SIZE bytes; "cork" builds each one with MSG_MORE
      first, which makes the kernel compute the UDP checksum in software
      (CHECKSUM_NONE) instead of leaving it to the device (CHECKSUM_PARTIAL).
      Prints "sent N errors E".
"""
import socket
import sys

# Run from the source tree (as root): leave no __pycache__ there.
sys.dont_write_bytecode = True
import udp_common  # noqa: E402


def payload(seq, size):
    head = b"s%09d:" % seq
    body = bytes((seq * 7 + i * 13) & 0xff for i in range(size - len(head)))
    return head + body


def recv(port, max_seconds):
    seen = {}
    total = changed = 0

    def check(data):
        nonlocal total, changed
        total += 1
        try:
            seq = int(data[1:10])
            ok = data[:1] == b"s" and data == payload(seq, len(data))
        except ValueError:
            seq, ok = None, False
        if not ok:
            changed += 1
        if seq is not None:
            seen[seq] = seen.get(seq, 0) + 1

    udp_common.receive(port, max_seconds, check, rcvbuf=4 << 20)
    twice = sum(1 for n in seen.values() if n == 2)
    more = sum(1 for n in seen.values() if n > 2)
    print("received %d distinct %d twice %d more %d changed %d" % (total, len(seen), twice, more, changed),
          flush=True)


def send(host, port, count, gap_ms, size, cork):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.connect((host, port))

    def send_one(i):
        data = payload(i, size)
        if cork:
            s.send(data[:16], socket.MSG_MORE)
            s.send(data[16:])
        else:
            s.send(data)

    udp_common.send_counted(count, gap_ms, send_one)


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]), float(sys.argv[3]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]),
             len(sys.argv) > 7 and sys.argv[7] == "cork")
