#!/usr/bin/env bash
# Stressors never outlive their agent:
# 1. kill -9 of an agent without guardian: nothing calls recover(), yet both stressors
#    exit by themselves within 1 s (their pipe's write end died with the agent);
# 2. kill -9 with the guardian: the stressors are gone within 1 s as well, and the
#    guardian leaves no state file;
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
pids=$ST_PIDS
ck_check "no guardian: a state file names the stressors" \
	grep -q "\"pid\":${pids%% *}," "$ST_STATE/stress/$SC_ID.json"
kill -9 "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
ck_check "no guardian: kill -9 of the agent: both stressors exit within 1 s" st_gone_within 1 $pids

# --- 2 -------------------------------------------------------------------------------
st_agent "$CK_TMP/agent.log.2"
sc_apply memory-stress '{"size": "16MiB"}' || ck_die "apply: $SC_RESP"
st_wait_stressors 1
pid=$ST_PIDS
kill -9 "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
ck_check "guardian: kill -9 of the agent: the stressor exits within 1 s" st_gone_within 1 "$pid"
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
