#!/usr/bin/env bash
# bandwidth through the tbf backend: a TCP transfer's goodput is within 10% of the
# requested rate, egress (tbf as the interface's root) and ingress (IFB); the kernel
# state after revert equals the state before.
. "$CK_TESTS_LIB"
ck_init ckt-qd1
. "$CK_SOURCE_DIR/tests/faults/qdisc-lib.sh"
RATE=8000000
qd_begin tbf bandwidth --rate-bps $RATE --direction both

BEFORE=$(qd_state)
qd_rate "$QD_B" 10.77.0.2 "$QD_A" 2
ck_log "unshaped: $QD_BPS bit/s"
ck_check "unshaped transfer is far above the rate to test" awk -v a="$QD_BPS" -v r=$RATE 'BEGIN { exit !(a > 3 * r) }'

# The goodput counts TCP payload only; the qdisc counts Ethernet frames (~4% more).
for dir in egress ingress; do
	qd_start --netns "$QD_A" --kind bandwidth --rate-bps $RATE --direction $dir --fault-id bw-$dir ||
		ck_die "$dir: apply failed: $(cat "$CK_TMP/driver.out")"
	if [ $dir = egress ]; then qd_rate "$QD_B" 10.77.0.2 "$QD_A" 4; else qd_rate "$QD_A" 10.77.0.1 "$QD_B" 4; fi
	ck_log "$dir at $RATE bit/s: measured $QD_BPS bit/s ($(grep ^rate "$CK_TMP/rate.out"))"
	ck_check "$dir: goodput within 10% of $RATE bit/s (got $QD_BPS)" qd_within 10 $RATE "$QD_BPS"
	qd_stop
	stats=$(sed -n 's/^stats //p' "$CK_TMP/driver.out")
	ck_log "$dir stats: $stats"
	ck_check "$dir: stats name the tbf backend" grep -q '"backend":"tbf"' <<<"$stats"
	ck_check "$dir: the qdisc saw the transfer" awk -v s="$stats" 'BEGIN { match(s, /"bytes":[0-9]+/); exit !(substr(s, RSTART + 8, RLENGTH - 8) + 0 > 1000000) }'
	ck_check "$dir: reverted cleanly" grep -q '^reverted 0' "$CK_TMP/driver.out"
	ck_expect_eq "$dir: kernel state after revert equals before" "$BEFORE" "$(qd_state)"
done

qd_rate "$QD_B" 10.77.0.2 "$QD_A" 2
ck_check "unshaped again after revert ($QD_BPS bit/s)" awk -v a="$QD_BPS" -v r=$RATE 'BEGIN { exit !(a > 3 * r) }'
ck_finish
