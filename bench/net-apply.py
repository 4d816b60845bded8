#!/usr/bin/env python3
"""Time to apply and to revert one packet fault: through the chaos-agent API against
the tc / iptables command-line tools that other chaos tools run. Run it inside the
namespace whose eth0 gets the faults (bench/net-bench.sh does). Methods are interleaved
iteration by iteration; each iteration applies and reverts once per method.

The fault everywhere: drop 50 % of the packets arriving on eth0 from 192.0.2.0/24.
  agent:    POST /v1/faults packet-loss {probability 0.5, direction ingress,
            interfaces [eth0], match.src [192.0.2.0/24]}, then DELETE /v1/faults/ID
  iptables: iptables -A INPUT -i eth0 -s 192.0.2.0/24 -m statistic --mode random
            --probability 0.5 -j DROP, then the same with -D
  tc:       tc qdisc add dev eth0 root tbf ... / tc qdisc del dev eth0 root (what tools
            that shape with tc run per fault; netem itself is absent on this kernel)
  tc bpf:   tc qdisc add dev eth0 clsact + tc filter add ... bpf da obj OBJ, then
            tc qdisc del dev eth0 clsact (loading a BPF object with the tc tool)
"""
import argparse
import http.client
import json
import math
import socket
import subprocess
import sys
import time

FAULT = {"kind": "packet-loss", "duration": "10m",
         "params": {"probability": 0.5, "direction": "ingress", "interfaces": ["eth0"],
                    "match": {"src": ["192.0.2.0/24"]}}}
IPT_RULE = ["INPUT", "-i", "eth0", "-s", "192.0.2.0/24", "-m", "statistic", "--mode", "random",
            "--probability", "0.5", "-j", "DROP"]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("agent", timeout=30)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(self.unix_path)
        self.sock = s


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r.stdout


class AgentKeepAlive:
    """One connection kept open, as a scheduler or a long-lived client would."""
    def __init__(self, sock):
        self.conn = UnixHTTPConnection(sock)
        self.body = json.dumps(FAULT)

    def request(self, method, path, body=None, expect=200):
        headers = {"Content-Type": "application/json"} if body else {}
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        if r.status != expect:
            raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data[:300]))
        return data

    def apply(self):
        self.id = json.loads(self.request("POST", "/v1/faults", self.body, 201))["id"]

    def revert(self):
        self.request("DELETE", "/v1/faults/" + self.id)


class AgentCurl:
    """A new curl process per call, as a shell script driving the agent would."""
    def __init__(self, sock):
        self.sock = sock
        self.body = json.dumps(FAULT)

    def apply(self):
        out = run(["curl", "-sf", "--unix-socket", self.sock, "-H", "Content-Type: application/json",
                   "--data-binary", self.body, "http://agent/v1/faults"])
        self.id = json.loads(out)["id"]

    def revert(self):
        run(["curl", "-sf", "--unix-socket", self.sock, "-X", "DELETE", "http://agent/v1/faults/" + self.id])


def enter(netns):
    return ["nsenter", "--net=" + netns] if netns else []


class Iptables:
    def __init__(self, tool, netns=None):
        self.cmd = enter(netns) + [tool]

    def apply(self):
        run(self.cmd + ["-A"] + IPT_RULE)

    def revert(self):
        run(self.cmd + ["-D"] + IPT_RULE)


class TcTbf:
    def __init__(self, netns=None):
        self.cmd = enter(netns) + ["tc", "qdisc"]

    def apply(self):
        run(self.cmd + ["add", "dev", "eth0", "root", "tbf", "rate", "100mbit", "burst", "32kb", "latency", "50ms"])

    def revert(self):
        run(self.cmd + ["del", "dev", "eth0", "root"])


class TcBpf:
    def __init__(self, obj):
        self.obj = obj

    def apply(self):
        run(["tc", "qdisc", "add", "dev", "eth0", "clsact"])
        run(["tc", "filter", "add", "dev", "eth0", "ingress", "bpf", "da", "obj", self.obj, "sec", "tc"])

    def revert(self):
        run(["tc", "qdisc", "del", "dev", "eth0", "clsact"])


def pct(values, p):
    """Nearest rank."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--tcx-sock")
    ap.add_argument("--clsact-sock")
    ap.add_argument("--netns", help="path of this namespace (/run/netns/NAME) for the nsenter rows")
    ap.add_argument("--bpf-obj", help="a BPF object for the tc bpf row (e.g. faults/packet.bpf.o)")
    a = ap.parse_args()

    methods = []
    if a.tcx_sock:
        methods.append(("agent API tcx, kept-alive connection", AgentKeepAlive(a.tcx_sock)))
    if a.clsact_sock:
        methods.append(("agent API clsact, kept-alive connection", AgentKeepAlive(a.clsact_sock)))
    if a.tcx_sock:
        methods.append(("agent API tcx, curl process per call", AgentCurl(a.tcx_sock)))
    if a.clsact_sock:
        methods.append(("agent API clsact, curl process per call", AgentCurl(a.clsact_sock)))
    methods.append(("iptables (nf_tables) -A / -D", Iptables("iptables")))
    methods.append(("iptables-legacy -A / -D", Iptables("iptables-legacy")))
    methods.append(("tc qdisc add/del root tbf", TcTbf()))
    # A tool that enters the target's network namespace for every command pays that too.
    if a.netns:
        methods.append(("nsenter --net + iptables -A / -D", Iptables("iptables", a.netns)))
        methods.append(("nsenter --net + tc qdisc tbf", TcTbf(a.netns)))
    if a.bpf_obj:
        methods.append(("tc qdisc clsact + filter bpf obj / del", TcBpf(a.bpf_obj)))

    usable = []
    for name, m in methods:  # warm-up (first iptables call creates the table) and feasibility
        try:
            m.apply()
            m.revert()
            usable.append((name, m))
        except (RuntimeError, OSError) as e:
            print("# %s: unavailable here: %s" % (name, e), file=sys.stderr)

    times = {name: ([], []) for name, _ in usable}
    for i in range(a.n):
        for k in range(len(usable)):
            name, m = usable[(k + i) % len(usable)]
            t0 = time.perf_counter()
            m.apply()
            t1 = time.perf_counter()
            m.revert()
            t2 = time.perf_counter()
            times[name][0].append((t1 - t0) * 1000)
            times[name][1].append((t2 - t1) * 1000)

    ref = {}
    print("apply/revert of one fault, %d iterations each, interleaved; ms (p99 = nearest rank)" % a.n)
    print("%-42s %8s %8s %8s %8s" % ("method", "apply50", "apply99", "revert50", "revert99"))
    for name, _ in usable:
        ap_, rv = times[name]
        print("%-42s %8.2f %8.2f %8.2f %8.2f" % (name, pct(ap_, 50), pct(ap_, 99), pct(rv, 50), pct(rv, 99)))
        ref[name] = (pct(ap_, 50), pct(rv, 50))
    agents = [n for n in ref if n.startswith("agent") and "kept-alive" in n]
    tools = [n for n in ref if not n.startswith("agent")]
    if agents and tools:
        print("ratios of p50s, tool / agent (> 1: the agent is faster)")
        for t in tools:
            for g in agents:
                print("  %-38s vs %-40s apply %5.2fx  revert %5.2fx  apply+revert %5.2fx" % (
                    t, g, ref[t][0] / ref[g][0], ref[t][1] / ref[g][1],
                    (ref[t][0] + ref[t][1]) / (ref[g][0] + ref[g][1])))


if __name__ == "__main__":
    main()
