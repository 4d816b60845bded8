#!/usr/bin/env bash
# Stressors never outlive their agent:
# 1. kill -9 of an agent without guardian: nothing calls recover(), yet the running
#    stressor exits by itself within 1 s (its pipe's write end died with the agent); a
#    SIGSTOPped one cannot notice and stays, until the restarted agent's journal
#    recovery kills it;
# 2. kill -9 with the guardian: a SIGSTOPped stressor is killed by the guardian's
#    recover() within 1 s, and no state file is left;
# 3. agent restart with a stale state file (a crash between fork and journal, or a
#    stressor that survived): the sweep kills the processes it names whose starttime
#    matches, spares a pid whose starttime differs (a reused pid), removes the file.
. "$CK_TESTS_LIB"
ck_init ckt-st-life
. "$CK_SOURCE_DIR/tests/faults/stress-lib.sh"
st_require
st_setup

# --- 1 -------------------------------------------------------------------------------
st_agent "$CK_TMP/agent.log" "guardian = false;"
sc_apply cpu-stress '{"workers": 2, "load": 20}' || ck_die "apply: $SC_RESP"
st_wait_stressors 2
read -r RUNNING STOPPED <<<"$ST_PIDS"
ck_check "no guardian: a state file names the stressors" \
	grep -q "\"pid\":$RUNNING," "$ST_STATE/stress/$SC_ID.json"
# A stopped stressor cannot see the EOF: only recover() can end it.
kill -STOP "$STOPPED"
ck_wait_for 2 ck_proc_stopped "$STOPPED" || ck_die "stressor $STOPPED did not stop"
kill -9 "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
ck_check "no guardian: kill -9 of the agent: the running stressor exits within 1 s (pipe EOF)" \
	st_gone_within 1 "$RUNNING"
sleep 0.5
ck_check "no guardian: the stopped one is still there (nothing else killed it)" ck_proc_stopped "$STOPPED"
st_agent "$CK_TMP/agent.log.1b" "guardian = false;"
ck_check "restart: journal recovery killed the stopped stressor (pidfd + starttime)" st_gone_within 2 "$STOPPED"
ck_check "restart: the log says so" grep -q "stress: killed 1 stressor(s) left running" "$CK_TMP/agent.log.1b"
ck_check "restart: the state file is removed" bash -c "! ls '$ST_STATE/stress/'*.json"
kill -TERM "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"

# --- 2 -------------------------------------------------------------------------------
st_agent "$CK_TMP/agent.log.2"
sc_apply memory-stress '{"size": "16MiB"}' || ck_die "apply: $SC_RESP"
st_wait_stressors 1
pid=$ST_PIDS
kill -STOP "$pid"
ck_wait_for 2 ck_proc_stopped "$pid" || ck_die "stressor $pid did not stop"
kill -9 "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
ck_check "guardian: kill -9 of the agent: the guardian's recover() killed the stopped stressor within 1 s" \
	st_gone_within 1 "$pid"
ck_check "guardian: the state file is removed" ck_wait_for 5 bash -c "! ls '$ST_STATE/stress/'*.json"

# --- 3 -------------------------------------------------------------------------------
# Stand-ins for stressors that survived: processes this test started.
sleep 600 &
ORPHAN=$!
ck_on_exit "kill -9 $ORPHAN"
sleep 600 &
REUSED=$!
ck_on_exit "kill -9 $REUSED"
start_of() { awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$1/stat"; }
mkdir -p "$ST_STATE/stress"
printf '{"stressors":[{"pid":%d,"starttime":%d,"comm":"chaos-cpustress"},{"pid":%d,"starttime":%d,"comm":"chaos-cpustress"}]}\n' \
	"$ORPHAN" "$(start_of "$ORPHAN")" "$REUSED" $(( $(start_of "$REUSED") + 1 )) >"$ST_STATE/stress/f-0badc0de.json"
: >"$ST_STATE/stress/f-0badc0df.json.tmp"
st_agent "$CK_TMP/agent.log.3" "guardian = false;"
ck_check "sweep: the process the state file names is killed" st_gone_within 2 "$ORPHAN"
ck_check "sweep: a pid whose starttime differs is spared" ck_proc_running "$REUSED"
ck_check "sweep: the state files are removed" bash -c "! ls '$ST_STATE/stress/' | grep -q ."
ck_check "sweep: the log names the file and the count" \
	grep -q "stress: .*f-0badc0de.json named stressors no fault owns any more; killed 1" "$CK_TMP/agent.log.3"
kill -TERM "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
ck_expect_eq "SIGTERM: the agent stopped cleanly" 0 "$CKAGT_RC"
ck_finish
