#!/usr/bin/env bash
# io-fault is never left behind: after the deadline, after kill -9 of the agent (the
# guardian detaches the dead mount), after an agent restart (journal: recover; no
# journal entry: the family sweep finds the mount by its fsname), and after a DELETE
# while a program still uses the mount (lazy detach, then the connection is aborted).
# Each time: no mount in /proc/self/mountinfo, files intact, the directory usable.
# Also: a file opened before the mount keeps going to the real file (not faulted).
. "$CK_TESTS_LIB"
ck_init ckt-io-life
. "$CK_SOURCE_DIR/tests/faults/iofault-lib.sh"
io_require
io_setup
EIO_ALL='{"path": "'"$IO_DATA"'", "operations": ["fsync", "write"], "errno": "EIO"}'
printf 'precious\n' > "$IO_DATA/precious.txt"
intact() { [ "$(cat "$IO_DATA/precious.txt")" = precious ]; }
dead_mount() { local e; e=$(stat -f "$IO_DATA" 2>&1 >/dev/null || true); grep -q 'Transport endpoint is not connected' <<<"$e"; }

# --- deadline, and a file opened before the mount ------------------------------------------------
io_agent "$CK_TMP/agent.log"
io_victim held "$IO_DATA/opened-before.dat" "$CK_TMP/go" 5 > "$CK_TMP/held.out" &
HELD=$!
ck_on_exit "kill -9 $HELD"
ck_wait_for 5 test -e "$CK_TMP/go.open" || ck_die "the holder did not open its file"
io_apply "$EIO_ALL" 3s
ck_expect_eq "deadline: applied for 3s" 201 "$IO_CODE"
ck_check "deadline: mounted" io_mounted
out=$(io_victim write-fsync "$IO_DATA/new.dat" 3)
ck_expect_eq "deadline: a file opened through the mount gets EIO" 3 "$(io_field "$out" tally.fsync.EIO)"
touch "$CK_TMP/go"
wait "$HELD" || true
ck_expect_eq "opened before the mount: its fsyncs reach the real file and pass" 5 \
	"$(io_field "$(cat "$CK_TMP/held.out")" tally.fsync.ok)"
ck_check "deadline: unmounted within 6 s" ck_wait_for 6 io_unmounted
ck_check "deadline: files intact" intact
ck_check "deadline: the directory is usable" io_usable "$IO_DATA"

# --- kill -9 of the agent: the guardian -----------------------------------------------------------
if ckagt_has_guardian; then
	io_apply "$EIO_ALL" 2m
	ck_expect_eq "guardian: applied" 201 "$IO_CODE"
	kill -9 "$CKAGT_PID"
	ck_check "guardian: the dead mount is detached within 5 s" ck_wait_for 5 io_unmounted
	ck_check "guardian: files intact" intact
	ck_check "guardian: the directory is usable" io_usable "$IO_DATA"
	ck_wait_for 5 bash -c "! pgrep -f 'chaos-agent --guardian [0-9]+ --config $CK_TMP/agent.cfg' >/dev/null" || true
else
	ck_log "this agent has no guardian: skipping the guardian case"
	kill -9 "$CKAGT_PID"
fi
ckagt_wait_exit "$CKAGT_PID"

# --- restart with the journal entry: recover() ----------------------------------------------------------
NOG=$(ckagt_no_guardian_cfg)
io_agent "$CK_TMP/agent.log.2" "$NOG"
io_apply "$EIO_ALL" 2m
ck_expect_eq "restart: applied" 201 "$IO_CODE"
kill -9 "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
ck_check "restart: the mount is left behind, dead (ENOTCONN)" dead_mount
io_agent "$CK_TMP/agent.log.3" "$NOG"
ck_check "restart: recovery detached it" io_unmounted
ck_check "restart: files intact" intact
ck_check "restart: the directory is usable" io_usable "$IO_DATA"

# --- restart without a journal entry: the family sweep -----------------------------------------------
io_apply "$EIO_ALL" 2m
ck_expect_eq "sweep: applied" 201 "$IO_CODE"
kill -9 "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
rm -f "$IO_STATE/journal/$IO_ID.json"
ck_check "sweep: dead mount left" dead_mount
ck_check "sweep: no journal entry names it" test ! -e "$IO_STATE/journal/$IO_ID.json"
io_agent "$CK_TMP/agent.log.4" "$NOG"
grep 'io-fault' "$CK_TMP/agent.log.4" | sed 's/^/# /'
ck_check "sweep: no mount left" io_unmounted
ck_check "sweep: the log names the leftover" grep -q "detached leftover mount chaoskit-io:$IO_ID at $IO_DATA" "$CK_TMP/agent.log.4"
ck_check "sweep: files intact" intact
ck_check "sweep: the directory is usable" io_usable "$IO_DATA"

# --- DELETE while busy: lazy detach, then abort ----------------------------------------------------
fusectl_mounts() { grep -c ' - fusectl ' /proc/self/mountinfo || true; }
FUSECTL_BEFORE=$(fusectl_mounts)
io_apply '{"path": "'"$IO_DATA"'", "operations": ["fsync"], "errno": "EIO", "files": "nothing-matches"}' 2m
ck_expect_eq "busy: applied" 201 "$IO_CODE"
rm -f "$CK_TMP/go" "$CK_TMP/go.open"
io_victim held "$IO_DATA/busy.dat" "$CK_TMP/go" 3 > "$CK_TMP/busy.out" &
HELD=$!
ck_on_exit "kill -9 $HELD"
ck_wait_for 5 test -e "$CK_TMP/go.open" || ck_die "the holder did not open its file"
t0=$(ckagt_now_ms)
io_revert
t1=$(ckagt_now_ms)
ck_expect_eq "busy: DELETE" 200 "$IO_CODE"
ck_log "busy: DELETE took $((t1 - t0)) ms"
ck_check "busy: the mount is gone from mountinfo" io_unmounted
ck_check "busy: the agent logged the lazy detach and the abort" \
	bash -c "grep -q 'busy: detached lazily' '$CK_TMP/agent.log.4' && grep -q 'connection aborted' '$CK_TMP/agent.log.4'"
touch "$CK_TMP/go"
wait "$HELD" || true
ck_expect_eq "busy: the holder's fd is cut off (ENOTCONN)" 3 "$(io_field "$(cat "$CK_TMP/busy.out")" tally.fsync.ENOTCONN)"
ck_check "busy: files intact" intact
ck_check "busy: the directory is usable" io_usable "$IO_DATA"
ck_expect_eq "busy: fusectl mounts as before (one mounted for the abort is unmounted)" "$FUSECTL_BEFORE" "$(fusectl_mounts)"
kill -TERM "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
[ "$CKAGT_RC" = 0 ] || tail -40 "$CK_TMP/agent.log.4" | sed 's/^/# /'
ck_expect_eq "the agent stopped cleanly" 0 "$CKAGT_RC"
ck_finish
