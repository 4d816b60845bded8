#!/usr/bin/env bash
# Per-service scope: a blackhole limited to one cgroup v2 (through a real agent).
# In namespace A a victim process (inside cgroup ckt-cg-victim) and a bystander (not)
# talk to namespace B over UDP and TCP, IPv4 and IPv6: only the victim's traffic is
# dropped, on egress and on ingress; after DELETE everything flows again.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-cg
. "$CK_SOURCE_DIR/tests/faults/scope-lib.sh"
sc_require
sc_setup
sc_agent $A
N=40

# udp_in PARAMS_SCOPE ADDR_A: B sends N datagrams to a victim receiver and to a
# bystander receiver in A; prints "VICTIM_GOT BYSTANDER_GOT".
udp_in() {
	local addr=$1 vp vo bp bo
	sc_udp_recv "$VICTIM" $A 5001; vp=$SC_RPID vo=$SC_ROUT
	sc_udp_recv - $A 5002; bp=$SC_RPID bo=$SC_ROUT
	sc_udp_send - $B "$addr" 5001 $N >/dev/null
	sc_udp_send - $B "$addr" 5002 $N >/dev/null
	echo "$(sc_udp_count $vp "$vo") $(sc_udp_count $bp "$bo")"
}
# udp_out ADDR_B: the victim and the bystander in A each send N datagrams to B.
udp_out() {
	local addr=$1 rp ro v b
	sc_udp_recv - $B 5003; rp=$SC_RPID ro=$SC_ROUT
	v=$(sc_udp_send "$VICTIM" $A "$addr" 5003 $N)
	b=$(sc_udp_send - $A "$addr" 5003 $N)
	echo "$(sc_udp_count $rp "$ro") $v $b"
}

# Nothing is dropped before any fault.
read -r v b <<<"$(udp_in 10.99.0.1)"
ck_expect_eq "no fault: victim receives" "$N $N" "$v $b"

# --- ingress: UDP over IPv4 and IPv6, scope by cgroup path ----------------------------
sc_apply blackhole '{"direction":"ingress","scope":{"cgroup":"ckt-cg-victim"}}' ||
	ck_die "blackhole with scope refused: $SC_RESP"
for addr in 10.99.0.1 fd99::1; do
	read -r v b <<<"$(udp_in $addr)"
	ck_log "ingress udp $addr: victim got $v, bystander got $b of $N"
	ck_expect_eq "ingress udp $addr: the victim receives nothing" 0 "$v"
	ck_expect_eq "ingress udp $addr: the bystander receives everything" $N "$b"
done
ck_expect_eq "ingress: packets_dropped counts only the victim's datagrams" $((2 * N)) "$(sc_stat packets_dropped)"

# TCP ingress: the SYN-ACK to the victim's connecting socket and a SYN to its listener.
sc_tcp_listen - $B 7001
sc_tcp_listen "$VICTIM" $A 7002
sc_tcp_listen - $A 7003
sleep 0.3
sc_expect_connect "ingress tcp: the victim cannot connect out (SYN-ACK dropped)" ETIMEDOUT "$VICTIM" $A 10.99.0.2 7001 1
sc_expect_connect "ingress tcp: the bystander connects out" ok - $A 10.99.0.2 7001
sc_expect_connect "ingress tcp: nobody reaches the victim's listener" ETIMEDOUT - $B fd99::1 7002 1
sc_expect_connect "ingress tcp: the bystander's listener is reached" ok - $B fd99::1 7003
sc_revert

# --- egress: scope by unit name (the directory is found in the hierarchy) --------------
sc_apply blackhole '{"direction":"egress","scope":{"unit":"ckt-cg-victim"}}' ||
	ck_die "blackhole with unit scope refused: $SC_RESP"
for addr in 10.99.0.2 fd99::2; do
	read -r got v b <<<"$(udp_out $addr)"
	ck_log "egress udp $addr: B got $got (victim sent $v, bystander $b)"
	ck_expect_eq "egress udp $addr: only the bystander's datagrams arrive" $N "$got"
done
sc_expect_connect "egress tcp: the victim cannot connect out (SYN dropped)" ETIMEDOUT "$VICTIM" $A 10.99.0.2 7001 1
sc_expect_connect "egress tcp: the bystander connects out" ok - $A fd99::2 7001
sc_expect_connect "egress tcp: the victim's listener answers no SYN (SYN-ACK dropped)" ETIMEDOUT - $B 10.99.0.1 7002 1
sc_revert

# --- after DELETE and with a scope that names nothing ---------------------------------------
read -r v b <<<"$(udp_in 10.99.0.1)"
ck_expect_eq "after revert: both receive everything" "$N $N" "$v $b"
sc_expect_connect "after revert: the victim connects" ok "$VICTIM" $A 10.99.0.2 7001
sc_apply blackhole '{"scope":{"cgroup":"ckt-cg-nonexistent"}}' && ck_die "a scope naming no cgroup was applied"
ck_check "missing cgroup: refused, the error names scope.cgroup" \
	grep -q '"key":"scope.cgroup"' <<<"$SC_RESP"
ck_log "missing cgroup: $SC_RESP"
ck_finish
