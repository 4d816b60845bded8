#!/usr/bin/env bash
# The netem backend never clobbers what the host has: a configured root qdisc (an htb
# the test adds, as an operator would) is refused with an error naming it, a second
# shaping fault on the same interface is refused, and a fault that matches packets is
# refused by the probe (so "auto" picks the delay line). Refusals leave the kernel
# state exactly as it was, also when the refusal comes after other interfaces were
# already shaped (all or nothing).
. "$CK_TESTS_LIB"
ck_init ckt-qd2
. "$CK_SOURCE_DIR/tests/faults/qdisc-lib.sh"
RATE=8000000
qd_begin tbf bandwidth --rate-bps $RATE --direction both

out=$("$QD_DRIVER" --netns "$QD_A" --probe --kind bandwidth --rate-bps $RATE --match-tcp || true)
ck_expect_eq "probe refuses a fault that matches packets" \
	"unsupported: netem backend shapes whole interfaces; this fault matches packets" "$out"

# A second interface so that the refusal comes after qa1 was shaped.
ip link add name qa1 netns "$QD_A" type veth peer name qb1 netns "$QD_B"
ip -n "$QD_A" link set qa1 up
ip -n "$QD_B" link set qb1 up
tc -n "$QD_A" qdisc add dev qa0 root handle 1: htb default 10
tc -n "$QD_A" class add dev qa0 parent 1: classid 1:10 htb rate 100mbit
ck_wait_for 10 qd_settled || true
BEFORE=$(qd_state)

"$QD_DRIVER" --netns "$QD_A" --apply --timeout 1 --kind bandwidth --rate-bps $RATE --direction egress \
	--interface qa0 >"$CK_TMP/out1" 2>&1 || true
ck_log "$(head -1 "$CK_TMP/out1")"
ck_check "configured htb root is refused, naming it" grep -q '^error : qa0 has a configured root qdisc (htb 1:)' "$CK_TMP/out1"
ck_check "the refusal says what to do" grep -q 'backend "delay-line"' "$CK_TMP/out1"
ck_expect_eq "state unchanged after the refusal" "$BEFORE" "$(qd_state)"

# qa1 comes first and is shaped (egress and ingress), then qa0's htb is refused: qa1 undone.
"$QD_DRIVER" --netns "$QD_A" --apply --timeout 1 --kind bandwidth --rate-bps $RATE --direction both \
	--interface qa1 --interface qa0 >"$CK_TMP/out2" 2>&1 || true
ck_check "all or nothing: refused" grep -q '^error : qa0 has a configured root qdisc' "$CK_TMP/out2"
ck_expect_eq "all or nothing: state unchanged" "$BEFORE" "$(qd_state)"
ck_check "the htb is still there" bash -c "tc -n '$QD_A' qdisc show dev qa0 | grep -q 'htb 1: root'"

# Two faults on one interface: the second is refused, the first stays intact.
qd_start --netns "$QD_A" --kind bandwidth --rate-bps $RATE --direction both --interface qa1 --fault-id first ||
	ck_die "first fault: $(cat "$CK_TMP/driver.out")"
DURING=$(qd_state)
"$QD_DRIVER" --netns "$QD_A" --apply --timeout 1 --kind bandwidth --rate-bps 1000000 --direction egress \
	--interface qa1 --fault-id second >"$CK_TMP/out3" 2>&1 || true
ck_check "second egress fault on qa1 refused" grep -q '^error : qa1 is already shaped by another chaoskit fault' "$CK_TMP/out3"
"$QD_DRIVER" --netns "$QD_A" --apply --timeout 1 --kind bandwidth --rate-bps 1000000 --direction ingress \
	--interface qa1 --fault-id second >"$CK_TMP/out4" 2>&1 || true
ck_check "second ingress fault on qa1 refused" grep -q '^error : ingress of qa1 is already shaped' "$CK_TMP/out4"
ck_expect_eq "first fault untouched by the refusals" "$DURING" "$(qd_state)"
qd_stop
ck_expect_eq "state after reverting the first fault equals before" "$BEFORE" "$(qd_state)"
ck_finish
