#!/usr/bin/env bash
# crash-point with action kill through a real chaos-agent in namespace A: a writer that
# writes a record and fsyncs it in a loop dies exactly at its 5th fsync (4 fsyncs logged,
# the 5th record written, wait status SIGKILL); its twin in namespace B (same program, same
# name) is untouched; the stats say so; nothing of ours is left in the kernel after the
# fault ends (no program or link named crashpoint_*), nor in the state directory.
. "$CK_TESTS_LIB"
. "$CK_SOURCE_DIR/tests/faults/crashpoint-lib.sh"
cp_require
ck_init ckt-cp-kill
cp_setup

# The victims wait for $CK_TMP/go to vanish before their first step: the fault acts on
# what runs at apply, and every fsync of theirs comes after it.
touch "$CK_TMP/go"
cp_start VICTIM "$A" fsync-loop "$CK_TMP/VICTIM.data"
cp_start TWIN "$B" fsync-loop "$CK_TMP/TWIN.data"
sc_apply crash-point '{"processes":{"name":"crashpoint-victim"},"syscall":"fsync","nth":5}' ||
	ck_die "crash-point refused: $SC_RESP"
ck_expect_eq "apply: one target (the twin is in another namespace)" 1 "$(sc_stat targets)"
ck_check "apply: tracefs mounts as before (mounted for attaching and unmounted again when missing)" cp_tracefs_ok
ck_check "apply: our program is attached" cp_prog_loaded
rm "$CK_TMP/go"

rc=0
wait "$VICTIM" || rc=$?
ck_expect_eq "the victim died by SIGKILL (wait status 128+9)" 137 "$rc"
ck_expect_eq "exactly 4 fsyncs completed" 4 "$(grep -c '^fsynced' "$CK_TMP/VICTIM.log")"
ck_expect_eq "the 5th record was written, its fsync never returned" 5 "$(grep -c 'record' "$CK_TMP/VICTIM.data")"
ck_expect_eq "stats: fired" 1 "$(sc_stat fired)"
ck_expect_eq "stats: calls_seen" 5 "$(sc_stat calls_seen)"
ck_expect_eq "stats: pids_fired" "[$VICTIM]" "$(sc_stat pids_fired | tr -d ' ')"

ck_check "the twin outside the agent's namespace runs on past 10 fsyncs" ck_wait_for 5 \
	grep -q '^fsynced 10$' "$CK_TMP/TWIN.log"
ck_check "the twin is alive" ck_proc_running "$TWIN"

sc_revert
ck_check "revert: no crashpoint program or link left" ck_wait_for 3 cp_no_bpf_left
ck_check "revert: no journal entry or state file left" cp_no_state_left

# --- SIGTERM of the agent with a crash point set: reverted, clean exit (leak-free under ASan)
cp_start SECOND "$A" fsync-loop "$CK_TMP/SECOND.data"
sc_apply crash-point '{"processes":{"pid":'"$SECOND"'},"syscall":"fsync","nth":1000,"path_prefix":"/"}' ||
	ck_die "crash-point refused: $SC_RESP"
kill -TERM "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
ck_expect_eq "stop: the agent exits 0" 0 "$CKAGT_RC"
ck_check "stop: no crashpoint program left" ck_wait_for 3 cp_no_bpf_left
ck_check "stop: no journal entry or state file left" cp_no_state_left
ck_check "stop: the second victim was never signalled" ck_proc_running "$SECOND"
ck_finish
