#!/usr/bin/env bash
# disk-fill after crashes of an agent without a guardian:
# 1. kill -9 with the journal entry in place: the restarted agent's recovery removes the file;
# 2. kill -9 and the journal entry removed (a crash before the record was journaled): only
#    the state file names the fill file, and the disk family's sweep removes it.
. "$CK_TESTS_LIB"
ck_init ckt-dk-fsw
. "$CK_SOURCE_DIR/tests/faults/disk-lib.sh"
dk_require

MNT=$CK_TMP/mnt
dk_tmpfs "$MNT" 64M
MiB=1048576
TOTAL=$(dk_avail "$MNT")

# --- 1: journal entry, restart -------------------------------------------------------------
dk_agent "$CK_TMP/agent.log" "guardian = false;"
sc_apply disk-fill "{\"path\": \"$MNT\", \"free_bytes\": \"4MiB\"}" 10m || ck_die "apply: $SC_RESP"
FILL=$MNT/.chaoskit-fill-$SC_ID
dk_kill_agent
ck_check "crash 1: the fill file outlived the agent" test -f "$FILL"
ck_check "crash 1: ~4 MiB free" test "$(dk_avail "$MNT")" -le $((4 * MiB + 4096))
dk_agent "$CK_TMP/agent.log.2" "guardian = false;"
ck_check "restart: the journal recovery removed the file" dk_no_file "$FILL"
ck_check "restart: logged the recovery" grep -q "journal: recovered $SC_ID (disk-fill" "$CK_TMP/agent.log.2"
ck_expect_eq "restart: all space back" "$TOTAL" "$(dk_avail "$MNT")"
ck_check "restart: no state file left" dk_no_file "$DK_STATE/diskfill/$SC_ID.json"

# --- 2: state file only, sweep -------------------------------------------------------------
sc_apply disk-fill "{\"path\": \"$MNT\", \"free_percent\": 10}" 10m || ck_die "apply: $SC_RESP"
FILL=$MNT/.chaoskit-fill-$SC_ID
dk_kill_agent
rm -f "$DK_STATE/journal/$SC_ID.json"
ck_check "crash 2: fill file and state file there, no journal entry" \
	bash -c "test -f '$FILL' && test -f '$DK_STATE/diskfill/$SC_ID.json' && ! test -e '$DK_STATE/journal/$SC_ID.json'"
dk_agent "$CK_TMP/agent.log.3" "guardian = false;"
ck_check "sweep: the fill file is gone" dk_no_file "$FILL"
ck_check "sweep: logged it" grep -q "sweep: disk-fill: removed the fill file $FILL" "$CK_TMP/agent.log.3"
ck_check "sweep: counted it" grep -q "sweep: family disk removed 1 leftover" "$CK_TMP/agent.log.3"
ck_check "sweep: the state file is gone" dk_no_file "$DK_STATE/diskfill/$SC_ID.json"
ck_expect_eq "sweep: all space back" "$TOTAL" "$(dk_avail "$MNT")"
ck_check "no sanitizer report in the agent logs" dk_logs_clean
ck_finish
