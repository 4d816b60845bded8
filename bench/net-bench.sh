#!/usr/bin/env bash
# Network fault benchmarks on one veth pair (docs/performance.md "Network faults"):
#  1. per-packet cost of a packet fault that matches nothing (BPF_PROG_TEST_RUN, bench/net-overhead);
#  2. throughput through the veth pair: no fault / the same fault applied through a chaos-agent
#     (tcx and clsact) / an iptables rule with the same match; TCP (iperf3) and 64-byte UDP
#     (iperf3 -u), configurations interleaved round by round, medians and ratios;
#  3. time to apply and revert a fault: agent API against tc / iptables command lines (net-apply.py).
# usage: sudo bench/net-bench.sh --build BUILD_DIR [--rounds 15] [--seconds 2] [--n 50]
#                                [--only overhead|cpu|throughput|apply]
# Needs root, iperf3, iptables, nft (nftables), python3, curl. Runs in namespaces ckt-bench-*.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/net-lib.sh"
nb_parse_build "$@"
ROUNDS=15 SECONDS_PER_RUN=2 N=50 ONLY=""
set -- "${NB_ARGS[@]+"${NB_ARGS[@]}"}"
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift 2 ;;
	--seconds) SECONDS_PER_RUN=$2; shift 2 ;;
	--n) N=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	*) nb_die "unknown option $1" ;;
	esac
done
for tool in iperf3 iptables iptables-legacy nft python3 curl; do
	command -v "$tool" >/dev/null || nb_die "$tool is not installed"
done
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

nb_machine
if want overhead; then
	[ -x "$NB_BUILD/bench/net-overhead" ] || nb_die "bench/net-overhead not built"
	echo
	echo "== 1. per-packet cost in the kernel (BPF_PROG_TEST_RUN) =="
	"$NB_BUILD/bench/net-overhead" --rounds 9 --repeat 1000000
	"$NB_BUILD/bench/net-overhead" --rounds 9 --repeat 1000000 --ipv6
fi
want throughput || want cpu || want apply || exit 0
UDPECHO="$NB_BUILD/bench/net-udpecho"
[ -x "$UDPECHO" ] || nb_die "bench/net-udpecho not built"

nb_setup
nb_agent tcx 'packet_backend = "tcx";'
SOCK_TCX=$NB_SOCK
nb_agent clsact 'packet_backend = "clsact";'
SOCK_CLSACT=$NB_SOCK

# The fault of the throughput runs: matches nothing (TEST-NET-1), both directions on eth0.
FAULT='{"kind":"packet-loss","duration":"30m","params":{"probability":0.5,"direction":"both","match":{"peers":["192.0.2.0/24"]}}}'
IPT_IN=(INPUT -s 192.0.2.0/24 -m statistic --mode random --probability 0.5 -j DROP)
IPT_OUT=(OUTPUT -d 192.0.2.0/24 -m statistic --mode random --probability 0.5 -j DROP)
FAULT_ID=""

config_on() {
	case "$1" in
	none) ;;
	tcx|clsact)
		local sock=$SOCK_TCX r
		[ "$1" = clsact ] && sock=$SOCK_CLSACT
		r=$(ckagt_req "$sock" POST /v1/faults "$FAULT")
		[ "${r%% *}" = 201 ] || nb_die "apply on $1: $r"
		FAULT_ID=$(ckagt_json id <<<"${r#* }")
		local backend
		backend=$(ckagt_req "$sock" GET "/v1/faults/$FAULT_ID")
		grep -q "\"backend\": *\"$1\"" <<<"$backend" || nb_die "fault does not run on $1: $backend"
		;;
	iptables)
		ip netns exec "$NB_B" iptables -A "${IPT_IN[@]}"
		ip netns exec "$NB_B" iptables -A "${IPT_OUT[@]}"
		;;
	esac
}
config_off() {
	case "$1" in
	tcx|clsact)
		local sock=$SOCK_TCX r
		[ "$1" = clsact ] && sock=$SOCK_CLSACT
		r=$(ckagt_req "$sock" DELETE "/v1/faults/$FAULT_ID")
		[ "${r%% *}" = 200 ] || nb_die "revert on $1: $r"
		;;
	iptables)
		# Deleting the rules would leave the table and its hooks: "none" must have no netfilter at all.
		ip netns exec "$NB_B" nft delete table ip filter
		;;
	esac
}

if want throughput || want cpu; then
	ip netns exec "$NB_B" iperf3 -s -p 5201 >/dev/null 2>&1 &
	NB_PIDS+=($!)
	ip netns exec "$NB_B" "$UDPECHO" sink 7001 >/dev/null &
	NB_PIDS+=($!)
	sleep 0.5
	CONFIGS=(none tcx clsact iptables)
	RES="$NB_TMP/throughput"
	: >"$RES"
	nb_log "throughput: $ROUNDS rounds x ${#CONFIGS[@]} configurations x (TCP + UDP) x ${SECONDS_PER_RUN}s"
	for ((round = 0; round < ROUNDS; round++)); do
		for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
			cfg=${CONFIGS[$(((k + round) % ${#CONFIGS[@]}))]}
			config_on "$cfg"
			# CPU time of one sending thread per datagram: veth delivers in the sender's
			# context, so this is the whole path's cost, and hardly depends on other load.
			cpu=$(ip netns exec "$NB_A" taskset -c 0 "$UDPECHO" blast "$NB_ADDR_B" 7001 500000 |
				sed -n 's/.*cpu_ns_per_packet \([0-9.]*\).*/\1/p')
			if [ "$ONLY" = cpu ]; then
				config_off "$cfg"
				echo "$round $cfg $cpu 1 1 1 1" >>"$RES"
				nb_log "round $((round + 1)) $cfg: $cpu ns CPU per datagram"
				continue
			fi
			# iperf3 reports its own CPU (client "host", server "remote"); softirq work done in
			# a process's context, i.e. the tc programs on this veth pair, is charged to it.
			tcp=$(ip netns exec "$NB_A" iperf3 -c "$NB_ADDR_B" -p 5201 -A 0,1 -t "$SECONDS_PER_RUN" -J |
				python3 -c 'import json,sys
e = json.load(sys.stdin)["end"]; r = e["sum_received"]; c = e["cpu_utilization_percent"]
cpu_s = (c["host_total"] + c["remote_total"]) / 100 * r["seconds"]
print(r["bits_per_second"] / 1e9, cpu_s * 1e3 / (r["bytes"] / 1e9))')
			udp=$(ip netns exec "$NB_A" iperf3 -c "$NB_ADDR_B" -p 5201 -A 0,1 -u -b 0 -l 64 -t "$SECONDS_PER_RUN" -J |
				python3 -c 'import json,sys
e = json.load(sys.stdin)["end"]; s = e["sum"]; c = e["cpu_utilization_percent"]
cpu_s = (c["host_total"] + c["remote_total"]) / 100 * s["seconds"]
print((s["packets"] - s["lost_packets"]) / s["seconds"] / 1e3, cpu_s * 1e6 / s["packets"])')
			config_off "$cfg"
			echo "$round $cfg $cpu $tcp $udp" >>"$RES"
			nb_log "round $((round + 1)) $cfg: datagram CPU ns $cpu; TCP Gbit/s, CPU ms/GB: $tcp; UDP-64 kpkt/s received, CPU us/pkt sent: $udp"
		done
	done
	echo
	echo "== 2. cost through the stack on the veth pair, $ROUNDS interleaved rounds per configuration =="
	echo "fault: packet-loss 0.5, direction both, match.peers 192.0.2.0/24 (matches nothing); iptables: the"
	echo "same match in INPUT (-s) and OUTPUT (-d) with -m statistic, nf_tables backend, table removed after each run"
	echo "vs none = median over the rounds of (config / none of the same round), range = min-max of those"
	echo "ratios: pairs measured seconds apart cancel most of the drift of a shared machine"
	echo "datagram CPU = CPU ns of one sending thread per 64-byte UDP datagram, receive path and tc included"
	echo "(500000 per run, sendmmsg; the receiving socket never reads, so they are dropped after tc);"
	echo "iperf3 CPU = client + server CPU time (softirq in their context included) per GB / per packet sent"
	python3 - "$RES" "${ONLY:-all}" <<'EOF'
import sys, statistics
runs = {}
for line in open(sys.argv[1]):
    f = line.split()
    runs.setdefault(f[1], {})[int(f[0])] = [float(x) for x in f[2:7]]
base = runs["none"]
names = ["datagram CPU ns", "TCP Gbit/s", "TCP CPU ms/GB", "UDP-64 kpkt/s", "UDP-64 CPU us/pkt"]
if sys.argv[2] == "cpu":
    names = names[:1]
print("%-9s" % "config" + "".join("%19s %15s" % (n, "vs none (range)") for n in names))
for c in ["none", "tcx", "clsact", "iptables"]:
    rs = sorted(r for r in runs[c] if r in base)
    line = "%-9s" % c
    for i in range(len(names)):
        med = statistics.median(runs[c][r][i] for r in rs)
        ratios = [runs[c][r][i] / base[r][i] for r in rs]
        line += "%19.2f %+6.1f%% (%.2f-%.2f)" % (med, 100 * (statistics.median(ratios) - 1), min(ratios), max(ratios))
    print(line)
EOF
fi

if want apply; then
	BPF_OBJ="$NB_BUILD/faults/packet.bpf.o"
	echo
	echo "== 3. apply and revert one fault, $N times per method =="
	ip netns exec "$NB_B" python3 "$NB_SRC/bench/net-apply.py" --n "$N" --tcx-sock "$SOCK_TCX" \
		--clsact-sock "$SOCK_CLSACT" --bpf-obj "$BPF_OBJ" --netns "/run/netns/$NB_B"
fi
