#!/usr/bin/env bash
# Kernel state around a delay-line fault: TAPs only while it is on; revert and
# SIGKILL leave ip/tc state exactly as before, traffic flows undelayed right
# after; what the line held at revert is sent on, not lost; with clsact a
# SIGKILLed fault's filters are removed by recover() from the journal record.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-dl4
. "$CK_SOURCE_DIR/tests/faults/delayline-lib.sh"
dl_require
dl_echo "$PK_B" 6000

state() { ck_kernel_state "$PK_A"; ck_kernel_state "$PK_B"; "$PK_DRIVER" --netns "$PK_B" --tcx-state; }
same_state() {
	local now; now=$(state)
	[ "$now" = "$BEFORE" ] || { diff <(echo "$BEFORE") <(echo "$now") >&2; return 1; }
}
killed() { kill -9 "$PK_PID"; wait "$PK_PID" 2>/dev/null || true; }
# rtt_p50: median RTT (ms) of 20 echoes 5 ms apart; "none" when fewer than 20 came back.
rtt_p50() {
	dl_udp "$PK_A" 10.99.0.2 6000 20 5
	if [ "$(dl_get received)" = 20 ]; then dl_get rtt.p50; else echo none; fi
}
undelayed() { local r; r=$(rtt_p50); [ "$r" != none ] && dl_between 0 20 "$r"; }
no_taps() { [ -z "$(dl_taps "$PK_B")" ]; }
DELAY='{"latency": "200ms", "backend": "delay-line"}'

ck_wait_for 5 undelayed || ck_die "no undelayed echo before any fault"
BEFORE=$(state)

pk_start "$PK_B" auto delay "$DELAY"
rtt=$(rtt_p50)
ck_check "on: RTT $rtt within [400, 420] ms (200 ms each way)" dl_between 400 420 "$rtt"
ck_check "on: the state shows the TAPs" pk_not no_taps
pk_stop
ck_check "revert: no TAP left" no_taps
ck_check "revert: state equals before" same_state
ck_check "revert: traffic undelayed" undelayed

# Two lines on one interface (each program passes the other's returning frames
# on without diverting them again): the delays add up, nothing loops.
pk_start "$PK_B" auto delay '{"latency": "50ms", "backend": "delay-line"}' --copies 2
rtt=$(rtt_p50)
ck_check "two lines: RTT $rtt within [200, 215] ms (2 x 50 ms each way)" dl_between 200 215 "$rtt"
pk_stop
ck_check "two lines: state after revert equals before" same_state

# Someone deletes one of the TAPs: that direction passes undelayed (not dropped), the other stays delayed.
pk_start "$PK_B" auto delay '{"latency": "50ms", "backend": "delay-line"}'
ip -n "$PK_B" link del "$(dl_taps "$PK_B" | grep 'i[0-9a-f]*$' | head -1)"
sleep 0.2
rtt=$(rtt_p50)
ck_check "deleted ingress TAP: RTT $rtt within [50, 60] ms (egress still delayed, ingress passes)" dl_between 50 60 "$rtt"
pk_stop
ck_check "deleted TAP: state after revert equals before" same_state

# Revert while the line holds packets: they go on at once.
pk_start "$PK_B" auto delay "$DELAY"
ip netns exec "$PK_A" python3 "$DL_PROBE" udp 10.99.0.2 6000 150 2 >"$CK_TMP/held.json" &
held=$!
sleep 0.4
pk_stop
wait "$held"
DL_JSON=$(cat "$CK_TMP/held.json")
ck_log "revert with packets held: $DL_JSON; stats $PK_STATS"
ck_expect_eq "revert: packets held at revert still arrive" 150 "$(dl_get received)"
ck_check "revert: some were held when it came (max one-way $(dl_get forward.max) >= 100)" dl_between 100 400 "$(dl_get forward.max)"
ck_check "revert: and left without the rest of their delay (max RTT $(dl_get rtt.max) < 400)" dl_between 0 399 "$(dl_get rtt.max)"

# SIGKILL: TAPs and tcx links die with the process.
for backend in tcx clsact; do
	if ! pk_backend_supported $backend; then
		ck_log "$backend unsupported here"
		continue
	fi
	pk_start "$PK_B" $backend delay "$DELAY"
	cp "$PK_RECORD" "$CK_TMP/journal.json"
	killed
	ck_check "$backend SIGKILL: no TAP left" no_taps
	if [ $backend = tcx ]; then
		ck_check "tcx SIGKILL: traffic undelayed right after" undelayed
	else
		# cls_bpf filters outlive the process; they redirect to a TAP that is gone.
		ck_check "clsact SIGKILL: record names the filters" grep -q '"backend":"clsact"' "$CK_TMP/journal.json"
		"$PK_DRIVER" --netns "$PK_B" --kind delay --recover "$CK_TMP/journal.json" >/dev/null
		ck_check "clsact recover: traffic undelayed" undelayed
	fi
	ck_check "$backend SIGKILL: state equals before" same_state
done
ck_finish
