#!/usr/bin/env bash
# Per-call cost of a crash point (a benchmark, not a test: run by hand as root; docs/performance.md).
#   bench/crashpoint-bench.sh BUILD_DIR [COUNT]
# A loop of COUNT pwrite64 or fsync calls (crashpoint-victim bench) is timed
#   base    with no fault;
#   other   while a crash point on the same syscall targets another process (what every
#           process of the host pays: the program runs, the target lookup misses);
#   unrelated  while a crash point on another syscall (fdatasync) targets another process:
#           an enabled syscall tracepoint puts every task's every syscall on the kernel's
#           slower traced entry path, whatever the syscall;
#   target  while the crash point targets the loop itself (nth never reached: counted);
#   prefix  the same with path_prefix naming the loop's file (fd table lookup too).
# Each figure is the median of 5 runs, in ns per call. Prints a markdown table.
set -euo pipefail
BUILD=$(readlink -f "${1:?usage: $0 BUILD_DIR [COUNT]}")
COUNT=${2:-200000}
export CK_BUILD_DIR=$BUILD CK_SOURCE_DIR
CK_SOURCE_DIR=$(readlink -f "$(dirname "$0")/..")
. "$CK_SOURCE_DIR/tests/lib.sh"
. "$CK_SOURCE_DIR/tests/faults/crashpoint-lib.sh"
cp_require
ck_init ckt-cp-bench
cp_setup
SHM=$(mktemp -d /dev/shm/ckt-cp-bench.XXXXXX)
ck_on_exit "rm -rf '$SHM'"

# A process for the "other" case to target: waits forever, calls nothing.
touch "$CK_TMP/never"
ck_spawn "$A" IDLE env CRASHPOINT_WAIT="$CK_TMP/never" "$CP_VICTIM" bench fsync 1 "$CK_TMP/idle"

run_once() { # MODE SYSCALL FILE -> ns per call
	local mode=$1 sc=$2 file=$3 pid out params
	case $mode in
	base) "$CP_VICTIM" bench "$sc" "$COUNT" "$file"; return ;;
	other|unrelated)
		local on=$sc
		[ "$mode" = unrelated ] && on=fdatasync
		sc_apply crash-point '{"processes":{"pid":'"$IDLE"'},"syscall":"'"$on"'","nth":1000000000}' ||
			ck_die "apply: $SC_RESP"
		"$CP_VICTIM" bench "$sc" "$COUNT" "$file"
		sc_revert; return ;;
	esac
	touch "$CK_TMP/go"
	out=$CK_TMP/out.$RANDOM
	nsenter --net="/run/netns/$A" env CRASHPOINT_WAIT="$CK_TMP/go" "$CP_VICTIM" bench "$sc" "$COUNT" "$file" >"$out" &
	pid=$!
	params='"processes":{"pid":'"$pid"'},"syscall":"'"$sc"'","nth":1000000000'
	[ "$mode" = prefix ] && params="$params"',"path_prefix":"'"$(dirname "$file")"'"'
	sleep 0.1
	sc_apply crash-point "{$params}" || ck_die "apply: $SC_RESP"
	rm "$CK_TMP/go"
	wait "$pid"
	[ "$(sc_stat calls_seen)" -ge "$COUNT" ] || ck_die "$mode: the loop's calls were not counted"
	sc_revert
	cat "$out"
}

median5() { # MODE SYSCALL FILE
	local i
	for i in 1 2 3 4 5; do run_once "$@"; done | sort -n | sed -n 3p
}

echo "| syscall (tmpfs file) | no fault | crash point on fdatasync, other process | same syscall, other process | same syscall, this process | + path_prefix |"
echo "|---|---|---|---|---|---|"
ratio() { python3 -c "import sys; print('%.0f ns (x%.2f)' % (float(sys.argv[1]), float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$base"; }
for sc in pwrite64 fsync; do
	file=$SHM/f
	base=$(median5 base "$sc" "$file")
	unrelated=$(median5 unrelated "$sc" "$file")
	other=$(median5 other "$sc" "$file")
	target=$(median5 target "$sc" "$file")
	prefix=$(median5 prefix "$sc" "$file")
	echo "| $sc | $(printf '%.0f' "$base") ns | $(ratio "$unrelated") | $(ratio "$other") | $(ratio "$target") | $(ratio "$prefix") |"
done
