#!/usr/bin/env bash
# crash-point with path_prefix through a real chaos-agent in namespace A.
# fsync: a victim fsyncs in each round a file it opened before apply (in/a), then one it
# opens and closes each round outside the prefix (out/b), then one under the prefix it
# also opens each round (in/c). Only a and c count (the first from /proc/PID/fd at apply,
# the second from the open/close tracking), so with nth 4 it dies at c's fsync in round 2.
# rename: a victim writes target.tmp, fsyncs it and renames it over target (the crash
# consistency demo). Killed at the fsync of the temporary file, the target still holds the
# old content; killed at the rename, it never sees rename() return, but the rename itself
# ran (a sys_enter tracepoint cannot stop a syscall): the target holds the complete new
# content, never a mix, and the temporary name is gone.
. "$CK_TESTS_LIB"
. "$CK_SOURCE_DIR/tests/faults/crashpoint-lib.sh"
cp_require
ck_init ckt-cp-prefix
cp_setup
mkdir -p "$CK_TMP/in/db" "$CK_TMP/out"

# crash_victim WHAT VAR SPEC MODE ARGS...: a victim VAR (held until the fault is applied),
# a crash-point on its pid with SPEC (the other params, JSON members), then waits for the
# victim and checks that SIGKILL ended it.
crash_victim() {
	local what=$1 var=$2 spec=$3 rc=0; shift 3
	touch "$CK_TMP/go"
	cp_start "$var" "$A" "$@"
	sc_apply crash-point '{"processes":{"pid":'"${!var}"'},'"$spec"'}' || ck_die "crash-point refused: $SC_RESP"
	rm "$CK_TMP/go"
	wait "${!var}" || rc=$?
	ck_expect_eq "$what: the victim died by SIGKILL" 137 "$rc"
}

crash_victim fsync VICTIM '"syscall":"fsync","nth":4,"path_prefix":"'"$CK_TMP/in/"'"' \
	three-files "$CK_TMP/in/a" "$CK_TMP/out/b" "$CK_TMP/in/c"
ck_expect_eq "fsync: it died at c's fsync in round 2" "$(printf 'started %s\na 1\nb 1\nc 1\na 2\nb 2' "$VICTIM")" \
	"$(cat "$CK_TMP/VICTIM.log")"
ck_expect_eq "fsync: c's 2nd record was written" 2 "$(grep -c record "$CK_TMP/in/c")"
ck_expect_eq "fsync: stats calls_seen (a, c, a, c)" 4 "$(sc_stat calls_seen)"
sc_revert
ck_check "fsync: no crashpoint program left" ck_wait_for 3 cp_no_bpf_left

# --- crash before the rename: at the temporary file's fsync -------------------------------
printf 'old\n' >"$CK_TMP/in/db/target"
crash_victim "before rename" EARLY '"syscall":"fsync","path_prefix":"'"$CK_TMP/in/db"'"' rename "$CK_TMP/in/db"
ck_check "before rename: it never saw its fsync return" bash -c "! grep -q '^tmp written' '$CK_TMP/EARLY.log'"
ck_expect_eq "before rename: the target still holds the old content" old "$(cat "$CK_TMP/in/db/target")"
ck_expect_eq "before rename: the temporary file holds the new one" new "$(cat "$CK_TMP/in/db/target.tmp")"
sc_revert
rm -f "$CK_TMP/in/db/target.tmp"

# --- crash at the rename ------------------------------------------------------------------
crash_victim rename RENAMER '"syscall":"rename","path_prefix":"'"$CK_TMP/in/db"'"' rename "$CK_TMP/in/db"
ck_check "rename: it wrote and fsynced the temporary file" grep -q '^tmp written' "$CK_TMP/RENAMER.log"
ck_check "rename: it never saw rename() return" bash -c "! grep -q '^renamed' '$CK_TMP/RENAMER.log'"
ck_expect_eq "rename: stats fired" 1 "$(sc_stat fired)"
# The syscall ran to its end before the signal was acted on: rename is atomic, so the
# target holds the complete new content and the temporary name is gone.
ck_expect_eq "rename: target holds the complete new content" new "$(cat "$CK_TMP/in/db/target")"
ck_check "rename: the temporary file is gone" test ! -e "$CK_TMP/in/db/target.tmp"
sc_revert
ck_check "rename: no crashpoint program left" ck_wait_for 3 cp_no_bpf_left
ck_check "no journal entry or state file left" cp_no_state_left
ck_finish
