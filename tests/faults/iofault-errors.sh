#!/usr/bin/env bash
# io-fault through a real agent: a program that writes and fsyncs gets EIO on fsync
# (files "*.log") while a file the pattern does not match passes; ENOSPC on write
# under a prefix; after DELETE no mount is left, files are intact, the directory works.
. "$CK_TESTS_LIB"
ck_init ckt-io-err
. "$CK_SOURCE_DIR/tests/faults/iofault-lib.sh"
io_require
io_setup
io_agent "$CK_TMP/agent.log"

# --- fsync EIO on *.log, other files pass -------------------------------------------------
printf 'before the fault\n' > "$IO_DATA/keep.txt"
io_apply '{"path": "'"$IO_DATA"'", "operations": ["fsync"], "errno": "EIO", "files": "*.log"}'
ck_expect_eq "fsync EIO: applied" 201 "$IO_CODE"
ck_check "fsync EIO: mounted over the directory" io_mounted
ck_check "fsync EIO: fsname chaoskit-io:<id>" grep -q " - fuse.chaoskit-io chaoskit-io:$IO_ID " /proc/self/mountinfo
out=$(io_victim write-fsync "$IO_DATA/app.log" 20)
ck_expect_eq "fsync EIO: every fsync of app.log failed with EIO" 20 "$(io_field "$out" tally.fsync.EIO)"
ck_expect_eq "fsync EIO: every write of app.log succeeded" 20 "$(io_field "$out" tally.write.ok)"
out=$(io_victim write-fsync "$IO_DATA/app.dat" 20)
ck_expect_eq "fsync EIO: app.dat (unmatched) fsyncs pass" 20 "$(io_field "$out" tally.fsync.ok)"
ck_expect_eq "fsync EIO: stats count the faulted fsyncs" 20 "$(io_stat fsync_faulted)"
ck_expect_eq "fsync EIO: stats saw both files' fsyncs" 40 "$(io_stat fsync_seen)"
ck_expect_eq "fsync EIO: a file from before reads the same" "before the fault" "$(cat "$IO_DATA/keep.txt")"
io_revert
ck_expect_eq "fsync EIO: DELETE" 200 "$IO_CODE"
ck_check "fsync EIO: no mount after DELETE" io_unmounted
ck_expect_eq "fsync EIO: the data written through the mount is there" $((40 * 4096)) \
	"$(( $(stat -c %s "$IO_DATA/app.log") + $(stat -c %s "$IO_DATA/app.dat") ))"
out=$(io_victim write-fsync "$IO_DATA/app.log" 5)
ck_expect_eq "fsync EIO: fsync works again after DELETE" 5 "$(io_field "$out" tally.fsync.ok)"

# --- ENOSPC on write under a prefix -----------------------------------------------------------
mkdir -p "$IO_DATA/full" "$IO_DATA/free"
io_apply '{"path": "'"$IO_DATA"'", "operations": ["write"], "errno": "ENOSPC", "files": "full/"}'
ck_expect_eq "write ENOSPC: applied" 201 "$IO_CODE"
out=$(io_victim write-fsync "$IO_DATA/full/db" 10)
ck_expect_eq "write ENOSPC: writes under full/ fail with ENOSPC" 10 "$(io_field "$out" tally.write.ENOSPC)"
out=$(io_victim write-fsync "$IO_DATA/free/db" 10)
ck_expect_eq "write ENOSPC: writes under free/ pass" 10 "$(io_field "$out" tally.write.ok)"
ck_expect_eq "write ENOSPC: nothing reached full/db" 0 "$(stat -c %s "$IO_DATA/full/db")"
io_revert
ck_check "write ENOSPC: no mount after DELETE" io_unmounted
ck_check "write ENOSPC: the directory is usable" io_usable "$IO_DATA"
ck_check "write ENOSPC: the agent logged no error" bash -c "! grep -q 'ERROR' '$CK_TMP/agent.log'"

# --- metadata operations (EPERM on names starting "locked"), permissions and ownership ----------
printf 'locked\n' > "$IO_DATA/locked.txt"; printf 'other\n' > "$IO_DATA/other.txt"
printf 'secret\n' > "$IO_DATA/secret.txt"; chmod 600 "$IO_DATA/secret.txt"
mkdir -p "$IO_DATA/shared"; chmod 1777 "$IO_DATA/shared"
io_apply '{"path": "'"$IO_DATA"'", "operations": ["open", "create", "unlink", "rename", "mkdir"], "errno": "EPERM", "files": "locked*"}'
ck_expect_eq "metadata EPERM: applied" 201 "$IO_CODE"
ck_check "metadata EPERM: open of locked.txt fails with EPERM" \
	bash -c "cat '$IO_DATA/locked.txt' 2>&1 | grep -q 'Operation not permitted'"
ck_expect_eq "metadata EPERM: other.txt opens" other "$(cat "$IO_DATA/other.txt")"
ck_check "metadata EPERM: creating locked.new fails" bash -c "! touch '$IO_DATA/locked.new' 2>/dev/null"
ck_check "metadata EPERM: unlinking locked.txt fails" bash -c "! rm -f '$IO_DATA/locked.txt' 2>/dev/null"
ck_check "metadata EPERM: renaming to locked.x fails" bash -c "! mv '$IO_DATA/other.txt' '$IO_DATA/locked.x' 2>/dev/null"
ck_check "metadata EPERM: mkdir lockeddir fails" bash -c "! mkdir '$IO_DATA/lockeddir' 2>/dev/null"
ck_check "metadata EPERM: unmatched names work (create, rename, unlink, mkdir)" \
	bash -c "touch '$IO_DATA/free.new' && mv '$IO_DATA/free.new' '$IO_DATA/free.mv' && rm '$IO_DATA/free.mv' && mkdir '$IO_DATA/freedir' && rmdir '$IO_DATA/freedir'"
ck_check "metadata EPERM: the directory lists" bash -c "ls '$IO_DATA' | grep -qx locked.txt"
# default_permissions: the kernel checks the real modes; new files belong to their creator
chmod 711 "$CK_TMP"
ck_expect_eq "permissions: nobody reads a 0644 file through the mount" other \
	"$(python3 -c 'import os,sys; os.setgid(65534); os.setuid(65534); print(open(sys.argv[1]).read().strip())' "$IO_DATA/other.txt")"
ck_check "permissions: nobody cannot read a root 0600 file through the mount" \
	python3 -c 'import os,sys; os.setgid(65534); os.setuid(65534)
try: open(sys.argv[1]).read(); sys.exit(1)
except PermissionError: pass' "$IO_DATA/secret.txt"
python3 -c 'import os,sys; os.setgid(65534); os.setuid(65534); os.umask(0); os.close(os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o640))' \
	"$IO_DATA/shared/by-nobody"
ck_expect_eq "ownership: a file nobody created belongs to nobody with the mode asked for" "65534 640" \
	"$(stat -c '%u %a' "$IO_DATA/shared/by-nobody")"
ck_expect_eq "metadata EPERM: stats counted the faulted operations" 5 "$(io_stat ops_faulted)"
io_revert
ck_check "metadata EPERM: no mount after DELETE" io_unmounted
ck_expect_eq "metadata EPERM: locked.txt intact" locked "$(cat "$IO_DATA/locked.txt")"

# --- pass-through of attribute changes on directory and file fds; a mount removed by hand -------
mkdir -p "$IO_DATA/attrdir"
io_apply '{"path": "'"$IO_DATA"'", "operations": ["fsync"], "errno": "EIO", "files": "nothing-matches"}'
ck_expect_eq "attrs: applied" 201 "$IO_CODE"
python3 -c 'import os,sys
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY); os.fchmod(d, 0o750); os.close(d)
f = os.open(sys.argv[2], os.O_RDWR | os.O_CREAT, 0o600); os.write(f, b"123456"); os.ftruncate(f, 3); os.fchmod(f, 0o604); os.close(f)' \
	"$IO_DATA/attrdir" "$IO_DATA/attrdir/f"
ck_expect_eq "attrs: fchmod of a directory fd reached the real directory" 750 "$(stat -c %a "$IO_DATA/attrdir")"
ck_expect_eq "attrs: ftruncate and fchmod of a file fd reached the real file" "3 604" "$(stat -c '%s %a' "$IO_DATA/attrdir/f")"
umount -l "$IO_DATA"
io_revert
ck_expect_eq "removed by hand: DELETE still succeeds" 200 "$IO_CODE"
ck_check "removed by hand: the agent noticed" grep -q "was already removed by someone else" "$CK_TMP/agent.log"
ck_expect_eq "attrs: the real directory kept its mode" 750 "$(stat -c %a "$IO_DATA/attrdir")"

# --- refusals at apply (the agent answers 422 not_applicable with the kind's reason) ---------
io_refused() { io_apply "{\"path\": \"$1\"}"; [ "$IO_CODE" = 422 ] && grep -q "$2" <<<"$IO_BODY"; }
ck_check "the agent's state dir is refused" io_refused "$IO_STATE" "state directory"
ck_check "a directory holding the state dir is refused" io_refused "$CK_TMP" "state directory"
ln -s /proc "$CK_TMP/proclink"
ck_check "a symlink to /proc is refused" io_refused "$CK_TMP/proclink" "resolves to /proc"
ck_check "no mount after the refusals" bash -c "[ -z \"\$(awk '/chaoskit-io/' /proc/self/mountinfo | grep '$CK_TMP')\" ]"
ck_finish
