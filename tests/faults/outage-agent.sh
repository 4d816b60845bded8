#!/usr/bin/env bash
# host-outage through a real chaos-agent running in namespace B (unix socket API): the
# demo service in B is frozen and the network cut, its twin in A runs on; DELETE, the
# deadline and SIGTERM each resume it; after kill -9 of the agent its guardian process
# resumes it at once (without the guardian the restarted agent's journal recovery does:
# tests/agent/agent_crash.sh). The kernel state and the state
# directory are as before every time.
. "$CK_TESTS_LIB"
. "$CK_SOURCE_DIR/tests/agent/agent_lib.sh"
ck_require_root
ck_require_tools curl ping python3
[ -x "$CK_AGENT" ] || ck_skip "chaos-agent is not built"
DEMO="$CK_BUILD_DIR/lab/chaos-demo-service"
[ -x "$DEMO" ] || ck_die "$DEMO not built"
ck_init ckt-out2

A=ckt-out2-a B=ckt-out2-b
ck_netns $A; ck_netns $B
ckagt_link $A 10.99.8.1/24 $B 10.99.8.2/24
SOCK=$CK_TMP/run/agent.sock
STATE=$CK_TMP/state
CFG=$CK_TMP/agent.cfg
ckagt_config "$CFG" outage-host "$SOCK" "$STATE"

pings() { ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1; }
http_ok() { ip netns exec "$1" curl -sf -m 1 -o /dev/null "$2"; }
no_reply() { ! ip netns exec "$1" ping -c1 -W0.5 "$2" >/dev/null 2>&1; }
both_cut() { no_reply $A 10.99.8.2 && no_reply $B 10.99.8.1; }
both_flow() { pings $A 10.99.8.2 && pings $B 10.99.8.1 && http_ok $A http://10.99.8.2:8080/health; }
no_leftovers() {
	[ -z "$(find "$STATE/journal" "$STATE/processes" -name '*.json' 2>/dev/null)" ]
}
apply() { # DURATION -> ID
	local r
	r=$(ckagt_req "$SOCK" POST /v1/faults \
		"{\"kind\":\"host-outage\",\"duration\":\"$1\",\"params\":{\"freeze\":[\"chaos-demo-service\"]}}")
	[ "${r%% *}" = 201 ] || { echo "# apply: $r"; return 1; }
	APPLIED=${r#* }
	ID=$(ckagt_json id <<<"$APPLIED")
}

ck_spawn $B VICTIM "$DEMO" --listen 10.99.8.2:8080 --name b
ck_spawn $A TWIN "$DEMO" --listen 10.99.8.1:8080 --name a
ck_wait_for 10 both_flow || ck_die "no traffic or no demo service before any fault"
# The link-local address and routes come with carrier; snapshots must not race them.
link_settled() { ip -n $B addr show dev eth0 | grep -q 'inet6 fe80' && ip -n $B link show dev eth0 | grep -q 'state UP'; }
ck_wait_for 5 link_settled || ck_die "eth0 in $B does not settle"
BEFORE=$(ck_kernel_state $B)

ckagt_start $B "$CFG" "$CK_TMP/agent.log"
ck_check "the agent lists host-outage" grep -q '"name": *"host-outage"' <(ckagt_req "$SOCK" GET /v1/info)

# --- apply, DELETE --------------------------------------------------------------------
apply 2m || ck_die "host-outage was refused"
ck_expect_eq "apply: processes_frozen" 1 "$(ckagt_json stats.processes_frozen <<<"$APPLIED")"
ck_check "apply: the victim is stopped" ck_proc_stopped "$VICTIM"
ck_check "apply: the twin in the other namespace runs" ck_proc_running "$TWIN"
ck_check "apply: traffic cut both ways" both_cut
ck_check "apply: the journal record names the victim" \
	grep -q "\"pid\":$VICTIM" "$STATE/journal/$ID.json"
ckagt_req "$SOCK" GET /metrics >/dev/null
ck_check "apply: /metrics shows the frozen count" \
	grep -q "^chaoskit_fault_processes_frozen_total{id=\"$ID\",kind=\"host-outage\"} 1$" "$CK_TMP/resp"
r=$(ckagt_req "$SOCK" DELETE "/v1/faults/$ID")
ck_expect_eq "delete: reverted" 200 "${r%% *}"
ck_check "delete: the victim runs again" ck_wait_for 2 ck_proc_running "$VICTIM"
ck_check "delete: traffic and the service are back" ck_wait_for 5 both_flow
ck_check "delete: kernel state as before" ckagt_same_state $B "$BEFORE"
ck_check "delete: no journal entry or state file left" no_leftovers

# --- the deadline -----------------------------------------------------------------------
apply 1s || ck_die "host-outage was refused"
ck_check "deadline: frozen" ck_proc_stopped "$VICTIM"
ck_check "deadline: resumed by the reaper" ck_wait_for 5 ck_proc_running "$VICTIM"
ck_check "deadline: traffic back" ck_wait_for 5 both_flow

# --- kill -9 of the agent, restart ------------------------------------------------------------
apply 2m || ck_die "host-outage was refused"
kill -9 $CKAGT_PID
ckagt_wait_exit $CKAGT_PID
ck_check "crash: the guardian resumed the victim, no agent running" ck_wait_for 2 ck_proc_running "$VICTIM"
ck_check "crash: recovery logged by the guardian" ck_wait_for 2 grep -q "journal: recovered $ID" "$CK_TMP/agent.log"
ck_check "crash: traffic back" ck_wait_for 5 both_flow
ckagt_start $B "$CFG" "$CK_TMP/agent.log.2"
ck_check "crash: the restarted agent found nothing left to recover" bash -c "! grep -q 'journal: recovered' '$CK_TMP/agent.log.2'"
ck_check "crash: kernel state as before" ckagt_same_state $B "$BEFORE"
ck_check "crash: no journal entry or state file left" no_leftovers

# --- SIGTERM of the agent reverts --------------------------------------------------------
apply 2m || ck_die "host-outage was refused"
ck_check "stop: frozen" ck_proc_stopped "$VICTIM"
kill -TERM $CKAGT_PID
ckagt_wait_exit $CKAGT_PID
ck_expect_eq "stop: the agent exits 0" 0 "$CKAGT_RC"
ck_check "stop: the victim runs again" ck_wait_for 2 ck_proc_running "$VICTIM"
ck_check "stop: kernel state as before" ckagt_same_state $B "$BEFORE"
ck_check "stop: no journal entry or state file left" no_leftovers
ck_check "the twin ran throughout" ck_proc_running "$TWIN"
ck_finish
