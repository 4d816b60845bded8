#!/usr/bin/env bash
# packet-loss: requested vs observed loss on each backend and direction, and that
# egress loss is silent to the sender (no ENOBUFS), as real loss would be.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-pkt
. "$CK_SOURCE_DIR/tests/faults/packet-lib.sh"
pk_require
pk_setup

N=$PK_N P=$PK_P LOW=$PK_LOW HIGH=$PK_HIGH
tested=0
for backend in tcx clsact; do
	if ! pk_backend_supported "$backend"; then
		ck_log "backend $backend unsupported here: $("$PK_DRIVER" --netns "$PK_A" --probe --backend "$backend")"
		continue
	fi
	tested=$((tested + 1))
	for where in "egress $PK_A" "ingress $PK_B"; do
		set -- $where
		dir=$1 ns=$2
		pk_start "$ns" "$backend" packet-loss "{\"probability\": $P, \"direction\": \"$dir\", \"match\": {\"protocol\": \"udp\"}}"
		pk_udp "$PK_A" "$PK_B" 10.99.0.2 5000 $N
		pk_stop
		lost=$((PK_SENT - PK_RECEIVED))
		ck_log "$backend $dir: sent $PK_SENT, received $PK_RECEIVED, lost $lost ($((lost * 1000 / N))/1000), send errors $PK_ERRORS, stats $PK_STATS"
		ck_expect_eq "$backend $dir: every datagram was sent" "$N" "$PK_SENT"
		ck_expect_eq "$backend $dir: sender saw no send errors" 0 "$PK_ERRORS"
		ck_check "$backend $dir: loss $lost within [$LOW, $HIGH]" pk_within $LOW $HIGH "$lost"
		ck_expect_eq "$backend $dir: packets_dropped equals the observed loss" "$lost" "$(pk_stat packets_dropped)"
		ck_expect_eq "$backend $dir: backend in stats" "$backend" "$(pk_stat backend)"
		ck_expect_eq "$backend $dir: packets_matched counts the datagrams" "$N" "$(pk_stat packets_matched)"
	done
	# ping sets IP_RECVERR and retries a packet whose send failed: a drop it can
	# see shows up as 0% loss. Real loss must show up as loss.
	if command -v ping >/dev/null; then
		pk_start "$PK_A" "$backend" packet-loss "{\"probability\": $P, \"direction\": \"egress\", \"match\": {\"protocol\": \"icmp\"}}"
		received=$(ip netns exec "$PK_A" ping -n -q -c 300 -i 0.005 -W 1 10.99.0.2 | sed -n 's/.* \([0-9]*\) received.*/\1/p')
		pk_stop
		lost=$((300 - ${received:-0}))
		ck_log "$backend egress ping: 300 sent, $received answered, stats $PK_STATS"
		# Binomial(300, 0.3): mean 90, sigma 7.9; +-4.5 sigma.
		ck_check "$backend egress: ping sees the loss ($lost of 300 within [54, 126])" pk_within 54 126 "$lost"
		ck_expect_eq "$backend egress: ping sent each request once" 300 "$(pk_stat packets_matched)"
	fi
	# After revert nothing is lost.
	pk_udp "$PK_A" "$PK_B" 10.99.0.2 5000 200
	ck_expect_eq "$backend: no loss after revert" 200 "$PK_RECEIVED"
done
[ "$tested" -gt 0 ] || ck_skip "neither tcx nor clsact works here"
ck_finish
