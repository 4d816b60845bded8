# Shared by the stress fault tests (faults/stress.c): an agent in namespace $ST_NS,
# stressor pids, CPU shares measured from /proc/PID/stat, v1 cgroups of the test
# prefix. Source after tests/lib.sh and ck_init.
. "$CK_SOURCE_DIR/tests/faults/scope-lib.sh"
ST_NS=$CK_PREFIX-a
ST_STATE=$CK_TMP/state
ST_TCK=$(getconf CLK_TCK)

st_require() {
	ck_require_root
	ck_require_tools python3 curl nsenter pgrep
	[ -x "$CK_AGENT" ] || ck_skip "chaos-agent is not built"
}

st_setup() { ck_netns "$ST_NS"; }

# st_agent LOG [CONFIG LINE...]: an agent in $ST_NS on $ST_STATE; sets SC_SOCK and CKAGT_PID.
# LOG must be a new file per agent.
st_agent() {
	local log=$1; shift
	SC_SOCK=$CK_TMP/run/agent.sock
	ckagt_config "$CK_TMP/agent.cfg" "$CK_PREFIX" "$SC_SOCK" "$ST_STATE" "$@"
	ckagt_start_net "$ST_NS" "$CK_TMP/agent.cfg" "$log"
}

# st_stressors [PARENT]: the pids of the stressors PARENT (default the agent) forked.
st_stressors() { pgrep -P "${1:-$CKAGT_PID}" '^chaos-(cpu|mem)stress$' | sort -n | tr '\n' ' ' | sed 's/ $//'; }
# st_wait_stressors N: waits until N stressors run, sets ST_PIDS.
st_wait_stressors() {
	local i
	for ((i = 0; i < 50; i++)); do
		ST_PIDS=$(st_stressors)
		[ "$(wc -w <<<"$ST_PIDS")" -eq "$1" ] && return 0
		sleep 0.1
	done
	ck_die "expected $1 stressor(s), found [$ST_PIDS]"
}
st_none_alive() {
	local pid
	for pid in "$@"; do kill -0 "$pid" 2>/dev/null && [ "$(ck_proc_state "$pid")" != Z ] && return 1; done
	return 0
}
# st_gone_within SECONDS PID...: every PID has exited within SECONDS.
st_gone_within() { local s=$1; shift; ck_wait_for "$s" st_none_alive "$@"; }

st_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# st_cpu_percent SECONDS PID...: the CPU the PIDs used over the next SECONDS, in percent
# of one CPU, each pid on its own line ("PID PERCENT"), then "total PERCENT".
st_cpu_percent() {
	local secs=$1 pid; shift
	local -A t0
	local s0 s1 total=0
	for pid in "$@"; do t0[$pid]=$(st_ticks "$pid"); done
	s0=$(date +%s%N)
	sleep "$secs"
	s1=$(date +%s%N)
	for pid in "$@"; do
		local p=$(( ( $(st_ticks "$pid") - t0[$pid] ) * 100000000000 / ST_TCK / (s1 - s0) ))
		echo "$pid $p"
		total=$((total + p))
	done
	echo "total $total"
}
st_between() { [ "$2" -ge "$1" ] && [ "$2" -le "$3" ]; }

# st_v1_cgroup CONTROLLER NAME: creates /sys/fs/cgroup/CONTROLLER/NAME (a v1 hierarchy;
# NAME starts with the test prefix) after removing stale ones of the prefix; sets ST_CG.
st_v1_cgroup() {
	local ctrl=$1 name=$2 root=/sys/fs/cgroup/$1 stale
	case "$name" in "$CK_PREFIX"*) ;; *) ck_die "cgroup $name lacks the test prefix $CK_PREFIX" ;; esac
	awk -v r="$root" -v c="$ctrl" '$2 == r && $3 == "cgroup" && ("," $4 ",") ~ ("," c ",") { f = 1 } END { exit !f }' \
		/proc/mounts || ck_skip "no cgroup v1 $ctrl hierarchy at $root"
	for stale in "$root/$CK_PREFIX"-*; do sc_cgroup_remove "$stale"; done
	ST_CG=$root/$name
	mkdir "$ST_CG"
	ck_on_exit "sc_cgroup_remove '$ST_CG'"
}
# st_in_cgroup PID DIR: PID is listed in DIR/cgroup.procs.
st_in_cgroup() { grep -qx "$1" "$2/cgroup.procs"; }
