#!/usr/bin/env bash
# crash-point with action stop through a real chaos-agent in namespace A: the fsync-loop
# writer is stopped (state T) exactly at its 3rd fsync and stays stopped; DELETE resumes it
# (it goes on fsyncing) and removes our program; so does the fault's deadline. Then again
# with nth 2 and the agent killed with SIGKILL: its guardian resumes the stopped writer, the kernel drops our program with
# the agent's links, and no journal entry or state file is left.
. "$CK_TESTS_LIB"
. "$CK_SOURCE_DIR/tests/faults/crashpoint-lib.sh"
cp_require
ck_init ckt-cp-stop
cp_setup

fsyncs() { grep -c '^fsynced' "$CK_TMP/VICTIM.log" || true; }
stays_stopped() { # COUNT: stopped with COUNT fsyncs done, and 0.5 s later still so
	ck_proc_stopped "$VICTIM" && [ "$(fsyncs)" = "$1" ] || return 1
	sleep 0.5
	ck_proc_stopped "$VICTIM" && [ "$(fsyncs)" = "$1" ]
}

touch "$CK_TMP/go"
cp_start VICTIM "$A" fsync-loop "$CK_TMP/VICTIM.data"
sc_apply crash-point '{"processes":{"name":"crashpoint-victim"},"syscall":"fsync","nth":3,"action":"stop"}' ||
	ck_die "crash-point refused: $SC_RESP"
ck_check "apply: state file names the target before anything fires" \
	grep -q "\"pid\":$VICTIM" "$CK_TMP/state/crashpoint/$SC_ID.json"
rm "$CK_TMP/go"
ck_check "stop: the writer is stopped" ck_wait_for 5 ck_proc_stopped "$VICTIM"
ck_check "stop: at its 3rd fsync (2 completed), and stays stopped" stays_stopped 2
ck_expect_eq "stop: stats fired" 1 "$(sc_stat fired)"
ck_expect_eq "stop: the 3rd record was written" 3 "$(grep -c record "$CK_TMP/VICTIM.data")"
sc_revert
ck_check "delete: the writer runs again" ck_wait_for 3 ck_proc_running "$VICTIM"
ck_check "delete: the 3rd fsync returned and more follow" ck_wait_for 3 grep -q '^fsynced 6$' "$CK_TMP/VICTIM.log"
ck_check "delete: no crashpoint program left" ck_wait_for 3 cp_no_bpf_left
ck_check "delete: no journal entry or state file left" cp_no_state_left

# --- the deadline ---------------------------------------------------------------------------
sc_apply crash-point '{"processes":{"pid":'"$VICTIM"'},"syscall":"fsync","action":"stop"}' 1s ||
	ck_die "crash-point refused: $SC_RESP"
ck_check "deadline: stopped at its next fsync" ck_wait_for 2 ck_proc_stopped "$VICTIM"
ck_check "deadline: resumed when the fault's second is over" ck_wait_for 4 ck_proc_running "$VICTIM"
ck_check "deadline: no crashpoint program left" ck_wait_for 3 cp_no_bpf_left

# --- kill -9 of the agent while the writer is stopped ------------------------------------
sc_apply crash-point '{"processes":{"pid":'"$VICTIM"'},"syscall":"fsync","nth":2,"action":"stop"}' ||
	ck_die "crash-point refused: $SC_RESP"
ck_check "crash: stopped at the 2nd fsync after apply" ck_wait_for 5 ck_proc_stopped "$VICTIM"
stopped_at=$(fsyncs)
kill -9 "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
ck_check "crash: the guardian resumed the writer" ck_wait_for 3 ck_proc_running "$VICTIM"
ck_check "crash: recovery logged" ck_wait_for 3 grep -q "journal: recovered $SC_ID" "$CP_LOG"
ck_check "crash: the writer goes on" ck_wait_for 3 grep -q "^fsynced $((stopped_at + 3))$" "$CK_TMP/VICTIM.log"
ck_check "crash: the kernel dropped our program with the agent" ck_wait_for 3 cp_no_bpf_left
ck_check "crash: no journal entry or state file left" cp_no_state_left
ck_finish
