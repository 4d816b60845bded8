# Shared by the crash-point tests: an agent in namespace $A, a second namespace $B for
# twins the fault must not touch, the victim program, and checks that nothing of the
# fault is left. Source after tests/lib.sh.
. "$CK_SOURCE_DIR/tests/faults/scope-lib.sh"
CP_VICTIM="$CK_BUILD_DIR/tests/faults/crashpoint-victim"

cp_require() {
	ck_require_root
	ck_require_tools curl nsenter python3 "$CK_BPFTOOL"
	[ -x "$CK_AGENT" ] || ck_skip "chaos-agent is not built"
	[ -x "$CP_VICTIM" ] || ck_die "$CP_VICTIM is not built"
	[ -e /sys/kernel/btf/vmlinux ] || [ -d /sys/kernel/tracing ] || ck_skip "kernel without tracing"
}

# cp_setup: namespaces $A (the agent's) and $B, the agent in $A (SC_SOCK, CKAGT_PID,
# state in $CK_TMP/state, log in $CP_LOG).
cp_setup() {
	CP_TRACEFS_BEFORE=no
	! grep -q ' - tracefs ' /proc/self/mountinfo || CP_TRACEFS_BEFORE=yes
	A=$CK_PREFIX-a B=$CK_PREFIX-b
	ck_netns "$A"; ck_netns "$B"
	sc_agent "$A"
	CP_LOG=$(ls "$CK_TMP"/agent.*.log)
}

# After an apply: tracefs is mounted exactly when it was before; when it was not, the agent
# mounted it at /sys/kernel/tracing for attaching, unmounted it and said so in its log.
cp_tracefs_ok() {
	local now=no
	grep -q ' - tracefs ' /proc/self/mountinfo && now=yes
	[ "$now" = "$CP_TRACEFS_BEFORE" ] || { echo "# tracefs mounted before apply: $CP_TRACEFS_BEFORE, after: $now"; return 1; }
	[ "$CP_TRACEFS_BEFORE" = yes ] && return 0
	grep -q 'mounted tracefs at /sys/kernel/tracing for attaching .* unmounted it again' "$CP_LOG"
}

# Our programs are named crashpoint_* (bpftool shows the first 15 characters). A link
# holds its program, so no program also means no link of ours.
cp_prog_loaded() { ck_output_has 'name crashpoint_' "$CK_BPFTOOL" prog show; }
cp_no_bpf_left() { ! cp_prog_loaded; }
cp_no_state_left() {
	[ -z "$(find "$CK_TMP/state/journal" "$CK_TMP/state/crashpoint" -name '*.json*' 2>/dev/null)" ]
}

# cp_start VAR NS MODE ARGS...: a victim in NS (log $CK_TMP/VAR.log), held before its first
# step while $CK_TMP/go exists; VAR is set to its pid (a child of this shell).
cp_start() {
	local var=$1 ns=$2; shift 2
	ck_spawn "$ns" "$var" env CRASHPOINT_WAIT="$CK_TMP/go" "$CP_VICTIM" "$@" "$CK_TMP/$var.log"
	ck_wait_for 5 grep -q '^started' "$CK_TMP/$var.log" || ck_die "$var did not start"
}
