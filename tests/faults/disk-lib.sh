# Shared by the disk family's tests (faults/diskfill.c, faults/iothrottle.c). Source after
# tests/lib.sh and ck_init. Every object is named after the test prefix (ckt-dk-...):
# tmpfs mounts under $CK_TMP, loop devices on files under $CK_TMP, blkio cgroups
# /sys/fs/cgroup/blkio/$CK_PREFIX-*. Stale ones of an earlier crashed run go first.
. "$CK_SOURCE_DIR/tests/faults/scope-lib.sh"

DK_NS=$CK_PREFIX-a
DK_STATE=$CK_TMP/state
DK_SOCK=$CK_TMP/run/agent.sock
DK_BLKIO=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup" && $(i + 3) ~ /(^|,)blkio(,|$)/) { print $5; exit } break } }' /proc/self/mountinfo)

# dk_require: skips (77) without the tools, makes $DK_NS and removes what an earlier run
# of this prefix left, now and again on exit.
dk_require() {
	sc_require
	ck_require_tools df dd losetup mount umount
	ck_netns "$DK_NS"
	dk_remove_stale
	ck_on_exit dk_remove_stale
}

# Unmounts every mount below /tmp/ckt-dk-* (deepest first), detaches loop devices whose
# backing file is there, removes blkio cgroups of the prefix.
dk_remove_stale() {
	local m dev cg
	for m in $(awk '$5 ~ "^/tmp/ckt-dk-" {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	for dev in $(losetup -a 2>/dev/null | awk -F: '$0 ~ /\/tmp\/ckt-dk-/ {print $1}'); do
		losetup -d "$dev" 2>/dev/null || true
	done
	if [ -n "$DK_BLKIO" ]; then
		for cg in "$DK_BLKIO/$CK_PREFIX"-*; do sc_cgroup_remove "$cg"; done
	fi
}

# dk_tmpfs DIR SIZE: a tmpfs of SIZE at DIR (below $CK_TMP), unmounted on exit.
dk_tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=0755" "ckt-dk-tmpfs" "$1"
	ck_on_exit "umount -l '$1'"
}

# Bytes an unprivileged process may still allocate (statvfs f_bavail * f_frsize).
dk_avail() { python3 -c 'import os,sys; v = os.statvfs(sys.argv[1]); print(v.f_bavail * v.f_frsize)' "$1"; }
dk_frsize() { python3 -c 'import os,sys; print(os.statvfs(sys.argv[1]).f_frsize)' "$1"; }

# dk_agent LOG [CONFIG_LINE...]: an agent in $DK_NS (nsenter: it keeps the host's /sys and
# mounts) on a unix socket; sets CKAGT_PID.
dk_agent() {
	local log=$1; shift
	ckagt_config "$CK_TMP/agent.cfg" "$CK_PREFIX" "$DK_SOCK" "$DK_STATE" "$@"
	ckagt_start_net "$DK_NS" "$CK_TMP/agent.cfg" "$log"
	SC_SOCK=$DK_SOCK
}

# dk_kill_agent: SIGKILL and wait for the agent to be gone.
dk_kill_agent() {
	kill -9 "$CKAGT_PID"
	ckagt_wait_exit "$CKAGT_PID"
}

# dk_no_file PATH: true once PATH does not exist.
dk_no_file() { [ ! -e "$1" ]; }

# dk_within WHAT VALUE LOW HIGH: a check that LOW <= VALUE <= HIGH (integers).
dk_within() {
	local what=$1 v=$2 lo=$3 hi=$4
	if [ -n "$v" ] && [ "$v" -ge "$lo" ] && [ "$v" -le "$hi" ]; then printf 'ok - %s (%s in [%s, %s])\n' "$what" "$v" "$lo" "$hi"
	else printf 'not ok - %s: %s not in [%s, %s]\n' "$what" "$v" "$lo" "$hi"; CK_FAILS=$((CK_FAILS + 1)); fi
}

# No sanitizer report (ASan/UBSan build) in any agent log of this test.
dk_logs_clean() { ! grep -H -m3 "Sanitizer\|runtime error" "$CK_TMP"/agent.log* >&2; }
