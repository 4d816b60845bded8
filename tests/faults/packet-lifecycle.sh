#!/usr/bin/env bash
# Kernel state around a packet fault's life on both backends: exactly as before after
# revert; after SIGKILL a tcx fault is gone at once, a clsact fault stays until
# recover() (from the journal record) or sweep() removes it. Also: a clsact qdisc the
# host already had is kept, and two faults sharing a clsact both leave cleanly.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-pk3
. "$CK_SOURCE_DIR/tests/faults/packet-lib.sh"
pk_require
pk_setup
PK_IDLE=0.3

state() { ck_kernel_state "$PK_A"; ck_kernel_state "$PK_B"; "$PK_DRIVER" --netns "$PK_B" --tcx-state; }
flows() { pk_udp "$PK_A" "$PK_B" 10.99.0.2 5000 30; [ "$PK_RECEIVED" = 30 ]; }
cut() { pk_udp "$PK_A" "$PK_B" 10.99.0.2 5000 30; [ "$PK_RECEIVED" = 0 ]; }
same_state() {
	local now; now=$(state)
	[ "$now" = "$BEFORE" ] || { diff <(echo "$BEFORE") <(echo "$now") >&2; return 1; }
}
killed() { kill -9 "$PK_PID"; wait "$PK_PID" 2>/dev/null || true; }

ck_wait_for 5 flows || ck_die "no traffic between the namespaces before any fault"
BEFORE=$(state)
tested=0

if pk_backend_supported tcx; then
	tested=1
	pk_start "$PK_B" tcx blackhole '{}'
	ck_check "tcx: traffic cut" cut
	ck_check "tcx: state shows the attachment" pk_not same_state
	pk_stop
	ck_check "tcx: state after revert equals before" same_state
	ck_check "tcx: traffic after revert" flows

	pk_start "$PK_B" tcx blackhole '{}'
	killed
	ck_check "tcx: traffic flows right after SIGKILL" flows
	ck_check "tcx: nothing left after SIGKILL" same_state
else
	ck_log "tcx unsupported here"
fi

if pk_backend_supported clsact; then
	tested=1
	pk_start "$PK_B" clsact blackhole '{}'
	ck_check "clsact: traffic cut" cut
	pk_stop
	ck_check "clsact: state after revert equals before" same_state

	pk_start "$PK_B" clsact blackhole '{}'
	cp "$PK_RECORD" "$CK_TMP/journal.json"
	killed
	ck_check "clsact: filter outlives SIGKILL (fault still active)" cut
	ck_check "clsact: record names the backend" grep -q '"backend":"clsact"' "$CK_TMP/journal.json"
	"$PK_DRIVER" --netns "$PK_B" --recover "$CK_TMP/journal.json" >/dev/null
	ck_check "clsact: recover() restores the state" same_state
	ck_check "clsact: traffic after recover" flows
	"$PK_DRIVER" --netns "$PK_B" --recover "$CK_TMP/journal.json" >/dev/null
	ck_check "clsact: recover() twice is harmless" same_state

	# Crash before the record was journaled: sweep finds the filters by their marker.
	pk_start "$PK_B" clsact blackhole '{"direction": "both"}'
	killed
	"$PK_DRIVER" --netns "$PK_B" --sweep >/dev/null
	ck_expect_eq "clsact: sweep leaves no filter" "" \
		"$(tc -n "$PK_B" filter show dev v0 ingress; tc -n "$PK_B" filter show dev v0 egress)"
	ck_check "clsact: traffic after sweep" flows
	# Without a record nobody knows who created clsact: sweep keeps the (empty) qdisc.
	tc -n "$PK_B" qdisc del dev v0 clsact
	ck_check "clsact: state after sweep equals before (but the empty clsact)" same_state

	# The host's own clsact (with its own filter) survives a fault's revert and recovery.
	tc -n "$PK_B" qdisc add dev v0 clsact
	tc -n "$PK_B" filter add dev v0 ingress prio 7 protocol all u32 match u32 0 0 classid 1:7
	OWN=$(state)
	pk_start "$PK_B" clsact blackhole '{}'
	ck_check "clsact: fault works on a pre-existing clsact" cut
	pk_stop
	ck_expect_eq "clsact: the host's clsact and filter are kept" "$OWN" "$(state)"
	pk_start "$PK_B" clsact blackhole '{}'
	cp "$PK_RECORD" "$CK_TMP/journal2.json"
	killed
	"$PK_DRIVER" --netns "$PK_B" --recover "$CK_TMP/journal2.json" >/dev/null
	ck_expect_eq "clsact: recover keeps the host's clsact and filter" "$OWN" "$(state)"
	tc -n "$PK_B" qdisc del dev v0 clsact

	# All or nothing: the second interface refuses our filter (the host has a u32 filter at
	# our priority), so what was attached to v0 must be gone when apply returns the error.
	ip -n "$PK_B" link add w0 type veth peer name w1
	tc -n "$PK_B" qdisc add dev w1 clsact
	tc -n "$PK_B" filter add dev w1 ingress prio 1 protocol all u32 match u32 0 0 classid 1:1
	OWN=$(state)
	out=$("$PK_DRIVER" --netns "$PK_B" --backend clsact --kind blackhole --params '{"interfaces": ["v0", "w1"]}' 2>&1 || true)
	ck_check "clsact: apply fails on the refusing interface" grep -q 'apply: \[interfaces\] cannot attach to w1' <<<"$out"
	ck_expect_eq "clsact: a failed apply leaves nothing behind" "$OWN" "$(state)"
	out=$("$PK_DRIVER" --netns "$PK_B" --backend auto --kind blackhole --params '{"interfaces": ["v0", "nope"]}' 2>&1 || true)
	ck_check "missing interface is reported by key" grep -q 'apply: \[interfaces\[1\]\] no interface "nope"' <<<"$out"
	ip -n "$PK_B" link del w0

	# Two faults on one interface: the one that created clsact leaves first.
	pk_start "$PK_B" clsact blackhole '{}' --copies 2
	ck_check "clsact: two faults applied" cut
	pk_stop
	ck_check "clsact: two faults reverted, state equals before" same_state
else
	ck_log "clsact unsupported here"
fi
[ "$tested" = 1 ] || ck_skip "neither tcx nor clsact works here"
ck_finish
