#!/usr/bin/env bash
# process-pause, method "signal" (SIGSTOP/SIGCONT), through a real chaos-agent in namespace
# A. The victim is a counter this test starts in A; a twin with the same command line runs
# in namespace B and must never stop. The victim is stopped (state T, the counter stands
# still) and runs again (the counter moves) after DELETE, after the deadline, after kill -9
# of the agent (its guardian resumes it at once, no agent running), and with the guardian
# disabled after the agent restarts (journal recovery). Nothing is left in the state dir.
. "$CK_TESTS_LIB"
ck_init ckt-pk-p
. "$CK_SOURCE_DIR/tests/faults/proc-lib.sh"
pk_require
A=ckt-pk-p-a B=ckt-pk-p-b
ck_netns "$A"; ck_netns "$B"
TAG=ckt-pk-counter-$$
pk_counter "$A" - VICTIM "$CK_TMP/count.a" "$TAG"
pk_counter "$B" - TWIN "$CK_TMP/count.b" "$TAG"
PARAMS="{\"processes\": {\"cmdline\": \"$TAG\"}, \"method\": \"signal\"}"
paused() { ck_proc_stopped "$VICTIM" && pk_stuck "$CK_TMP/count.a"; }
running() { ck_proc_running "$VICTIM" && pk_progresses "$CK_TMP/count.a"; }
ck_check "before: the victim counts" running

pk_agent "$A" "$CK_TMP/agent.log"
ck_check "the agent lists process-pause" grep -q '"name": *"process-pause"' <(ckagt_req "$SC_SOCK" GET /v1/info)

# --- apply, DELETE ------------------------------------------------------------------------
sc_apply process-pause "$PARAMS" || ck_die "process-pause refused: $SC_RESP"
ck_expect_eq "apply: processes_frozen" 1 "$(ckagt_json stats.processes_frozen <<<"${SC_RESP#* }")"
ck_expect_eq "apply: method" signal "$(ckagt_json stats.method <<<"${SC_RESP#* }")"
ck_check "apply: stopped (T) and the counter stands still" paused
ck_check "apply: the twin in B counts on" pk_progresses "$CK_TMP/count.b"
ck_check "apply: the state file lists the victim" grep -q "\"pid\":$VICTIM" "$PK_STATE/processes/$SC_ID.json"
ck_check "apply: the journal record lists it" grep -q "\"pid\":$VICTIM" "$PK_STATE/journal/$SC_ID.json"
FIRST=$SC_ID
sc_apply process-pause "$PARAMS" && ck_die "a second pause of a stopped process was applied"
ck_check "second pause: refused, already stopped" grep -q 'stopped already' <<<"$SC_RESP"
SC_ID=$FIRST
sc_revert
ck_check "delete: running and counting" ck_wait_for 2 running
ck_check "delete: nothing left in the state dir" pk_no_leftovers

# --- the deadline -------------------------------------------------------------------------
sc_apply process-pause "$PARAMS" 2s || ck_die "process-pause refused: $SC_RESP"
ck_check "deadline: paused" paused
ck_check "deadline: running again" ck_wait_for 5 running
ck_expect_eq "deadline: the fault expired" expired "$(pk_fault_state)"
ck_check "deadline: nothing left in the state dir" pk_no_leftovers

# --- kill -9 of the agent: the guardian resumes at once -------------------------------------------
sc_apply process-pause "$PARAMS" || ck_die "process-pause refused: $SC_RESP"
ck_check "crash: paused" paused
kill -9 "$CKAGT_PID"
T0=$(ckagt_now_ms)
ckagt_wait_exit "$CKAGT_PID"
ck_check "crash: the guardian resumed the victim" ck_wait_for 2 ck_proc_running "$VICTIM"
ck_log "crash: running again $(( $(ckagt_now_ms) - T0 )) ms after kill -9 (test polling included)"
ck_check "crash: counting" running
ck_check "crash: recovery logged by the guardian" ck_wait_for 2 grep -q "journal: recovered $SC_ID" "$CK_TMP/agent.log"
ck_check "crash: nothing left in the state dir" ck_wait_for 2 pk_no_leftovers

# --- kill -9 without a guardian: the restarted agent resumes ------------------------------------------
pk_agent "$A" "$CK_TMP/agent.log.2" "guardian = false;"
sc_apply process-pause "$PARAMS" || ck_die "process-pause refused: $SC_RESP"
kill -9 "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
sleep 1
ck_check "no guardian: still paused with the agent dead" paused
pk_agent "$A" "$CK_TMP/agent.log.3" "guardian = false;"
ck_check "no guardian: the restarted agent recovered the fault" grep -q "journal: recovered $SC_ID" "$CK_TMP/agent.log.3"
ck_check "no guardian: running and counting" ck_wait_for 2 running
ck_check "no guardian: nothing left in the state dir" pk_no_leftovers

# --- a crash between the state file and the journal: the process family's sweep resumes ---------------
kill -TERM "$CKAGT_PID"; ckagt_wait_exit "$CKAGT_PID"
ck_expect_eq "stop: the agent exits 0" 0 "$CKAGT_RC"
kill -STOP "$VICTIM"
START=$(awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[20] }' "/proc/$VICTIM/stat")
mkdir -p "$PK_STATE/processes"
echo "{\"frozen\":[{\"pid\":$VICTIM,\"starttime\":$START,\"comm\":\"python3\"}]}" >"$PK_STATE/processes/f-ckt-pk-crash.json"
pk_agent "$A" "$CK_TMP/agent.log.4" "guardian = false;"
ck_check "sweep: the agent's start resumed the listed process" ck_wait_for 2 running
ck_check "sweep: logged" grep -q "f-ckt-pk-crash.json named 1 frozen process" "$CK_TMP/agent.log.4"
ck_check "sweep: nothing left in the state dir" pk_no_leftovers
ck_check "the twin in B counted throughout" ck_proc_running "$TWIN"
ck_finish
