#!/usr/bin/env bash
# packet-corrupt: requested vs observed corruption on each backend and direction.
# Without fix_checksum no changed datagram reaches the application: with a
# checksum computed by the sender's stack (CHECKSUM_NONE, "cork") the receiver's
# kernel rejects each one (UDP InCsumErrors grows by packets_corrupted); a
# CHECKSUM_PARTIAL one (checksum left to the device, never computed on veth) is
# discarded by the fault (packets_dropped). With fix_checksum every corrupted
# datagram arrives with changed bytes. A TCP stream survives corruption without
# fix_checksum (retransmissions) and shows changed bytes with it. Kernel state
# after revert and after SIGKILL + recover equals the state before.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-pkt
. "$CK_SOURCE_DIR/tests/faults/packet-lib.sh"
. "$CK_SOURCE_DIR/tests/faults/udp-check.sh"
pk_require
pk_setup

BEFORE=$(pk_state)
N=$PK_N LOW=$PK_LOW HIGH=$PK_HIGH
# The PARTIAL and fix_checksum cases send fewer, to keep the test short:
# Binomial(500, 0.3): mean 150, sigma 10.2; +-4.5 sigma.
N2=500
LOW2=104
HIGH2=196

# tcp_stream BYTES: BYTES over TCP from A to B through a corrupting fault on A's egress;
# sets TCP_RESULT to the receiver's "bytes N changed C".
tcp_stream() {
	local size=$1 out="$CK_TMP/tcp.$RANDOM"
	ip netns exec "$PK_B" python3 -c '
import socket, sys
size = int(sys.argv[1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.0.2", 5001)); s.listen(1); print("listening", flush=True)
s.settimeout(40); c, _ = s.accept(); c.settimeout(40)
got = bytearray()
while True:
    d = c.recv(65536)
    if not d: break
    got += d
want = bytes((i * 31 + 7) & 0xff for i in range(size))
print("bytes %d changed %d" % (len(got), sum(1 for a, b in zip(got, want) if a != b)), flush=True)' "$size" >"$out" &
	local rpid=$!
	ck_wait_for 5 grep -q listening "$out" || ck_die "TCP receiver did not start"
	ip netns exec "$PK_A" python3 -c '
import socket, sys
size = int(sys.argv[1])
c = socket.create_connection(("10.99.0.2", 5001), timeout=40)
c.sendall(bytes((i * 31 + 7) & 0xff for i in range(size))); c.close()' "$size" || true
	wait "$rpid" || true
	TCP_RESULT=$(grep '^bytes' "$out")
}

# corrupt_udp WHAT NS PARAMS ADDR COUNT MODE LOW HIGH: packet-corrupt with PARAMS in NS
# on $backend while COUNT datagrams go to ADDR (MODE: cork or empty); sets $what and
# $corrupted (packets_corrupted) and checks that it lies in [LOW, HIGH].
corrupt_udp() {
	what=$1
	pk_start "$2" "$backend" packet-corrupt "$3"
	uc_udp "$4" "$5" $6
	pk_stop
	corrupted=$(pk_stat packets_corrupted)
	ck_log "$what: received $UC_RECEIVED, changed $UC_CHANGED, InCsumErrors +$UC_CSUMERR, stats $PK_STATS"
	ck_check "$what: corrupted $corrupted within [$7, $8]" pk_within "$7" "$8" "$corrupted"
}

tested=0
for backend in tcx clsact; do
	pk_backend_supported "$backend" || { ck_log "backend $backend unsupported here"; continue; }
	tested=$((tested + 1))
	for where in "egress $PK_A" "ingress $PK_B"; do
		set -- $where
		dir=$1 ns=$2
		params="\"probability\": $PK_P, \"direction\": \"$dir\", \"match\": {\"protocol\": \"udp\"}"
		# Checksum computed by the sender's stack: the receiver's kernel rejects them.
		corrupt_udp "$backend $dir checksum-none" "$ns" "{$params}" 10.99.0.2 $N cork $LOW $HIGH
		ck_expect_eq "$what: no changed datagram reached the application" 0 "$UC_CHANGED"
		# Now and then the stack hands a packet of this flow over with its checksum still to be
		# computed (CHECKSUM_PARTIAL, seen once in ~20 runs on ingress): the fault discards that
		# one itself, as documented, so the two counts together make packets_corrupted.
		fault_dropped=$(pk_stat packets_dropped)
		ck_expect_eq "$what: InCsumErrors + packets_dropped = packets_corrupted" "$corrupted" \
			"$((UC_CSUMERR + fault_dropped))"
		ck_check "$what: the fault itself discarded at most 1% ($fault_dropped)" test $((fault_dropped * 100)) -le "$N"
		ck_expect_eq "$what: the others arrived" "$((N - corrupted))" "$UC_RECEIVED"
		ck_expect_eq "$what: packets_matched" "$N" "$(pk_stat packets_matched)"
		ck_expect_eq "$what: backend in stats" "$backend" "$(pk_stat backend)"

		# Checksum left to the device (CHECKSUM_PARTIAL): veth never computes it.
		corrupt_udp "$backend $dir checksum-partial" "$ns" "{$params}" 10.99.0.2 $N2 "" $LOW2 $HIGH2
		ck_expect_eq "$what: no changed datagram reached the application" 0 "$UC_CHANGED"
		ck_expect_eq "$what: each corrupted one was discarded" "$corrupted" "$(pk_stat packets_dropped)"
		ck_expect_eq "$what: the others arrived" "$((N2 - corrupted))" "$UC_RECEIVED"

		# fix_checksum: the application gets the changed bytes (either checksum
		# mode, one per direction to keep the test short).
		mode=""
		if [ "$dir" = ingress ]; then mode=cork; fi
		corrupt_udp "$backend $dir fix_checksum ${mode:-partial}" "$ns" "{$params, \"fix_checksum\": true, \"bytes\": 4}" \
			10.99.0.2 $N2 "$mode" $LOW2 $HIGH2
		ck_expect_eq "$what: every datagram arrived" "$N2" "$UC_RECEIVED"
		ck_expect_eq "$what: changed datagrams = packets_corrupted" "$corrupted" "$UC_CHANGED"
		ck_expect_eq "$what: no checksum error" 0 "$UC_CSUMERR"
	done
	if [ "$tested" = 1 ]; then
		corrupt_udp "$backend ingress IPv6 checksum-none" "$PK_B" \
			"{\"probability\": $PK_P, \"direction\": \"ingress\", \"match\": {\"protocol\": \"udp\"}}" fd99::2 $N cork $LOW $HIGH
		ck_expect_eq "$what: Udp6InCsumErrors grew by packets_corrupted" "$corrupted" "$UC_CSUMERR"
		ck_expect_eq "$what: no changed datagram reached the application" 0 "$UC_CHANGED"

		pk_start "$PK_A" "$backend" packet-corrupt '{"probability": 0.2, "direction": "egress", "match": {"protocol": "tcp"}}'
		# 4 MiB: the sender's segments are large (TSO), so it takes this many for "none of them was
		# corrupted" to be negligible at p = 0.2 (256 KiB made 13 segments: 0.8^13 = 5 %).
		tcp_stream 4194304
		pk_stop
		ck_log "$backend TCP without fix_checksum: $TCP_RESULT, stats $PK_STATS"
		ck_expect_eq "$backend TCP: the stream arrives intact" "bytes 4194304 changed 0" "$TCP_RESULT"
		ck_check "$backend TCP: segments were corrupted" test "$(pk_stat packets_corrupted)" -gt 0
		pk_start "$PK_A" "$backend" packet-corrupt '{"probability": 1, "direction": "egress", "fix_checksum": true, "match": {"protocol": "tcp"}}'
		tcp_stream 262144
		pk_stop
		ck_log "$backend TCP with fix_checksum: $TCP_RESULT, stats $PK_STATS"
		ck_check "$backend TCP fix_checksum: the application sees changed bytes ($TCP_RESULT)" \
			grep -Eq '^bytes 262144 changed [1-9]' <<<"$TCP_RESULT"
	fi
	ck_check "$backend: state after revert equals before" test "$(pk_state)" = "$BEFORE"

	pk_start "$PK_B" "$backend" packet-corrupt '{"probability": 1, "direction": "ingress", "match": {"protocol": "udp"}}'
	pk_kill_recover "$PK_B" packet-corrupt
	ck_check "$backend: state after SIGKILL + recover equals before" test "$(pk_state)" = "$BEFORE"
	uc_udp 10.99.0.2 200 cork
	ck_expect_eq "$backend: after recover nothing is changed" "200 0" "$UC_RECEIVED $UC_CHANGED"
done
[ "$tested" -gt 0 ] || ck_skip "neither tcx nor clsact works here"
ck_finish
