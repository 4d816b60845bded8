# Shared by the process-kill / process-pause tests (tests/faults/proc-*.sh): victims
# started by the test inside its namespaces (nsenter, so that they see the host's cgroup
# mounts), counters that prove progress, and an agent in a namespace. Source after
# tests/lib.sh and ck_init.
. "$CK_SOURCE_DIR/tests/faults/scope-lib.sh"

pk_require() {
	sc_require
	ck_require_tools sleep
}

# A copy of sleep under a name no other program has: its comm is "ckt-pk-victim".
pk_victim_bin() {
	PK_VICTIM=$CK_TMP/ckt-pk-victim
	cp "$(command -v sleep)" "$PK_VICTIM"
}

# pk_spawn NS VAR CMD...: starts CMD in namespace NS (nsenter execs it: $! is CMD) and
# sets VAR to its pid; killed on exit.
pk_spawn() {
	local ns=$1 var=$2; shift 2
	nsenter --net="/run/netns/$ns" -- "$@" >>"$CK_TMP/victims.log" 2>&1 &
	printf -v "$var" '%s' "$!"
	ck_on_exit "kill -9 $!"
}

# pk_counter NS CG VAR FILE TAG: a process (in cgroup directory CG, "-" for none) that
# writes an increasing number into FILE every 20 ms; TAG is in its command line.
pk_counter() {
	local ns=$1 cg=$2 var=$3 file=$4 tag=$5
	local prog='import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
n = 0
while True:
    n += 1
    os.pwrite(fd, b"%012d" % n, 0)
    time.sleep(0.02)'
	: >"$file"
	if [ "$cg" = - ]; then
		nsenter --net="/run/netns/$ns" -- python3 -c "$prog" "$file" "$tag" >>"$CK_TMP/victims.log" 2>&1 &
	else
		nsenter --net="/run/netns/$ns" -- sh -c 'echo $$ > "$0" && exec "$@"' "$cg" \
			python3 -c "$prog" "$file" "$tag" >>"$CK_TMP/victims.log" 2>&1 &
	fi
	printf -v "$var" '%s' "$!"
	ck_on_exit "kill -9 $!"
	ck_wait_for 5 test -s "$file" || ck_die "counter $tag did not start"
}
pk_count() { local v; v=$(cat "$1" 2>/dev/null); echo $((10#${v:-0})); }
# pk_progresses FILE: the counter moved within 0.5 s.
pk_progresses() {
	local a b
	a=$(pk_count "$1"); sleep 0.5; b=$(pk_count "$1")
	[ "$b" -gt "$a" ]
}
# pk_stuck FILE: the counter did not move for 0.6 s.
pk_stuck() {
	local a b
	a=$(pk_count "$1"); sleep 0.6; b=$(pk_count "$1")
	[ "$a" = "$b" ]
}
pk_dead() { local s; s=$(ck_proc_state "$1"); [ -z "$s" ] || [ "$s" = Z ]; }
pk_alive() { ! pk_dead "$1"; }

# pk_agent NS LOG [CONFIG_LINE...]: an agent in NS on $CK_TMP/run/agent.sock with state
# in $PK_STATE; sets SC_SOCK (for sc_apply and friends) and CKAGT_PID.
pk_agent() {
	local ns=$1 log=$2; shift 2
	SC_SOCK=$CK_TMP/run/agent.sock
	PK_STATE=$CK_TMP/state
	ckagt_config "$CK_TMP/agent.cfg" "$CK_PREFIX" "$SC_SOCK" "$PK_STATE" "$@"
	ckagt_start_net "$ns" "$CK_TMP/agent.cfg" "$log"
}
# No journal entry, process list or freezer state file left in the state directory.
pk_no_leftovers() {
	[ -z "$(find "$PK_STATE/journal" "$PK_STATE/processes" "$PK_STATE/freezer" -name '*.json' 2>/dev/null)" ]
}
# pk_fault_state: the current fault's state ("active", "reverted", "expired", ...).
pk_fault_state() {
	local r
	r=$(ckagt_req "$SC_SOCK" GET "/v1/faults/$SC_ID")
	ckagt_json state <<<"${r#* }"
}
