#!/usr/bin/env bash
# experiments/lab-cpu-stress.cfg: one stressor at 50 % in the cgroups of h2's talk service for 6 s.
# While it runs there is exactly one stressor, a child of h2's agent, in every cgroup the talk
# service is in; the journal's stats give a measured load near the request; the SLO holds (exit 0);
# afterwards no stressor is left.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
e2e_require
e2e_require_kind cpu-stress
e2e_lab_up ckt-e2ecpu 3

talk_pid=$(cat "$LAB_DIR/h2/demo.pid")
# The talk service gets a cpu cgroup of its own (v1 here, or v2), so that "in the service's
# cgroups" differs from where the agent itself runs.
cg_root=/sys/fs/cgroup/cpu
[ -d "$cg_root" ] || cg_root=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
talk_cg=$cg_root/ckt-e2ecpu-talk
[ -d "$talk_cg" ] && { cat "$talk_cg/cgroup.procs" >"$cg_root/cgroup.procs" 2>/dev/null || true; rmdir "$talk_cg"; }
mkdir "$talk_cg"
ck_on_exit "for p in \$(cat '$talk_cg/cgroup.procs'); do echo \$p > '$cg_root/cgroup.procs'; done; rmdir '$talk_cg'"
echo "$talk_pid" >"$talk_cg/cgroup.procs"
agent_pid=$(cat "$LAB_DIR/h2/agent.pid")
stressors() { pgrep -P "$agent_pid" | while read -r p; do grep -q -- '--guardian' "/proc/$p/cmdline" 2>/dev/null || echo "$p"; done; }
one_stressor() { [ "$(stressors | wc -l)" -eq 1 ]; }
e2e_run_start stress "$CK_EXPERIMENTS/lab-cpu-stress.cfg"
ck_wait_for 20 one_stressor || { sed "s/^/  | /" "$RUN_LOG"; ck_die "no stressor appeared under h2's agent"; }
stressor=$(stressors)
ck_log "stressor pid $stressor (talk $talk_pid)"
ck_expect_eq "the stressor is in the talk service's cgroups" \
	"$(cut -d: -f2- "/proc/$talk_pid/cgroup" | sort)" "$(cut -d: -f2- "/proc/$stressor/cgroup" | sort)"
ck_check "... which is the cgroup made for talk" grep -qx "$stressor" "$talk_cg/cgroup.procs"
e2e_run_wait

e2e_expect_held
e2e_expect_faults "the journal has the stress applied and ended on h2 only" \
	"applied h2 cpu-stress|reverted h2 cpu-stress ok ended|"
target=$(python3 "$CK_REPORT" stat "$RUN_JOURNAL" h2 load_target)
measured=$(python3 "$CK_REPORT" stat "$RUN_JOURNAL" h2 load_measured)
ck_log "load: requested $target %, measured $measured %"
ck_expect_eq "requested load in the stats" 50 "$target"
ck_check "measured load 30-70 % ($measured)" test "$measured" -ge 30 -a "$measured" -le 70
no_stressor() { [ -z "$(stressors)" ]; }
ck_check "no stressor left after the run" ck_wait_for 5 no_stressor
e2e_check_junit_matches_journal 0
e2e_check_no_faults_left
e2e_lab_down
ck_finish
