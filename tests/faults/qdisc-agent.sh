#!/usr/bin/env bash
# The netem backend through a real chaos-agent (kind "bandwidth", backend "netem", i.e.
# tbf here): the fault shapes, its status names the backend, a configured root qdisc is
# refused with a 4xx naming it, and kill -9 of the agent leaves nothing behind once the
# agent restarts (journal -> recover) or, if this agent has one, once its guardian acts.
. "$CK_TESTS_LIB"
ck_init ckt-qd5
. "$CK_SOURCE_DIR/tests/agent/agent_lib.sh"
. "$CK_SOURCE_DIR/tests/faults/qdisc-lib.sh"
ck_require_tools curl
[ -x "$CK_AGENT" ] || ck_skip "chaos-agent is not built"
qd_begin tbf bandwidth --rate-bps 8000000 --direction both
SOCK="$CK_TMP/run/agent.sock"
STATE="$CK_TMP/state"
mkdir -p "$CK_TMP/run"

agent() { # LOG [CONFIG LINES...]
	local log=$1; shift
	ckagt_config "$CK_TMP/agent.cfg" qd-host "$SOCK" "$STATE" "$@"
	ckagt_start "$QD_A" "$CK_TMP/agent.cfg" "$log"
}
apply() { # PARAMS: sets CODE, BODY, ID
	ckagt_apply "$SOCK" bandwidth 2m "$1"
	CODE=$CKAGT_CODE BODY=$CKAGT_BODY ID=$CKAGT_ID
}
# Captured first: grep -q closing a pipe early fails the pipeline under pipefail.
shaped() {
	local q l
	q=$(tc -n "$QD_A" qdisc show dev qa0); l=$(ip -n "$QD_A" link show)
	grep -q 'tbf c4a0: root' <<<"$q" && grep -q ckifb <<<"$l"
}
same_state() { [ "$(qd_state)" = "$BEFORE" ]; }
settles() { ck_wait_for "${1:-5}" same_state || { diff <(echo "$BEFORE") <(qd_state) | head -20 >&2; return 1; }; }
PARAMS='{"rate": "8mbit", "backend": "netem", "direction": "both", "interfaces": ["qa0"]}'

BEFORE=$(qd_state)
agent "$CK_TMP/agent.log" "$(ckagt_no_guardian_cfg)"

apply "$PARAMS"
ck_expect_eq "bandwidth with backend netem: 201" 201 "$CODE"
[ "$CODE" = 201 ] || ck_die "apply failed: $BODY"
ck_check "tbf root and IFB are in place" shaped
status=$(ckagt_req "$SOCK" GET "/v1/faults/$ID")
ck_log "status: ${status:0:400}"
ck_check "status names the netem backend" grep -q '"backend": *"netem"' <<<"$status"
qd_rate "$QD_B" 10.77.0.2 "$QD_A" 3
ck_check "egress shaped through the agent ($QD_BPS bit/s)" qd_within 10 8000000 "$QD_BPS"
r=$(ckagt_req "$SOCK" DELETE "/v1/faults/$ID")
ck_expect_eq "revert: 200" 200 "${r%% *}"
ck_check "state after revert equals before" settles 5

# A configured root qdisc: refused, nothing changed.
tc -n "$QD_A" qdisc add dev qa0 root handle 7: htb default 1
HTB_STATE=$(qd_state)
apply "$PARAMS"
ck_check "configured htb root: refused with 4xx ($CODE)" test "$CODE" -ge 400 -a "$CODE" -lt 500
ck_check "the refusal names the htb" grep -q 'configured root qdisc (htb 7:)' <<<"$BODY"
ck_expect_eq "nothing changed" "$HTB_STATE" "$(qd_state)"
tc -n "$QD_A" qdisc del dev qa0 root
ck_check "htb removed: back to the state before" settles 5

# kill -9, restart: the journal's record drives recover().
apply "$PARAMS"
ck_expect_eq "crash: 201" 201 "$CODE"
kill -9 "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
sleep 0.5
ck_check "crash: qdiscs stay while no agent runs (guardian off)" shaped
agent "$CK_TMP/agent.log.2" "$(ckagt_no_guardian_cfg)"
ck_check "crash: recovery logged" grep -q "recovered $ID" "$CK_TMP/agent.log.2"
ck_check "crash: state after the restart equals before" settles 5

if ckagt_has_guardian; then
	kill -TERM "$CKAGT_PID"; ckagt_wait_exit "$CKAGT_PID"
	agent "$CK_TMP/agent.log.3"
	apply "$PARAMS"
	ck_expect_eq "guardian: 201" 201 "$CODE"
	kill -9 "$CKAGT_PID"
	ckagt_wait_exit "$CKAGT_PID"
	ck_check "guardian: state equals before without a restart" settles 5
else
	ck_log "this agent has no guardian: skipping the guardian case"
fi
ck_finish
