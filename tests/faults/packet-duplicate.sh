#!/usr/bin/env bash
# packet-duplicate: requested vs observed duplication on each backend and direction;
# every duplicated datagram arrives exactly twice (the clone is not cloned again),
# packets_duplicated equals what the receiver saw; kernel state after revert and
# after SIGKILL (+ recover) equals the state before.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-pkt
. "$CK_SOURCE_DIR/tests/faults/packet-lib.sh"
. "$CK_SOURCE_DIR/tests/faults/udp-check.sh"
pk_require
pk_setup

BEFORE=$(pk_state)
N=$PK_N LOW=$PK_LOW HIGH=$PK_HIGH
tested=0
for backend in tcx clsact; do
	pk_backend_supported "$backend" || { ck_log "backend $backend unsupported here"; continue; }
	tested=$((tested + 1))
	cases=("egress $PK_A 10.99.0.2" "ingress $PK_B 10.99.0.2")
	[ "$tested" = 1 ] && cases+=("egress $PK_A fd99::2")
	for where in "${cases[@]}"; do
		set -- $where
		dir=$1 ns=$2 addr=$3
		pk_start "$ns" "$backend" packet-duplicate "{\"probability\": $PK_P, \"direction\": \"$dir\", \"match\": {\"protocol\": \"udp\"}}"
		uc_udp "$addr" $N
		pk_stop
		what="$backend $dir $addr"
		ck_log "$what: sent $UC_SENT, received $UC_RECEIVED ($UC_DISTINCT distinct, $UC_TWICE twice, $UC_MORE more), stats $PK_STATS"
		ck_expect_eq "$what: every datagram arrived" "$N" "$UC_DISTINCT"
		ck_expect_eq "$what: no datagram arrived more than twice" 0 "$UC_MORE"
		ck_expect_eq "$what: received = sent + twice-seen" "$((N + UC_TWICE))" "$UC_RECEIVED"
		ck_check "$what: duplicated $UC_TWICE within [$LOW, $HIGH]" pk_within $LOW $HIGH "$UC_TWICE"
		ck_expect_eq "$what: packets_duplicated equals the observed copies" "$UC_TWICE" "$(pk_stat packets_duplicated)"
		ck_expect_eq "$what: packets_matched counts originals only" "$N" "$(pk_stat packets_matched)"
		ck_expect_eq "$what: backend in stats" "$backend" "$(pk_stat backend)"
		ck_expect_eq "$what: no bytes changed" 0 "$UC_CHANGED"
	done
	# Every packet, both directions at once on both ends: still exactly two copies
	# (four faults' clones cross each other's programs).
	pk_start "$PK_A" "$backend" packet-duplicate '{"probability": 1, "match": {"protocol": "udp"}}'
	first=$PK_PID
	pk_start "$PK_B" "$backend" packet-duplicate '{"probability": 1, "match": {"protocol": "udp"}}'
	uc_udp 10.99.0.2 200
	pk_stop
	PK_PID=$first pk_stop
	ck_log "$backend p=1 on both ends: received $UC_RECEIVED ($UC_TWICE twice, $UC_MORE more)"
	# A's egress doubles each datagram, B's ingress doubles both copies: 4 each.
	ck_expect_eq "$backend p=1 both ends: 4 copies of each datagram" 800 "$UC_RECEIVED"
	ck_expect_eq "$backend p=1 both ends: distinct" 200 "$UC_DISTINCT"
	ck_check "$backend: state after revert equals before" test "$(pk_state)" = "$BEFORE"

	pk_start "$PK_B" "$backend" packet-duplicate '{"probability": 1}'
	pk_kill_recover "$PK_B" packet-duplicate
	ck_check "$backend: state after SIGKILL + recover equals before" test "$(pk_state)" = "$BEFORE"
	uc_udp 10.99.0.2 200
	ck_expect_eq "$backend: after recover each datagram arrives once" 200 "$UC_RECEIVED"
done
[ "$tested" -gt 0 ] || ck_skip "neither tcx nor clsact works here"
ck_finish
