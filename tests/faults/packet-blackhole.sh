#!/usr/bin/env bash
# blackhole: partitions by direction on both backends, IPv6, port matching, and the
# control-path exemption (ARP/NDP and the agent's API port) versus blackout.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-pk2
. "$CK_SOURCE_DIR/tests/faults/packet-lib.sh"
pk_require
pk_setup

# flows NS_WITH_FAULT: checks a->b and b->a; echoes "<a->b received> <b->a received> <errors>".
flows() {
	pk_udp "$PK_A" "$PK_B" 10.99.0.2 5000 50
	local ab=$PK_RECEIVED errors=$PK_ERRORS
	pk_udp "$PK_B" "$PK_A" 10.99.0.1 5000 50
	echo "$ab $PK_RECEIVED $((errors + PK_ERRORS))"
}

tested=0
for backend in tcx clsact; do
	pk_backend_supported "$backend" || { ck_log "backend $backend unsupported here"; continue; }
	tested=$((tested + 1))
	for dir in ingress egress both; do
		pk_start "$PK_B" "$backend" blackhole "{\"direction\": \"$dir\"}"
		got=$(flows)
		pk_stop
		case $dir in
		ingress) want="0 50 0" ;;
		egress) want="50 0 0" ;;
		both) want="0 0 0" ;;
		esac
		ck_expect_eq "$backend blackhole $dir on b: [a->b b->a send-errors]" "$want" "$got"
	done
done
[ "$tested" -gt 0 ] || ck_skip "neither tcx nor clsact works here"
backend=auto

# IPv6, and matching by port: only UDP to port 5000 vanishes.
pk_start "$PK_B" $backend blackhole '{"direction": "ingress", "match": {"protocol": "udp", "dst_ports": ["5000"], "src": ["fd99::/64"]}}'
pk_udp "$PK_A" "$PK_B" fd99::2 5000 50
ck_expect_eq "IPv6 UDP to the matched port is dropped" 0 "$PK_RECEIVED"
pk_udp "$PK_A" "$PK_B" fd99::2 5001 50
ck_expect_eq "IPv6 UDP to another port passes" 50 "$PK_RECEIVED"
pk_udp "$PK_A" "$PK_B" 10.99.0.2 5000 50
ck_expect_eq "IPv4 UDP to the port passes (src is IPv6-only)" 50 "$PK_RECEIVED"
pk_stop
ck_expect_eq "dropped counter" 50 "$(pk_stat packets_dropped)"

# Control path: with empty neighbour caches, the agent's port still answers over IPv4
# (ARP) and IPv6 (neighbour discovery) through a full blackhole; other ports do not.
pk_tcp_listen "$PK_B" 7070
pk_tcp_listen "$PK_B" 7071
ck_wait_for 5 pk_tcp_connects "$PK_A" 10.99.0.2 7071 || ck_die "TCP listener did not start"
pk_tcp_connects "$PK_A" fd99::2 7071 || ck_die "IPv6 TCP did not work before the fault"
flush() { ip -n "$PK_A" neigh flush all; ip -n "$PK_B" neigh flush all; }
flush
pk_start "$PK_B" $backend blackhole '{}' --control-port 7070
ck_check "control port reachable over IPv4 through a blackhole" pk_tcp_connects "$PK_A" 10.99.0.2 7070
ck_check "control port reachable over IPv6 through a blackhole" pk_tcp_connects "$PK_A" fd99::2 7070
ck_check "other port cut off" pk_not pk_tcp_connects "$PK_A" 10.99.0.2 7071
pk_stop
flush
pk_start "$PK_B" $backend blackhole '{"blackout": true}' --control-port 7070
ck_check "blackout cuts the control port too (IPv4)" pk_not pk_tcp_connects "$PK_A" 10.99.0.2 7070
ck_check "blackout cuts the control port too (IPv6)" pk_not pk_tcp_connects "$PK_A" fd99::2 7070
pk_stop
ck_check "control port reachable after revert" pk_tcp_connects "$PK_A" 10.99.0.2 7070
ck_finish
