#!/usr/bin/env bash
# packet-loss: requested vs observed loss on each backend and direction, and that
# egress loss is silent to the sender (no ENOBUFS), as real loss would be.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-pkt
. "$CK_SOURCE_DIR/tests/faults/packet-lib.sh"
pk_require
pk_setup

N=1000
P=0.3
# Binomial(1000, 0.3): mean 300, sigma 14.5; +-4.5 sigma.
LOW=235
HIGH=365
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
	# After revert nothing is lost.
	pk_udp "$PK_A" "$PK_B" 10.99.0.2 5000 200
	ck_expect_eq "$backend: no loss after revert" 200 "$PK_RECEIVED"
done
[ "$tested" -gt 0 ] || ck_skip "neither tcx nor clsact works here"
ck_finish
