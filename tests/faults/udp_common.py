"""Shared by udp-count.py and udp-check.py: a dual-stack UDP receiver that runs
until SIGTERM or a deadline, and a sender loop that counts its failures."""
import signal
import socket
import time


class Stop(Exception):
    pass


def _on_term(signum, frame):
    raise Stop()


def receive(port, max_seconds, on_datagram, rcvbuf=0):
    """Binds [::]:PORT (IPv4 too), prints "listening", then calls on_datagram(bytes)
    for each datagram until SIGTERM or MAX_SECONDS without one."""
    signal.signal(signal.SIGTERM, _on_term)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind(("::", port))
    s.settimeout(max_seconds)
    try:
        print("listening", flush=True)
        while True:
            on_datagram(s.recv(65536))
    except (Stop, socket.timeout):
        pass


def send_counted(count, gap_ms, send_one):
    """Calls send_one(i) COUNT times, GAP_MS apart; prints "sent N errors E"
    (E: calls that raised OSError, such as ENOBUFS)."""
    sent = errors = 0
    for i in range(count):
        try:
            send_one(i)
            sent += 1
        except OSError:
            errors += 1
        if gap_ms:
            time.sleep(gap_ms / 1000.0)
    print("sent %d errors %d" % (sent, errors), flush=True)
