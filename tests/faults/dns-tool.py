#!/usr/bin/env python3
"""A tiny DNS server and query client for the dns fault tests (stdlib only).

  dns-tool.py serve ADDR PORT
      answers UDP and TCP queries on ADDR (use "::" for IPv4 and IPv6): A queries
      get 192.0.2.1, other types an empty NOERROR answer; prints "listening".
  dns-tool.py query SERVER PORT NAME COUNT [--timeout S] [--gap S] [--edns] [--tcp]
      sends COUNT queries (each from a new socket, random id) and prints one line
      "sent=N noerror=N nxdomain=N servfail=N refused=N other=N timeout=N bad=N max_ms=F"
      where bad counts answers that do not fit the query (id, QR, question echoed
      byte for byte, the answer's source), and max_ms is the slowest answer.
"""
import random
import socket
import struct
import sys
import threading
import time

RCODES = {0: "noerror", 2: "servfail", 3: "nxdomain", 5: "refused"}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def question_end(msg):
    """Offset just past the first question (names in questions are never compressed here)."""
    pos = 12
    while msg[pos] != 0:
        pos += 1 + msg[pos]
    return pos + 1 + 4


def answer(query):
    if len(query) < 17:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    end = question_end(query)
    question = query[12:end]
    qtype = struct.unpack("!H", query[end - 4:end - 2])[0]
    rd = flags & 0x0100
    resp_flags = 0x8000 | 0x0400 | rd | (0x0080 if rd else 0)
    records = b""
    ancount = 0
    if qtype == 1:
        # The name as a pointer to the question (offset 12), A, IN, TTL 60, 192.0.2.1.
        records = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
        ancount = 1
    return struct.pack("!HHHHHH", qid, resp_flags, 1, ancount, 0, 0) + question + records


def serve_udp(sock):
    while True:
        data, peer = sock.recvfrom(4096)
        try:
            resp = answer(data)
        except (IndexError, struct.error):
            resp = None
        if resp:
            sock.sendto(resp, peer)


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def serve_tcp_conn(conn):
    try:
        while True:
            (length,) = struct.unpack("!H", recv_exact(conn, 2))
            resp = answer(recv_exact(conn, length))
            if resp:
                conn.sendall(struct.pack("!H", len(resp)) + resp)
    except (EOFError, OSError, IndexError, struct.error):
        pass
    finally:
        conn.close()


def serve(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    udp = socket.socket(fam, socket.SOCK_DGRAM)
    tcp = socket.socket(fam, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        tcp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    udp.bind((addr, port))
    tcp.bind((addr, port))
    tcp.listen(16)
    threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
    print("listening", flush=True)
    while True:
        conn, _ = tcp.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn,), daemon=True).start()


def build_query(name, edns):
    qid = random.randrange(65536)
    msg = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0) + encode_name(name) + b"\x00\x01\x00\x01"
    if edns:
        msg += b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
    return qid, msg


def check(resp, query):
    """The rcode of a well-formed answer to `query`, or None."""
    end = question_end(query)
    if len(resp) < end or resp[:2] != query[:2] or not resp[2] & 0x80:
        return None
    if resp[4:6] != b"\x00\x01" or resp[12:end] != query[12:end]:
        return None
    return resp[3] & 0x0f


def one_query(server, port, name, timeout, edns, tcp):
    fam = socket.AF_INET6 if ":" in server else socket.AF_INET
    _, msg = build_query(name, edns)
    s = socket.socket(fam, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    s.settimeout(timeout)
    start = time.monotonic()
    try:
        # connect(): the kernel only passes answers from the server's address and port.
        s.connect((server, port))
        if tcp:
            s.sendall(struct.pack("!H", len(msg)) + msg)
            (length,) = struct.unpack("!H", recv_exact(s, 2))
            resp = recv_exact(s, length)
        else:
            s.send(msg)
            resp = s.recv(4096)
    except (socket.timeout, EOFError, ConnectionError):
        return "timeout", None
    finally:
        s.close()
    ms = (time.monotonic() - start) * 1000
    rcode = check(resp, msg)
    if rcode is None:
        return "bad", ms
    return RCODES.get(rcode, "other"), ms


def query(args):
    server, port, name, count = args[0], int(args[1]), args[2], int(args[3])
    timeout, gap, edns, tcp = 1.0, 0.0, False, False
    i = 4
    while i < len(args):
        if args[i] == "--timeout":
            timeout = float(args[i + 1])
            i += 1
        elif args[i] == "--gap":
            gap = float(args[i + 1])
            i += 1
        elif args[i] == "--edns":
            edns = True
        elif args[i] == "--tcp":
            tcp = True
        i += 1
    counts = {k: 0 for k in ("noerror", "nxdomain", "servfail", "refused", "other", "timeout", "bad")}
    max_ms = 0.0
    for _ in range(count):
        result, ms = one_query(server, port, name, timeout, edns, tcp)
        counts[result] += 1
        if ms is not None:
            max_ms = max(max_ms, ms)
        if gap:
            time.sleep(gap)
    print("sent=%d %s max_ms=%.1f" % (count, " ".join("%s=%d" % kv for kv in counts.items()), max_ms))


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) >= 6 and sys.argv[1] == "query":
        query(sys.argv[2:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
