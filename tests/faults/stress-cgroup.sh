#!/usr/bin/env bash
# cpu-stress placement in cgroups (the host's hybrid layout: v1 cpu and cpuacct are
# separate hierarchies, v2 at /sys/fs/cgroup/unified):
# 1. cgroup = a v1 cpu cgroup the test made with a 20 % CFS quota: the stressor is in
#    it, and a 100 % worker gets 12-28 % of a CPU and is throttled (the quota holds
#    it, so it runs under that cgroup's control, not merely listed there);
# 2. processes = a victim in v1 cpu, v1 cpuacct and v2 cgroups of the test: the
#    stressor joins all three, and the victims' cpuacct.usage grows by its load.
. "$CK_TESTS_LIB"
ck_init ckt-st-cg
. "$CK_SOURCE_DIR/tests/faults/stress-lib.sh"
st_require
st_setup
st_agent "$CK_TMP/agent.log"

# --- 1 -------------------------------------------------------------------------------
st_v1_cgroup cpu "$CK_PREFIX-quota"
QUOTA=$ST_CG
echo 100000 >"$QUOTA/cpu.cfs_period_us"
echo 20000 >"$QUOTA/cpu.cfs_quota_us"
sc_apply cpu-stress "{\"workers\": 1, \"load\": 100, \"cgroup\": \"$QUOTA\"}" || ck_die "apply: $SC_RESP"
st_wait_stressors 1
pid=$ST_PIDS
ck_check "cgroup: the stressor is in $QUOTA" st_in_cgroup "$pid" "$QUOTA"
ck_check "cgroup: /proc/PID/cgroup says so" grep -qx "[0-9]*:cpu:/$CK_PREFIX-quota" "/proc/$pid/cgroup"
thr0=$(awk '/^nr_throttled/ { print $2 }' "$QUOTA/cpu.stat")
read -r _ p < <(st_cpu_percent 2 "$pid" | head -1)
thr1=$(awk '/^nr_throttled/ { print $2 }' "$QUOTA/cpu.stat")
ck_log "100 % worker under a 20 % quota: $p %, throttled $((thr1 - thr0)) times in 2 s"
ck_check "cgroup: the quota holds it at 12-28 % ($p)" st_between 12 "$p" 28
ck_check "cgroup: the cgroup throttled it" test "$((thr1 - thr0))" -gt 5
sc_revert
ck_check "cgroup: DELETE ends it" st_gone_within 1 "$pid"

# --- 2 -------------------------------------------------------------------------------
st_v1_cgroup cpu "$CK_PREFIX-victim"
CPU_CG=$ST_CG
st_v1_cgroup cpuacct "$CK_PREFIX-victim"
ACCT_CG=$ST_CG
sc_cgroup "$CK_PREFIX-victim"
V2_CG=$SC_CG
nsenter --net="/run/netns/$ST_NS" sh -c 'for d in "$@"; do echo $$ > "$d/cgroup.procs"; done; exec sleep 600' \
	sh "$CPU_CG" "$ACCT_CG" "$V2_CG" &
VICTIM=$!
ck_on_exit "kill -9 $VICTIM"
ck_wait_for 5 st_in_cgroup "$VICTIM" "$V2_CG" || ck_die "the victim did not join its cgroups"
ck_wait_for 5 bash -c "grep -q sleep /proc/$VICTIM/comm" || ck_die "the victim did not start"
u0=$(cat "$ACCT_CG/cpuacct.usage")
sc_apply cpu-stress "{\"workers\": 1, \"load\": 50, \"processes\": {\"pid\": $VICTIM}}" || ck_die "apply: $SC_RESP"
st_wait_stressors 1
pid=$ST_PIDS
ck_check "processes: the stressor is in the victim's v1 cpu cgroup" st_in_cgroup "$pid" "$CPU_CG"
ck_check "processes: ... its v1 cpuacct cgroup" st_in_cgroup "$pid" "$ACCT_CG"
ck_check "processes: ... its v2 cgroup" st_in_cgroup "$pid" "$V2_CG"
ck_expect_eq "processes: every hierarchy the same as the victim's" \
	"$(sort "/proc/$VICTIM/cgroup")" "$(sort "/proc/$pid/cgroup")"
sleep 2
u1=$(cat "$ACCT_CG/cpuacct.usage")
grown=$(( (u1 - u0) / 1000000 ))
ck_log "the victim cgroup's cpuacct.usage grew by $grown ms in ~2 s with a 50 % stressor"
ck_check "processes: cpuacct.usage of the victim's cgroup grew by >= 700 ms ($grown)" test "$grown" -ge 700
sc_revert
ck_check "processes: DELETE ends it" st_gone_within 1 "$pid"
ck_check "processes: the victim is untouched" ck_proc_running "$VICTIM"
u2=$(cat "$ACCT_CG/cpuacct.usage")
sleep 1
u3=$(cat "$ACCT_CG/cpuacct.usage")
ck_check "processes: after DELETE the cgroup is idle again (< 50 ms/s: $(( (u3 - u2) / 1000000 )))" \
	test $(( (u3 - u2) / 1000000 )) -lt 50

# --- a cgroup that does not exist ----------------------------------------------------
sc_apply cpu-stress "{\"workers\": 1, \"cgroup\": \"/sys/fs/cgroup/cpu/$CK_PREFIX-none\"}" &&
	ck_die "applied into a cgroup that does not exist"
ck_expect_eq "missing cgroup: refused (not_applicable)" 422 "${SC_RESP%% *}"
echo "$SC_RESP" >"$CK_TMP/missing.resp"
ck_log "missing cgroup: $SC_RESP"
ck_check "missing cgroup: the error's key is cgroup" grep -q '"key": *"cgroup"' "$CK_TMP/missing.resp"
ck_check "missing cgroup: the message names the directory" grep -q "$CK_PREFIX-none: no such cgroup" "$CK_TMP/missing.resp"
ck_check "missing cgroup: no stressor left" test -z "$(st_stressors)"
sc_apply cpu-stress '{"workers": 1, "processes": {"name": "ckt-st-no-such-process"}}' &&
	ck_die "applied with processes that match nothing"
ck_log "no matching process: $SC_RESP"
ck_expect_eq "no matching process: refused (not_applicable)" 422 "${SC_RESP%% *}"
ck_check "no matching process: the key is processes..." grep -q '"key": *"processes' <<<"$SC_RESP"
ck_check "no matching process: no stressor left" test -z "$(st_stressors)"
ck_finish
