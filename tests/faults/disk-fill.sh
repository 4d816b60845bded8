#!/usr/bin/env bash
# disk-fill through a real agent (in a test network namespace, same mounts) on the test's
# own 64 MiB tmpfs: free space ends at the asked free_bytes / free_percent, a writer gets
# ENOSPC, and the fill file is gone (space back) after DELETE, at the deadline and after
# kill -9 of the agent (its guardian). Refusals: /proc, /sys/fs/cgroup, a missing path.
. "$CK_TESTS_LIB"
ck_init ckt-dk-fill
. "$CK_SOURCE_DIR/tests/faults/disk-lib.sh"
dk_require

MNT=$CK_TMP/mnt
dk_tmpfs "$MNT" 64M
MiB=1048576
BLOCK=$(dk_frsize "$MNT")
TOTAL=$(dk_avail "$MNT")
ck_expect_eq "the tmpfs holds 64 MiB" $((64 * MiB)) "$TOTAL"
dk_agent "$CK_TMP/agent.log"

# --- free_bytes: 8 MiB left ------------------------------------------------------------------
t0=$(ckagt_now_ms)
sc_apply disk-fill "{\"path\": \"$MNT\", \"free_bytes\": \"8MiB\"}" 2m || ck_die "apply: $SC_RESP"
ck_log "apply took $(( $(ckagt_now_ms) - t0 )) ms through the API (56 MiB fallocate on tmpfs);" \
	"agent: $(grep -o "applied disk-fill for [^:]* in [0-9]* ms" "$CK_TMP/agent.log" | head -1)"
FILL=$MNT/.chaoskit-fill-$SC_ID
ck_check "the fill file $FILL exists" test -f "$FILL"
AVAIL=$(dk_avail "$MNT")
dk_within "statvfs: ~8 MiB free (within a block of $BLOCK)" "$AVAIL" $((8 * MiB - BLOCK)) $((8 * MiB + BLOCK))
dk_within "stats.bytes_free agrees" "$(sc_stat bytes_free)" $((8 * MiB - BLOCK)) $((8 * MiB + BLOCK))
dk_within "stats.bytes_filled ~56 MiB" "$(sc_stat bytes_filled)" $((56 * MiB - BLOCK)) $((56 * MiB + BLOCK))
ck_expect_eq "stats.method" fallocate "$(sc_stat method)"
ck_expect_eq "stats.below_target_at_apply" 0 "$(sc_stat below_target_at_apply)"
ck_check "the state file was written" test -f "$DK_STATE/diskfill/$SC_ID.json"

# A writer of 16 MiB runs out of space after ~8 MiB.
rc=0
dd if=/dev/zero of="$MNT/writer" bs=1M count=16 2>"$CK_TMP/dd.err" || rc=$?
ck_check "a 16 MiB writer fails" test "$rc" -ne 0
ck_check "with ENOSPC" grep -q "No space left on device" "$CK_TMP/dd.err"
WROTE=$(stat -c %s "$MNT/writer")
dk_within "it wrote ~8 MiB before ENOSPC" "$WROTE" $((8 * MiB - BLOCK)) $((8 * MiB))
rm -f "$MNT/writer"

t0=$(ckagt_now_ms)
sc_revert
ck_log "revert took $(( $(ckagt_now_ms) - t0 )) ms"
ck_check "DELETE: the fill file is gone" dk_no_file "$FILL"
ck_expect_eq "DELETE: all 64 MiB free again" "$TOTAL" "$(dk_avail "$MNT")"
ck_check "DELETE: the state file is gone" dk_no_file "$DK_STATE/diskfill/$SC_ID.json"
dd if=/dev/zero of="$MNT/writer" bs=1M count=16 2>/dev/null
ck_expect_eq "DELETE: the 16 MiB writer succeeds" $((16 * MiB)) "$(stat -c %s "$MNT/writer")"
rm -f "$MNT/writer"

# --- free_percent 25 %, ended by its deadline -----------------------------------------------------
sc_apply disk-fill "{\"path\": \"$MNT\", \"free_percent\": 25}" 2s || ck_die "apply: $SC_RESP"
FILL=$MNT/.chaoskit-fill-$SC_ID
dk_within "free_percent 25: ~16 MiB free" "$(dk_avail "$MNT")" $((16 * MiB - BLOCK)) $((16 * MiB + BLOCK))
ck_check "deadline: the fill file is gone within 5 s" ck_wait_for 5 dk_no_file "$FILL"
ck_expect_eq "deadline: all 64 MiB free again" "$TOTAL" "$(dk_avail "$MNT")"

# --- already below the target: applied, nothing filled ------------------------------------------
dd if=/dev/zero of="$MNT/ballast" bs=1M count=60 2>/dev/null
sc_apply disk-fill "{\"path\": \"$MNT\", \"free_bytes\": \"8MiB\"}" 2m || ck_die "apply: $SC_RESP"
ck_expect_eq "below target: bytes_filled" 0 "$(sc_stat bytes_filled)"
ck_expect_eq "below target: below_target_at_apply" 1 "$(sc_stat below_target_at_apply)"
ck_check "below target: no fill file" dk_no_file "$MNT/.chaoskit-fill-$SC_ID"
sc_revert
rm -f "$MNT/ballast"

# --- kill -9: the guardian unlinks the file -------------------------------------------------------
sc_apply disk-fill "{\"path\": \"$MNT\", \"free_bytes\": 0}" 2m || ck_die "apply: $SC_RESP"
FILL=$MNT/.chaoskit-fill-$SC_ID
ck_expect_eq "free_bytes 0: nothing left" 0 "$(dk_avail "$MNT")"
t0=$(ckagt_now_ms)
dk_kill_agent
ck_check "kill -9: the guardian removed the fill file within 5 s" ck_wait_for 5 dk_no_file "$FILL"
ck_log "fill file gone $(( $(ckagt_now_ms) - t0 )) ms after kill -9"
ck_expect_eq "kill -9: all 64 MiB free again" "$TOTAL" "$(dk_avail "$MNT")"

dk_agent "$CK_TMP/agent.log.2"

# --- ext2 on a loop device: no fallocate (non-extent files), the write fallback; reserved blocks ---------
if command -v mke2fs >/dev/null && grep -qw ext2 /proc/filesystems; then
	truncate -s 32M "$CK_TMP/ext2.img"
	mke2fs -q -F -t ext2 "$CK_TMP/ext2.img" >/dev/null
	LOOP=$(losetup -f --show "$CK_TMP/ext2.img")
	ck_on_exit "losetup -d $LOOP"
	mkdir -p "$CK_TMP/ext2"
	mount "$LOOP" "$CK_TMP/ext2"
	ck_on_exit "umount -l '$CK_TMP/ext2'"
	EXT_BEFORE=$(dk_avail "$CK_TMP/ext2")
	sc_apply disk-fill "{\"path\": \"$CK_TMP/ext2\", \"free_bytes\": \"4MiB\"}" 2m || ck_die "apply: $SC_RESP"
	ck_expect_eq "ext2: stats.method" write "$(sc_stat method)"
	dk_within "ext2: 4 MiB free, at most 64 KiB more (indirect blocks given back)" "$(dk_avail "$CK_TMP/ext2")" \
		$((4 * MiB)) $((4 * MiB + 65536))
	ROOT_FREE=$(sc_stat bytes_free_root)
	ck_check "ext2: root still has the reserved blocks (bytes_free_root $ROOT_FREE > 4 MiB + 1 MiB)" \
		test "$ROOT_FREE" -gt $((5 * MiB))
	sc_revert
	ck_expect_eq "ext2: DELETE: free space as before" "$EXT_BEFORE" "$(dk_avail "$CK_TMP/ext2")"
	ck_check "ext2: DELETE: no fill file" dk_no_file "$CK_TMP/ext2/.chaoskit-fill-$SC_ID"
else
	ck_log "SKIP ext2 write-fallback case: mke2fs or ext2 support missing"
fi

# --- refusals ----------------------------------------------------------------------------------------
# (the agent answers 422 not_applicable or 500 apply_failed, naming the key)
refused() { # PATH MESSAGE_PART
	sc_apply disk-fill "{\"path\": \"$1\", \"free_bytes\": \"1MiB\"}" 1m && ck_die "$1 was accepted"
	ck_check "refused $1: $2" grep -q "\"key\":\"path\".*$2\\|$2.*\"key\":\"path\"" <<<"$SC_RESP"
}
refused /proc "is a kernel interface"
refused /sys/fs/cgroup/blkio "is a kernel interface"
refused "$CK_TMP/missing" "No such file or directory"
mkdir "$CK_TMP/proc"
mount -t proc ckt-dk-proc "$CK_TMP/proc"
ck_on_exit "umount -l '$CK_TMP/proc'"
refused "$CK_TMP/proc" "is on a proc filesystem"
MNT_RO=$CK_TMP/ro
dk_tmpfs "$MNT_RO" 1M
mount -o remount,ro "$MNT_RO"
refused "$MNT_RO" "read-only filesystem"
ck_check "no fill file anywhere on the tmpfs" bash -c "! ls -A '$MNT' | grep -q ."
ck_check "no sanitizer report in the agent logs" dk_logs_clean
ck_finish
