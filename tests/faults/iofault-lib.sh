# Shared by the io-fault tests (faults/iofault*.c). Source after tests/lib.sh and ck_init
# with a prefix starting "ckt-io". An agent runs in namespace $CK_PREFIX-a (nsenter
# --net only: it shares the root mount namespace with the victims, which run in this
# shell's namespaces); the faulted directory is $IO_DATA, under $CK_TMP.
. "$CK_SOURCE_DIR/tests/agent/agent_lib.sh"
IO_VICTIM="$CK_SOURCE_DIR/tests/faults/iofault-victim.py"
IO_NS="${CK_PREFIX}-a"
IO_SOCK="$CK_TMP/run/agent.sock"
IO_STATE="$CK_TMP/state"
IO_DATA="$CK_TMP/data"

io_require() {
	ck_require_root
	ck_require_tools python3 curl nsenter umount
	[ -x "$CK_AGENT" ] || ck_skip "chaos-agent is not built"
	[ -c /dev/fuse ] || ck_skip "no /dev/fuse (kernel without FUSE)"
	grep -qw fuse /proc/filesystems || ck_skip "the kernel has no fuse filesystem"
}

# Mount points of chaoskit-io mounts under /tmp/ckt-io* (ours, from any run).
io_our_mounts() {
	awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 2) ~ /^chaoskit-io/) print $5; break } }' \
		/proc/self/mountinfo | grep '^/tmp/ckt-io' || true
}
io_detach_all() {
	local mp
	for mp in $(io_our_mounts); do umount -l "$mp" 2>/dev/null || true; done
}
# Mounts of this test's own directory.
io_mounted() { io_our_mounts | grep -qx "$IO_DATA"; }
io_unmounted() { ! io_mounted; }

# io_setup: stale mounts of earlier runs detached, the namespace, the data directory.
io_setup() {
	io_detach_all
	ck_on_exit io_detach_all
	ck_netns "$IO_NS"
	mkdir -p "$IO_DATA" "$CK_TMP/run"
}

# io_agent LOG [CONFIG LINES...]: an agent in $IO_NS; sets CKAGT_PID.
io_agent() {
	local log=$1; shift
	ckagt_config "$CK_TMP/agent.cfg" io-host "$IO_SOCK" "$IO_STATE" "$@"
	ckagt_start_net "$IO_NS" "$CK_TMP/agent.cfg" "$log"
}

# io_apply PARAMS [DURATION]: sets IO_CODE, IO_BODY, IO_ID.
io_apply() {
	ckagt_apply "$IO_SOCK" io-fault "${2:-2m}" "$1"
	IO_CODE=$CKAGT_CODE IO_BODY=$CKAGT_BODY IO_ID=$CKAGT_ID
}
io_stat() { ckagt_stat "$IO_SOCK" "$IO_ID" "$1"; }
io_revert() {
	local r
	r=$(ckagt_req "$IO_SOCK" DELETE "/v1/faults/$IO_ID")
	IO_CODE=${r%% *}
}

# io_victim ACTION FILE N: runs the victim, prints its JSON line.
io_victim() { python3 "$IO_VICTIM" "$@"; }
# io_field JSON PATH: a dotted field of the victim's output (0 when absent).
io_field() {
	python3 -c 'import json,sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    v = v.get(k, 0) if isinstance(v, dict) else 0
print(v)' "$1" "$2"
}

# io_usable DIR: the directory works as a plain one: create, write, fsync, read back, rename, unlink, mkdir.
io_usable() {
	python3 - "$1" <<'PY'
import os, sys
d = sys.argv[1]
p = os.path.join(d, "usable.tmp")
fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"usable"); os.fsync(fd); os.close(fd)
os.rename(p, p + "2")
assert open(p + "2", "rb").read() == b"usable"
os.unlink(p + "2")
os.mkdir(os.path.join(d, "usable.dir")); os.rmdir(os.path.join(d, "usable.dir"))
PY
}
