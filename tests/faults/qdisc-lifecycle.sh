#!/usr/bin/env bash
# Qdiscs, IFB devices and the ingress redirect outlive a SIGKILLed process: recover()
# from the record alone (a new process, as the agent's guardian would) restores the
# exact state before; without a record, sweep() finds everything by its markers.
# Both directions on both ends, so root qdiscs, IFBs, clsact and filters are all involved.
. "$CK_TESTS_LIB"
ck_init ckt-qd3
. "$CK_SOURCE_DIR/tests/faults/qdisc-lib.sh"
RATE=8000000
qd_begin tbf bandwidth --rate-bps $RATE --direction both

BEFORE=$(qd_state)
# (Output captured first: grep -q closing the pipe early fails a pipeline under pipefail.)
shaped() {
	local q l f
	q=$(tc -n "$QD_A" qdisc show dev qa0); l=$(ip -n "$QD_A" link show); f=$(tc -n "$QD_A" filter show dev qa0 ingress)
	grep -q 'tbf c4a0: root' <<<"$q" && grep -q ckifb <<<"$l" && grep -q mirred <<<"$f"
}
same_state() { [ "$(qd_state)" = "$BEFORE" ]; }

# 1. kill -9, then recover from the record.
qd_start --netns "$QD_A" --kind bandwidth --rate-bps $RATE --direction both --record "$CK_TMP/rec.json" \
	--fault-id life-1 || ck_die "apply: $(cat "$CK_TMP/driver.out")"
qd_kill9
ck_check "after SIGKILL the qdisc, IFB and redirect are still there" shaped
qd_rate "$QD_B" 10.77.0.2 "$QD_A" 3
ck_check "and still shape ($QD_BPS bit/s)" qd_within 15 $RATE "$QD_BPS"
ck_log "record: $(cat "$CK_TMP/rec.json")"
ck_check "recover(record) succeeds" "$QD_DRIVER" --netns "$QD_A" --recover "$CK_TMP/rec.json"
ck_check "state after recover equals before" same_state
ck_check "recover is idempotent" "$QD_DRIVER" --netns "$QD_A" --recover "$CK_TMP/rec.json"
ck_check "state still equal" same_state

# 2. kill -9 with no record: sweep.
qd_start --netns "$QD_A" --kind bandwidth --rate-bps $RATE --direction both --fault-id life-2 ||
	ck_die "apply: $(cat "$CK_TMP/driver.out")"
qd_kill9
ck_check "after SIGKILL: shaped" shaped
out=$("$QD_DRIVER" --netns "$QD_A" --sweep)
ck_expect_eq "sweep removed redirect, IFB and root qdisc" "swept 3" "$out"
ck_check "state after sweep equals before (the IFB's alias said clsact was the fault's)" same_state
out=$("$QD_DRIVER" --netns "$QD_A" --sweep)
ck_expect_eq "a second sweep finds nothing" "swept 0" "$out"

# 3. sweep leaves a host's own qdiscs and IFBs alone.
ip -n "$QD_A" link add name ifbhost type ifb
tc -n "$QD_A" qdisc add dev qa0 root handle 1: htb default 10
HOST=$(qd_state)
out=$("$QD_DRIVER" --netns "$QD_A" --sweep)
ck_expect_eq "sweep with only host objects removes nothing" "swept 0" "$out"
ck_expect_eq "host objects intact" "$HOST" "$(qd_state)"
ck_finish
