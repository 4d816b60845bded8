#!/usr/bin/env python3
"""UDP helpers for qdisc-netem.sh.

  qdisc-netem-udp.py echo ADDR PORT SECONDS       echoes datagrams back for SECONDS
  qdisc-netem-udp.py rtt ADDR PORT COUNT          prints "rtt_ms P50 MAX" over COUNT pings (20 ms apart)
  qdisc-netem-udp.py sink ADDR PORT SECONDS       prints "order RECEIVED OUT_OF_ORDER" of numbered datagrams
  qdisc-netem-udp.py burst ADDR PORT COUNT        sends COUNT numbered datagrams, 1 ms apart
"""
import socket
import struct
import sys
import time


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    arg = float(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if mode in ('echo', 'sink'):
        s.bind((addr, port))
        print('listening', flush=True)
        s.settimeout(0.2)
        end = time.monotonic() + arg
        received, disorder, last = 0, 0, -1
        while time.monotonic() < end:
            try:
                data, peer = s.recvfrom(2048)
            except socket.timeout:
                continue
            if mode == 'echo':
                s.sendto(data, peer)
                continue
            (n,) = struct.unpack('!I', data[:4])
            received += 1
            if n < last:
                disorder += 1
            last = max(last, n)
        if mode == 'sink':
            print('order %d %d' % (received, disorder), flush=True)
        return 0
    if mode == 'burst':
        for n in range(int(arg)):
            s.sendto(struct.pack('!I', n) + b'x' * 100, (addr, port))
            time.sleep(0.001)
        return 0
    s.settimeout(2)
    rtts = []
    for n in range(int(arg)):
        t0 = time.monotonic()
        s.sendto(struct.pack('!I', n), (addr, port))
        try:
            while True:
                data, _ = s.recvfrom(2048)
                if struct.unpack('!I', data[:4])[0] == n:
                    break
        except socket.timeout:
            continue
        rtts.append((time.monotonic() - t0) * 1000)
        time.sleep(0.02)
    if not rtts:
        print('rtt_ms 0 0')
        return 1
    rtts.sort()
    print('rtt_ms %.2f %.2f' % (rtts[len(rtts) // 2], rtts[-1]), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
