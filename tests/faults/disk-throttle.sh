#!/usr/bin/env bash
# io-throttle through a real agent on the test's own loop devices and v1 blkio cgroup:
# direct reads and writes from a process in the cgroup run at ~1 MiB/s under
# read_bps/write_bps "1MiB" and at full speed after DELETE; write_iops on a partition
# (resolved to its whole loop disk) through a processes target; every limit the cgroup
# had before (another device's, another key's) is exactly as before after DELETE and
# after kill -9 of the agent (guardian). A tmpfs path is refused; cgroup v2 io.max is
# exercised when the v2 hierarchy enables io, else that case is skipped with the reason.
. "$CK_TESTS_LIB"
ck_init ckt-dk-thr
. "$CK_SOURCE_DIR/tests/faults/disk-lib.sh"
dk_require
[ -n "$DK_BLKIO" ] && [ -f "$DK_BLKIO/blkio.throttle.write_bps_device" ] ||
	ck_skip "no cgroup v1 blkio hierarchy with throttling (and v2 io is covered by the unit test)"
MiB=1048576

majmin() { printf '%d:%d' "0x$(stat -c %t "$1")" "0x$(stat -c %T "$1")"; }
# dd's own rate in bytes per second, from its "N bytes ... copied, S s" line.
dd_rate() { awk '/bytes/ && /copied/ { for (i = 1; i <= NF; i++) if ($i ~ /copied/) s = $(i + 1); printf "%.0f\n", $1 / s }'; }
blkio_files() { local f; for f in read_bps write_bps read_iops write_iops; do echo "== $f"; cat "$CG/blkio.throttle.${f}_device"; done; }
same_files() {
	local now; now=$(blkio_files)
	[ "$now" = "$BEFORE" ] && return 0
	diff <(printf '%s\n' "$BEFORE") <(printf '%s\n' "$now") | sed 's/^/#   /' >&2
	return 1
}

# Disk 1: a plain 64 MiB loop device. Disk 2: 16 MiB with an MBR and one partition.
truncate -s 64M "$CK_TMP/disk1.img"
LOOP1=$(losetup -f --show "$CK_TMP/disk1.img")
ck_on_exit "losetup -d $LOOP1"
truncate -s 16M "$CK_TMP/disk2.img"
python3 - "$CK_TMP/disk2.img" <<'EOF'
import struct, sys
mbr = bytearray(512)
mbr[446:462] = struct.pack('<B3sB3sII', 0, b'\0\0\0', 0x83, b'\0\0\0', 2048, 16 * 2048 - 2048)
mbr[510:512] = b'\x55\xaa'
with open(sys.argv[1], 'r+b') as f:
    f.write(mbr)
EOF
LOOP2=$(losetup -P -f --show "$CK_TMP/disk2.img")
ck_on_exit "losetup -d $LOOP2"
MM1=$(majmin "$LOOP1") MM2=$(majmin "$LOOP2")
if ck_wait_for 2 test -b "${LOOP2}p1"; then
	PART=${LOOP2}p1
	ck_log "disk 1 $LOOP1 ($MM1), disk 2 $LOOP2 ($MM2), its partition $PART ($(majmin "$PART"))"
else
	# e.g. a kernel built without any partition table parser (CONFIG_MSDOS_PARTITION and
	# CONFIG_EFI_PARTITION off): test_disk covers partition -> disk on a fake sysfs tree.
	PART=$LOOP2
	ck_log "SKIP partition case: no ${LOOP2}p1 after losetup -P (the kernel parses no partition tables);" \
		"throttling the whole disk $LOOP2 ($MM2) instead"
fi

CG=$DK_BLKIO/$CK_PREFIX-victim
mkdir "$CG"
ck_on_exit "sc_cgroup_remove '$CG'"
# Limits that were there before: another device's write_bps, and read_iops of disk 1.
echo "$MM2 5242880" > "$CG/blkio.throttle.write_bps_device"
echo "$MM1 1000" > "$CG/blkio.throttle.read_iops_device"
BEFORE=$(blkio_files)
dk_agent "$CK_TMP/agent.log"

# --- bytes per second on disk 1, by cgroup ---------------------------------------------------
sc_apply io-throttle "{\"device\": \"$LOOP1\", \"cgroup\": \"$CG\", \"read_bps\": \"1MiB\", \"write_bps\": \"1MiB\"}" 2m ||
	ck_die "apply: $SC_RESP"
ck_expect_eq "stats.interface" blkio.throttle "$(sc_stat interface)"
ck_expect_eq "stats.device" "$MM1" "$(sc_stat device)"
ck_expect_eq "stats.cgroup" "$CG" "$(sc_stat cgroup)"
ck_expect_eq "stats.write_bps" "$MiB" "$(sc_stat write_bps)"
ck_check "write_bps_device holds $MM1 $MiB" grep -qx "$MM1 $MiB" "$CG/blkio.throttle.write_bps_device"
ck_check "the other device's limit is untouched" grep -qx "$MM2 5242880" "$CG/blkio.throttle.write_bps_device"
ck_check "read_iops of disk 1 is untouched" grep -qx "$MM1 1000" "$CG/blkio.throttle.read_iops_device"
FIRST=$SC_ID
sc_apply io-throttle "{\"device\": \"$LOOP1\", \"cgroup\": \"$CG\", \"write_bps\": \"2MiB\"}" 2m &&
	ck_die "a second throttle of the same cgroup, disk and key was applied"
ck_check "the same cgroup, disk and key twice: 409 conflict" grep -q "^409 .*already throttles device $MM1" <<<"$SC_RESP"
ck_check "and the first limit stays" grep -qx "$MM1 $MiB" "$CG/blkio.throttle.write_bps_device"
SC_ID=$FIRST
WRATE=$(sc_run "$CG" "$DK_NS" dd if=/dev/zero of="$LOOP1" bs=256k count=16 oflag=direct 2>&1 | dd_rate)
dk_within "direct writes of 4 MiB at ~1 MiB/s (+-20 %)" "$WRATE" $((MiB * 8 / 10)) $((MiB * 12 / 10))
RRATE=$(sc_run "$CG" "$DK_NS" dd if="$LOOP1" of=/dev/null bs=256k count=12 iflag=direct 2>&1 | dd_rate)
dk_within "direct reads of 3 MiB at ~1 MiB/s (+-20 %)" "$RRATE" $((MiB * 8 / 10)) $((MiB * 12 / 10))
OUTSIDE=$(dd if=/dev/zero of="$LOOP1" bs=1M count=16 oflag=direct 2>&1 | dd_rate)
dk_within "a process outside the cgroup writes at full speed (> 20 MiB/s)" "$OUTSIDE" $((20 * MiB)) 999999999999
sc_revert
ck_check "DELETE: every blkio.throttle file exactly as before" same_files
FAST=$(sc_run "$CG" "$DK_NS" dd if=/dev/zero of="$LOOP1" bs=1M count=16 oflag=direct 2>&1 | dd_rate)
dk_within "DELETE: the cgroup writes at full speed again (> 20 MiB/s)" "$FAST" $((20 * MiB)) 999999999999
ck_check "DELETE: the state file is gone" dk_no_file "$DK_STATE/iothrottle/$SC_ID.json"
ck_log "agent: $(grep -o "applied io-throttle for [^:]* in [0-9]* ms" "$CK_TMP/agent.log" | head -1)"

# --- write_iops on a partition, by process; kill -9 -------------------------------------------
sc_exec "$CG" "$DK_NS" sleep 300 &
VPID=$!
ck_on_exit "kill -9 $VPID"
ck_wait_for 5 grep -qx "$VPID" "$CG/cgroup.procs" || ck_die "victim not in $CG"
sc_apply io-throttle "{\"device\": \"$PART\", \"processes\": {\"pid\": $VPID}, \"write_iops\": 20}" 2m ||
	ck_die "apply: $SC_RESP"
ck_expect_eq "$PART -> whole disk: stats.device" "$MM2" "$(sc_stat device)"
ck_expect_eq "processes -> their blkio cgroup" "$CG" "$(sc_stat cgroup)"
ck_check "write_iops_device holds $MM2 20" grep -qx "$MM2 20" "$CG/blkio.throttle.write_iops_device"
t0=$(ckagt_now_ms)
sc_run "$CG" "$DK_NS" dd if=/dev/zero of="$PART" bs=4k count=40 oflag=direct 2>/dev/null
MS=$(( $(ckagt_now_ms) - t0 ))
dk_within "40 direct writes at 20 IOPS take ~2 s (+-20 %)" "$MS" 1600 2400
t0=$(ckagt_now_ms)
dk_kill_agent
ck_check "kill -9: the guardian restored every file within 5 s" ck_wait_for 5 same_files
ck_log "limits restored $(( $(ckagt_now_ms) - t0 )) ms after kill -9"

# --- no guardian: restart with the journal entry, then the sweep with only the state file -------------
dk_agent "$CK_TMP/agent.log.2" "guardian = false;"
sc_apply io-throttle "{\"device\": \"$LOOP1\", \"cgroup\": \"$CG\", \"write_bps\": 4096}" 10m || ck_die "apply: $SC_RESP"
dk_kill_agent
ck_check "crash 1: the limit outlived the agent" grep -qx "$MM1 4096" "$CG/blkio.throttle.write_bps_device"
dk_agent "$CK_TMP/agent.log.3" "guardian = false;"
ck_check "restart: the journal recovery restored every file" same_files
ck_check "restart: logged" grep -q "journal: recovered $SC_ID (io-throttle" "$CK_TMP/agent.log.3"
sc_apply io-throttle "{\"device\": \"$LOOP1\", \"cgroup\": \"$CG\", \"read_bps\": 8192}" 10m || ck_die "apply: $SC_RESP"
dk_kill_agent
rm -f "$DK_STATE/journal/$SC_ID.json"
ck_check "crash 2: the limit is there, only the state file names it" \
	bash -c "grep -qx '$MM1 8192' '$CG/blkio.throttle.read_bps_device' && test -f '$DK_STATE/iothrottle/$SC_ID.json'"
dk_agent "$CK_TMP/agent.log.4" "guardian = false;"
ck_check "sweep: every file exactly as before" same_files
ck_check "sweep: logged" grep -q "sweep: io-throttle: restored the blkio.throttle limits of device $MM1" "$CK_TMP/agent.log.4"
ck_check "sweep: the state file is gone" dk_no_file "$DK_STATE/iothrottle/$SC_ID.json"
dk_kill_agent

# --- refusals, and a path on a filesystem ---------------------------------------------------------
dk_agent "$CK_TMP/agent.log.5"
dk_tmpfs "$CK_TMP/tmpfs" 1M
sc_apply io-throttle "{\"device\": \"$CK_TMP/tmpfs\", \"cgroup\": \"$CG\", \"read_bps\": 1000}" 1m &&
	ck_die "a tmpfs path was accepted"
ck_check "a tmpfs path is refused: not on a block device" grep -q "not on a block device" <<<"$SC_RESP"
sc_apply io-throttle "{\"device\": \"$LOOP1\", \"cgroup\": \"$DK_BLKIO\", \"read_bps\": 1000}" 1m &&
	ck_die "the root blkio cgroup was accepted"
ck_check "the root cgroup is refused" grep -q "root cgroup" <<<"$SC_RESP"
if command -v mkfs.ext4 >/dev/null; then
	mkfs.ext4 -q -F "$LOOP1" >/dev/null 2>&1
	mkdir -p "$CK_TMP/ext"
	mount "$LOOP1" "$CK_TMP/ext"
	ck_on_exit "umount -l '$CK_TMP/ext'"
	mkdir "$CK_TMP/ext/data"
	sc_apply io-throttle "{\"device\": \"$CK_TMP/ext/data\", \"cgroup\": \"$CG\", \"read_bps\": 1000}" 1m ||
		ck_die "apply: $SC_RESP"
	ck_expect_eq "a directory on ext4 on disk 1 -> disk 1" "$MM1" "$(sc_stat device)"
	sc_revert
	ck_check "and restored" same_files
fi

# --- cgroup v2 io.max ------------------------------------------------------------------------------
sc_cgroup "$CK_PREFIX-v2"
if grep -qw io "$SC_CG_ROOT/cgroup.subtree_control" 2>/dev/null; then
	V2_BEFORE=$(cat "$SC_CG/io.max")
	sc_apply io-throttle "{\"device\": \"$LOOP2\", \"cgroup\": \"$SC_CG\", \"write_bps\": \"2MiB\"}" 1m ||
		ck_die "apply: $SC_RESP"
	ck_expect_eq "v2: stats.interface" io.max "$(sc_stat interface)"
	ck_check "v2: io.max holds the limit" grep -q "^$MM2 .*wbps=2097152" "$SC_CG/io.max"
	sc_revert
	ck_expect_eq "v2: io.max as before" "$V2_BEFORE" "$(cat "$SC_CG/io.max")"
else
	ck_log "SKIP v2 io.max case: the cgroup v2 hierarchy at $SC_CG_ROOT does not enable the io controller" \
		"(cgroup.subtree_control: $(cat "$SC_CG_ROOT/cgroup.subtree_control" 2>/dev/null)); the unit test covers io.max"
	sc_apply io-throttle "{\"device\": \"$LOOP2\", \"cgroup\": \"$SC_CG\", \"write_bps\": \"2MiB\"}" 1m &&
		ck_die "a v2 cgroup without io and without a blkio twin was accepted"
	ck_check "v2 without io: refused with the reason" grep -q "does not enable the io controller" <<<"$SC_RESP"
fi
ck_check "no sanitizer report in the agent logs" dk_logs_clean
ck_finish
