#!/usr/bin/env bash
# bandwidth on the delay-line backend: a TCP transfer through an 8mbit limit
# reaches the rate within 10% (goodput, i.e. without Ethernet/IP/TCP headers,
# which the limit counts like tbf does); without the fault it is far faster.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-dl3
. "$CK_SOURCE_DIR/tests/faults/delayline-lib.sh"
dl_require

# tcp_rate SECONDS: goodput (bit/s) of one TCP transfer a -> b, measured by the sink.
tcp_rate() {
	local out="$CK_TMP/sink.$RANDOM"
	ip netns exec "$PK_B" python3 "$DL_PROBE" sink 7000 20 >"$out" 2>&1 &
	local sink=$!
	ck_wait_for 5 grep -q listening "$out" || ck_die "TCP sink did not start"
	ip netns exec "$PK_A" python3 "$DL_PROBE" source 10.99.0.2 7000 "$1"
	wait "$sink" || true
	ck_log "sink: $(tail -1 "$out")" >&2
	dl_get rate_bps "$(tail -1 "$out")" | cut -d. -f1
}

RATE=8000000
free=$(tcp_rate 2)
ck_check "without the fault the transfer is not limited ($free bit/s > 2x $RATE)" test "$free" -gt $((2 * RATE))

pk_start "$PK_A" auto bandwidth '{"rate": "8mbit", "direction": "egress", "backend": "delay-line"}'
limited=$(tcp_rate 6)
pk_stop
ck_log "8mbit: goodput $limited bit/s; stats $PK_STATS"
ck_check "8mbit: goodput $limited within 10% of $RATE" pk_within $((RATE * 9 / 10)) $((RATE * 11 / 10)) "$limited"
ck_expect_eq "8mbit: backend in stats" delay-line "$(pk_stat backend)"

# The same limit on b's ingress (the ACK-clocked direction seen from the receiver).
pk_start "$PK_B" auto bandwidth '{"rate": "8mbit", "direction": "ingress", "backend": "delay-line"}'
limited=$(tcp_rate 6)
pk_stop
ck_log "8mbit on ingress: goodput $limited bit/s; stats $PK_STATS"
ck_check "8mbit ingress: goodput $limited within 10% of $RATE" pk_within $((RATE * 9 / 10)) $((RATE * 11 / 10)) "$limited"
ck_finish
