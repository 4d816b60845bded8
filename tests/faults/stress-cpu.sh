#!/usr/bin/env bash
# cpu-stress through a real agent (system-wide placement):
# 1. one worker at 50 %: the stressor's own CPU time (/proc/PID/stat) over 3 s is
#    40-60 % of a CPU, the stats agree, it holds no fd but its pipe, DELETE ends it;
# 2. two workers at 30 %: each 20-40 %, together 48-72 %;
# 3. a 2 s fault: the stressor is gone after its deadline by itself.
. "$CK_TESTS_LIB"
ck_init ckt-st-cpu
. "$CK_SOURCE_DIR/tests/faults/stress-lib.sh"
st_require
st_setup
st_agent "$CK_TMP/agent.log"

# --- 1 -------------------------------------------------------------------------------
sc_apply cpu-stress '{"workers": 1, "load": 50}' || ck_die "apply: $SC_RESP"
st_wait_stressors 1
pid=$ST_PIDS
sleep 0.5
read -r _ p < <(st_cpu_percent 3 "$pid" | head -1)
ck_log "1 worker at 50 %: measured $p % of a CPU over 3 s"
ck_check "1 worker at 50 %: 40-60 % of a CPU ($p)" st_between 40 "$p" 60
ck_expect_eq "stats: workers" 1 "$(sc_stat workers)"
ck_expect_eq "stats: load_target" 50 "$(sc_stat load_target)"
m=$(sc_stat load_measured)
ck_check "stats: load_measured 40-60 ($m)" st_between 40 "$m" 60
ck_expect_eq "stats: workers_running" 1 "$(sc_stat workers_running)"
ck_expect_eq "the stressor holds only its pipe" "pipe" \
	"$(ls -l "/proc/$pid/fd" | awk 'NR > 1 { sub(/:.*/, "", $NF); print $NF }' | tr '\n' ' ' | sed 's/ $//')"
ck_expect_eq "the stressor's parent is the agent" "$CKAGT_PID" "$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$pid/stat")"
ck_expect_eq "it left the agent's blocked signals behind" 0000000000000000 \
	"$(awk '/^SigBlk/ { print $2 }' "/proc/$pid/status")"
sc_revert
ck_check "DELETE: the stressor is gone within 1 s" st_gone_within 1 "$pid"
ck_check "DELETE: the state file is gone" bash -c "! ls '$ST_STATE/stress/'*.json 2>/dev/null"

# --- 2 -------------------------------------------------------------------------------
sc_apply cpu-stress '{"workers": 2, "load": 30}' || ck_die "apply: $SC_RESP"
st_wait_stressors 2
sleep 0.5
out=$(st_cpu_percent 3 $ST_PIDS)
ck_log "2 workers at 30 %: $(tr '\n' ' ' <<<"$out")"
while read -r who p; do
	if [ "$who" = total ]; then
		ck_check "2 workers at 30 %: together 48-72 % ($p)" st_between 48 "$p" 72
	else
		ck_check "2 workers at 30 %: worker $who 20-40 % ($p)" st_between 20 "$p" 40
	fi
done <<<"$out"
ck_expect_eq "stats: workers" 2 "$(sc_stat workers)"
m=$(sc_stat load_measured)
ck_check "stats: load_measured per worker 20-40 ($m)" st_between 20 "$m" 40
pids=$ST_PIDS
sc_revert
ck_check "DELETE: both stressors gone within 1 s" st_gone_within 1 $pids

# --- 3 -------------------------------------------------------------------------------
sc_apply cpu-stress '{"workers": 1, "load": 20}' 2s || ck_die "apply: $SC_RESP"
st_wait_stressors 1
pid=$ST_PIDS
ck_check "deadline: still running at 1 s" bash -c "sleep 1; kill -0 $pid"
ck_check "deadline: gone by itself after its 2 s" st_gone_within 4 "$pid"
ck_check "deadline: no stressor left" test -z "$(st_stressors)"
ck_check "no warning or error in the agent's log" bash -c "! grep -E ' (warn|error)' '$CK_TMP/agent.log'"
ck_finish
