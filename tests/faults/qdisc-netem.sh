#!/usr/bin/env bash
# delay through netem (where the kernel has sch_netem; this CI kernel does not: exit 77):
# a 50 ms egress delay shows in UDP round trips, both directions (egress root + IFB)
# double it, jitter without a reorder share keeps the packets in order, and the
# kernel state after revert equals the state before.
. "$CK_TESTS_LIB"
ck_init ckt-qd4
. "$CK_SOURCE_DIR/tests/faults/qdisc-lib.sh"
UDP="$CK_SOURCE_DIR/tests/faults/qdisc-netem-udp.py"
qd_begin netem delay --direction both

BEFORE=$(qd_state)
ip netns exec "$QD_B" python3 "$UDP" echo 10.77.0.2 6000 40 >"$CK_TMP/echo.out" 2>&1 &
ECHO=$!
ck_on_exit "kill -9 $ECHO"
ck_wait_for 5 grep -q listening "$CK_TMP/echo.out" || ck_die "echo server did not start"
rtt() { ip netns exec "$QD_A" python3 "$UDP" rtt 10.77.0.2 6000 "$1" | awk '/^rtt_ms/ {print $2}'; }
between() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

base=$(rtt 20)
ck_log "baseline p50 RTT ${base} ms"

qd_start --netns "$QD_A" --kind delay --latency-us 50000 --direction egress --fault-id nd-1 ||
	ck_die "apply: $(cat "$CK_TMP/driver.out")"
p50=$(rtt 30)
ck_log "egress 50 ms: p50 RTT ${p50} ms"
ck_check "egress 50 ms: p50 RTT in [50, 60] ms (got $p50)" between "$p50" 50 60
qd_stop
ck_check "stats name netem" grep -q '"backend":"netem"' "$CK_TMP/driver.out"
ck_expect_eq "state after revert equals before" "$BEFORE" "$(qd_state)"

qd_start --netns "$QD_A" --kind delay --latency-us 50000 --direction both --fault-id nd-2 ||
	ck_die "apply: $(cat "$CK_TMP/driver.out")"
p50=$(rtt 30)
ck_log "both 50 ms: p50 RTT ${p50} ms"
ck_check "both directions 50 ms: p50 RTT in [100, 115] ms (got $p50)" between "$p50" 100 115
qd_stop
ck_expect_eq "state after revert equals before" "$BEFORE" "$(qd_state)"

# 20 ms +- 15 ms of jitter, packets 1 ms apart: netem alone would reorder most of them.
qd_start --netns "$QD_A" --kind delay --latency-us 20000 --jitter-us 15000 --direction egress --fault-id nd-3 ||
	ck_die "apply: $(cat "$CK_TMP/driver.out")"
ip netns exec "$QD_B" python3 "$UDP" sink 10.77.0.2 6001 4 >"$CK_TMP/sink.out" 2>&1 &
SINK=$!
ck_wait_for 5 grep -q listening "$CK_TMP/sink.out" || ck_die "sink did not start"
ip netns exec "$QD_A" python3 "$UDP" burst 10.77.0.2 6001 500
wait $SINK || true
read -r _ got disorder < <(grep ^order "$CK_TMP/sink.out")
ck_log "jitter: received $got of 500, $disorder out of order"
ck_check "jitter: nearly all received ($got)" [ "${got:-0}" -ge 490 ]
ck_expect_eq "jitter without a reorder share keeps the order" 0 "${disorder:-x}"
qd_stop
ck_expect_eq "state after revert equals before" "$BEFORE" "$(qd_state)"
ck_finish
