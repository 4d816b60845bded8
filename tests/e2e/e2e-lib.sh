# shellcheck shell=bash disable=SC2034
# Helpers for the e2e suite (the netns lab). Source after tests/lib.sh.
# Every test brings up its own lab with its own prefix under its own temp dir, and tears it
# down on exit whatever happens.

CK_LAB="$CK_SOURCE_DIR/lab/lab.sh"
CK_DEMO="$CK_BUILD_DIR/lab/chaos-demo-service"
CK_EXPERIMENTS="$CK_SOURCE_DIR/experiments"
CK_REPORT="$CK_SOURCE_DIR/tests/e2e/report.py"

e2e_require() {
	ck_require_root
	local b
	for b in "$CK_AGENT" "$CK_CHAOS" "$CK_DEMO"; do
		[ -x "$b" ] || ck_skip "$b is not built"
	done
	for b in curl openssl python3; do
		command -v "$b" >/dev/null || ck_skip "$b is not installed"
	done
}

# e2e_lab_up PREFIX [HOSTS [lab.sh up options, e.g. --prometheus]]: sets LAB_PREFIX, LAB_DIR,
# LAB_CTL, LAB_HOSTS, LAB_INVENTORY.
e2e_lab_up() {
	LAB_PREFIX=$1 LAB_HOSTS=${2:-3}
	shift $(( $# < 2 ? $# : 2 ))
	ck_init "$LAB_PREFIX"
	LAB_DIR=$CK_TMP/lab LAB_CTL=$LAB_PREFIX-ctl LAB_INVENTORY=$CK_TMP/lab/inventory.cfg
	ck_on_exit "'$CK_LAB' down --prefix '$LAB_PREFIX' --dir '$LAB_DIR'"
	local t0
	t0=$(date +%s%N)
	if ! "$CK_LAB" up --prefix "$LAB_PREFIX" --dir "$LAB_DIR" --hosts "$LAB_HOSTS" --build "$CK_BUILD_DIR" "$@" \
		>"$CK_TMP/lab-up.log" 2>&1; then
		cat "$CK_TMP/lab-up.log"
		ck_die "lab.sh up failed"
	fi
	ck_log "lab $LAB_PREFIX up with $LAB_HOSTS hosts${1:+ ($*)} in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

# e2e_require_gameday: what the DC blackout game day needs beyond e2e_require.
e2e_require_gameday() {
	command -v prometheus >/dev/null || ck_skip "prometheus is not installed (Debian package prometheus)"
	e2e_require_kind host-outage
}

# e2e_require_kind KIND: skips (77) unless this agent lists KIND as supported on this host.
e2e_require_kind() {
	ck_output_has "^$1 +[a-z]+ +supported" "$CK_AGENT" --list-kinds ||
		ck_skip "this chaos-agent cannot run $1 faults here ($("$CK_AGENT" --list-kinds 2>&1 | grep "^$1 " || echo unknown kind))"
}

# Process state letter (S, R, T for stopped/frozen, ...) of PID.
e2e_proc_state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo gone; }

# e2e_demo_pids: "hN talk PID" / "h1 login PID" for every demo service of the lab.
e2e_demo_pids() {
	local i
	for ((i = 1; i <= LAB_HOSTS; i++)); do echo "h$i talk $(cat "$LAB_DIR/h$i/demo.pid")"; done
	echo "h1 login $(cat "$LAB_DIR/h1/login.pid")"
}

# BPF links held by the processes of namespace NS (tcx links exist only as long as a process
# holds them, and bpftool 7.1 does not show them per interface): "comm link_type ifindex attach".
e2e_bpf_links() {
	local pid fd
	for pid in $(ip netns pids "$1" 2>/dev/null); do
		for fd in /proc/"$pid"/fd/*; do
			[ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:bpf_link" ] || continue
			awk -v comm="$(cat "/proc/$pid/comm")" '/^link_type:/ {t=$2} /^ifindex:/ {i=$2}
				/^attach_type:/ {a=$3} END {print "bpf link:", comm, t, "ifindex", i, a}' \
				"/proc/$pid/fdinfo/${fd##*/}" 2>/dev/null
		done
	done | sort
}

# Kernel state of every lab namespace, minus the bridge's ever-running timers.
e2e_kernel_state() {
	local ns
	for ns in "$LAB_CTL" $(seq -f "$LAB_PREFIX-h%g" 1 "$LAB_HOSTS"); do
		echo "### $ns"
		ck_kernel_state "$ns" | sed -E 's/[a-z_]+_timer +[0-9.]+//g; s/expires [0-9]+sec//g'
		e2e_bpf_links "$ns"
	done
}

# e2e_curl_ctl URL: fetches URL from the control namespace (where the scheduler runs).
e2e_curl_ctl() { ip netns exec "$LAB_CTL" curl -sf --max-time "${E2E_CURL_TIMEOUT:-2}" "$1"; }

# e2e_agent HOST_INDEX METHOD PATH [BODY]: the agent API of host hN over its unix socket.
e2e_agent() {
	local i=$1 method=$2 path=$3 body=${4:-}
	if [ -n "$body" ]; then
		curl -s --max-time 5 --unix-socket "$LAB_DIR/h$i/agent.sock" -X "$method" \
			-H 'Content-Type: application/json' -d "$body" "http://agent$path"
	else
		curl -s --max-time 5 --unix-socket "$LAB_DIR/h$i/agent.sock" -X "$method" "http://agent$path"
	fi
}

# Number of active faults on hN, from the agent itself.
e2e_active_faults() {
	e2e_agent "$1" GET /v1/faults | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["faults"]))'
}

# e2e_run NAME EXPERIMENT [chaos run options...]: runs an experiment in the lab; sets RUN_RC,
# RUN_JOURNAL, RUN_JUNIT, RUN_LOG.
e2e_run() {
	local name=$1 exp=$2; shift 2
	RUN_JOURNAL=$CK_TMP/$name.journal.json RUN_JUNIT=$CK_TMP/$name.junit.xml RUN_LOG=$CK_TMP/$name.log
	RUN_RC=0
	"$CK_CHAOS" --netns "$LAB_CTL" run --inventory "$LAB_INVENTORY" "$exp" \
		--journal "$RUN_JOURNAL" --junit "$RUN_JUNIT" "$@" >"$RUN_LOG" 2>&1 || RUN_RC=$?
	sed 's/^/  | /' "$RUN_LOG"
}

# lab.sh down removed every namespace, process and file of the lab. PIDS: the lab's
# processes, read from its pid files while it was up.
e2e_check_lab_gone() {
	local pids=$1 pid left=""
	ck_expect_eq "no namespace with prefix $LAB_PREFIX is left" "" \
		"$(ip netns list | awk '{print $1}' | grep -E "^$LAB_PREFIX-" || true)"
	ck_check "the lab dir is removed" test ! -e "$LAB_DIR"
	for pid in $pids; do
		[ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat")" != Z ] && left="$left $pid"
	done
	ck_expect_eq "no agent or demo service of the lab runs any more" "" "$left"
}

# The lab's processes (agents, talk and login services, Prometheus) from its pid files.
e2e_lab_pids() {
	cat "$LAB_DIR"/h*/agent.pid "$LAB_DIR"/h*/demo.pid "$LAB_DIR"/h*/login.pid "$LAB_DIR"/prometheus/prometheus.pid \
		2>/dev/null | tr '\n' ' ' || true # not every lab runs Prometheus
}

# Anything in the root namespace that looks like the lab's (its prefix, 10.77.0.0/24, fd77::/64):
# the lab must leave no trace there.
e2e_root_lab_traces() {
	{ ip -o link show; ip -o addr show; ip route show table all; ip -6 route show table all; } 2>/dev/null |
		grep -E -- "$LAB_PREFIX|10\.77\.0\.|fd77:" || true
}

# e2e_run_start NAME EXPERIMENT [options...]: like e2e_run but in the background (RUN_PID), so
# the test can look at the lab while the faults are active. Finish with e2e_run_wait.
e2e_run_start() {
	local name=$1 exp=$2; shift 2
	RUN_JOURNAL=$CK_TMP/$name.journal.json RUN_JUNIT=$CK_TMP/$name.junit.xml RUN_LOG=$CK_TMP/$name.log
	"$CK_CHAOS" --netns "$LAB_CTL" run --inventory "$LAB_INVENTORY" "$exp" \
		--journal "$RUN_JOURNAL" --junit "$RUN_JUNIT" "$@" >"$RUN_LOG" 2>&1 &
	RUN_PID=$!
	ck_on_exit e2e_run_abort
}
e2e_run_wait() {
	RUN_RC=0
	wait "$RUN_PID" || RUN_RC=$?
	RUN_PID=""
	sed 's/^/  | /' "$RUN_LOG"
}
# e2e_expect_held: the finished run exited 0 and its journal's verdict is held.
e2e_expect_held() {
	ck_expect_eq "chaos run exits 0 (hypothesis held)" 0 "$RUN_RC"
	ck_expect_eq "the journal's verdict is held, exit code 0" "held 0" "$(python3 "$CK_REPORT" verdict "$RUN_JOURNAL" 2>&1)"
}
# e2e_expect_faults WHAT LINES: the journal's fault lines, "|"-terminated, are LINES (a fault
# ended by DELETE or by its deadline both read "ended").
e2e_expect_faults() {
	local faults
	faults=$(python3 "$CK_REPORT" faults "$RUN_JOURNAL" 2>&1 | sed -E 's/ (reverted|expired)$/ ended/')
	ck_expect_eq "$1" "$2" "$(echo "$faults" | tr '\n' '|')"
}
# On a failed test: interrupt a run still going (chaos reverts on SIGINT), and only that one.
e2e_run_abort() {
	[ -n "${RUN_PID:-}" ] || return 0
	kill -INT "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
	RUN_PID=""
}

# e2e_faults_are HOST_INDEX N: hN's agent holds exactly N active faults.
e2e_faults_are() { [ "$(e2e_active_faults "$1" 2>/dev/null)" = "$2" ]; }

# e2e_check_no_faults_left: every agent of the lab reports no active fault.
e2e_check_no_faults_left() {
	local i
	for ((i = 1; i <= LAB_HOSTS; i++)); do
		ck_expect_eq "h$i's agent holds no fault after the run" 0 "$(e2e_active_faults "$i" || echo unreachable)"
	done
}

# e2e_check_kernel_restored BEFORE_FILE: every lab namespace is as it was before the run.
e2e_check_kernel_restored() {
	local after=$CK_TMP/kernel-after.txt
	e2e_kernel_state >"$after"
	if diff -u "$1" "$after" >"$CK_TMP/kernel.diff"; then
		ck_expect_eq "kernel state of every lab namespace equals the state before the run" same same
	else
		head -n 60 "$CK_TMP/kernel.diff" | sed 's/^/  # /'
		ck_expect_eq "kernel state of every lab namespace equals the state before the run" same different
	fi
}

# e2e_check_junit_matches_journal EXPECTED_FAILURES: the JUnit file is well formed, its counts
# agree with its own test cases, and it has one case per probe result, fault application and
# probe recovery (every steady-state probe's figures after the run; a probe that must stay ok and
# deviated is a failure there too).
e2e_check_junit_matches_journal() {
	local want_failures=$1 probes applied recovery junit
	probes=$(python3 "$CK_REPORT" probes "$RUN_JOURNAL" | wc -l)
	applied=$(python3 "$CK_REPORT" faults "$RUN_JOURNAL" | grep -c '^applied' || true)
	recovery=$(python3 "$CK_REPORT" recovery "$RUN_JOURNAL" | wc -l)
	junit=$(python3 "$CK_REPORT" junit "$RUN_JUNIT" 2>&1 || true)
	ck_expect_eq "JUnit: one test case per probe result, fault application and probe recovery, $want_failures failure(s)" \
		"tests=$((probes + applied + recovery)) failures=$want_failures cases=$((probes + applied + recovery)) failure_elements=$want_failures" \
		"$junit"
}

# e2e_lab_down: takes the lab down as the last step of a test and checks it went cleanly,
# including that no agent or demo service reported a sanitizer error on its way out.
e2e_lab_down() {
	local rc=0
	"$CK_LAB" down --prefix "$LAB_PREFIX" --dir "$LAB_DIR" >"$CK_TMP/lab-down.log" 2>&1 || rc=$?
	[ $rc -eq 0 ] || sed 's/^/  | /' "$CK_TMP/lab-down.log"
	ck_expect_eq "lab.sh down succeeds (agents stop cleanly, no sanitizer report)" 0 "$rc"
}
