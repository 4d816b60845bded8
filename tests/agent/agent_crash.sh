#!/usr/bin/env bash
# kill -9 of the agent with a blackhole applied. Without the guardian (guardian = false,
# or the guardian killed too): the restart recovers the journal and the kernel state is
# what it was before the fault; with packet_backend = "clsact" the filters outlive the
# agent until then, with "tcx" traffic flows as soon as the agent dies. A leftover no
# journal names is removed by the sweep. With the guardian (the default): the clsact
# filter is gone right after the kill, without any restart, and a second agent on the
# same state_dir is refused.
source "$CK_TESTS_LIB"
source "$(dirname "$0")/agent_lib.sh"
ck_require_root
ck_require_tools curl ping
[ -x "$CK_AGENT" ] || ck_skip "chaos-agent is not built"
ck_init ckt-agt-crash

A=ckt-agt-crash-a B=ckt-agt-crash-b
ck_netns $A; ck_netns $B
ckagt_link $A 10.99.9.1/24 $B 10.99.9.2/24
SOCK=$CK_TMP/run/agent.sock
STATE=$CK_TMP/state
pings() { ip netns exec $B ping -c 1 -W 1 -q 10.99.9.1 >/dev/null 2>&1; }
no_ping() { ! ip netns exec $B ping -c 2 -W 1 -q 10.99.9.1 >/dev/null 2>&1; }
journal_n() { find "$STATE/journal" -name '*.json' 2>/dev/null | wc -l; }
BEFORE=$(ck_kernel_state $A)

crash_and_recover() { # backend
	local backend=$1 log=$CK_TMP/agent-$1.log r id
	ckagt_config "$CK_TMP/$backend.cfg" crash-host "$SOCK" "$STATE" "packet_backend = \"$backend\";" \
		"guardian = false;"
	ckagt_start $A "$CK_TMP/$backend.cfg" "$log"
	r=$(ckagt_req "$SOCK" POST /v1/faults '{"kind":"blackhole","duration":"2m","params":{"direction":"ingress"}}')
	ck_expect_eq "$backend: applied" 201 "${r%% *}"
	id=$(ckagt_json id <<<"${r#* }")
	ck_expect_eq "$backend: backend used" "$backend" "$(ckagt_json stats.backend <<<"${r#* }")"
	ck_check "$backend: blackhole drops traffic" no_ping
	kill -9 $CKAGT_PID
	ckagt_wait_exit $CKAGT_PID
	ck_check "$backend: journal entry survives the kill" test -f "$STATE/journal/$id.json"
	if [ "$backend" = clsact ]; then
		ck_check "clsact: the filter outlives the agent (traffic still dropped)" no_ping
	else
		ck_check "tcx: traffic flows right after the kill" pings
	fi
	local t0; t0=$(ckagt_now_ms)
	ckagt_start $A "$CK_TMP/$backend.cfg" "$log.2"
	ck_log "$backend: restart to ready (recovery + sweep): $(( $(ckagt_now_ms) - t0 )) ms (includes polling)"
	ck_check "$backend: recovery logged" grep -q "journal: recovered $id" "$log.2"
	grep "journal:" "$log.2" | sed 's/^/#   /'
	ck_expect_eq "$backend: journal empty after restart" 0 "$(journal_n)"
	ck_check "$backend: kernel state as before the fault" ckagt_same_state $A "$BEFORE"
	ck_check "$backend: traffic flows" pings
	kill -TERM $CKAGT_PID
	ckagt_wait_exit $CKAGT_PID
	ck_expect_eq "$backend: clean stop" 0 "$CKAGT_RC"
}

crash_and_recover clsact
crash_and_recover tcx

# The sweep: a clsact fault whose journal entry is lost (a crash between creating the
# filter and journaling it looks like this) is still removed at the next start.
ckagt_config "$CK_TMP/sweep.cfg" crash-host "$SOCK" "$STATE" 'packet_backend = "clsact";' 'guardian = false;'
ckagt_start $A "$CK_TMP/sweep.cfg" "$CK_TMP/sweep.log"
r=$(ckagt_req "$SOCK" POST /v1/faults '{"kind":"blackhole","duration":"2m","params":{"direction":"ingress"}}')
ck_expect_eq "sweep: applied" 201 "${r%% *}"
kill -9 $CKAGT_PID
ckagt_wait_exit $CKAGT_PID
rm -f "$STATE"/journal/*.json
ck_check "sweep: the orphaned filter still drops" no_ping
ckagt_start $A "$CK_TMP/sweep.cfg" "$CK_TMP/sweep.log.2"
ck_check "sweep: ran at start" grep -q "sweep: family packet" "$CK_TMP/sweep.log.2"
ck_check "sweep: traffic flows" pings
ck_expect_eq "sweep: no tc filter left" "" "$(tc -n $A filter show dev eth0 ingress; tc -n $A filter show dev eth0 egress)"
# Without a journal record nobody can tell whether the clsact qdisc was there before
# the fault, so the sweep removes the family's filters and leaves the (empty) qdisc.
state_but_clsact() { ck_kernel_state $A | grep -v '^qdisc clsact ffff: parent ffff:fff1'; }
ck_expect_eq "sweep: kernel state as before but for an empty clsact qdisc" "$BEFORE" "$(state_but_clsact)"
kill -TERM $CKAGT_PID
ckagt_wait_exit $CKAGT_PID

# The guardian: same clsact fault, kill -9 of the agent alone, no restart.
guardian_pid() { # the process of namespace A whose command line has --guardian
	local p
	for p in $(ip netns pids $A); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- '--guardian' && echo "$p"
	done
	return 0
}
no_guardian() { [ -z "$(guardian_pid)" ]; }
filters_gone() { [ -z "$(tc -n $A filter show dev eth0 ingress)" ]; }
ck_wait_for 5 no_guardian || ck_die "a guardian of an earlier agent is still running"
ckagt_config "$CK_TMP/guard.cfg" crash-host "$SOCK" "$STATE" 'packet_backend = "clsact";'
ckagt_start $A "$CK_TMP/guard.cfg" "$CK_TMP/guard.log"
GPID=$(guardian_pid)
ck_check "guardian: started with the agent" test -n "$GPID"
ck_check "guardian: a second agent on the same state_dir is refused" \
	bash -c "! ip netns exec $A timeout 20 '$CK_AGENT' --config '$CK_TMP/guard.cfg' >'$CK_TMP/second.log' 2>&1"
ck_check "guardian: the refusal names the state_dir lock" grep -q "in use by another chaos-agent" "$CK_TMP/second.log"
r=$(ckagt_req "$SOCK" POST /v1/faults '{"kind":"blackhole","duration":"2m","params":{"direction":"ingress"}}')
ck_expect_eq "guardian: applied" 201 "${r%% *}"
ck_check "guardian: blackhole drops traffic" no_ping
t0=$(ckagt_now_ms)
kill -9 $CKAGT_PID
ckagt_wait_exit $CKAGT_PID
ck_check "guardian: the clsact filter is removed without a restart" ck_wait_for 2 filters_gone
ck_log "guardian: filter gone $(( $(ckagt_now_ms) - t0 )) ms after kill -9 (includes polling)"
ck_check "guardian: traffic flows" pings
ck_check "guardian: logged the recovery" grep -q "guardian: the agent died with 1 fault(s) active" "$CK_TMP/guard.log"
ck_expect_eq "guardian: journal empty" 0 "$(journal_n)"
ck_check "guardian: exited after the recovery" ck_wait_for 3 no_guardian
ck_expect_eq "guardian: kernel state as before the fault" "$BEFORE" "$(state_but_clsact)"
ck_finish
