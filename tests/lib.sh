# Shared helpers for shell tests (integration and e2e suites). Source it; do not run it.
# Every test names its kernel objects with its own prefix (CK_PREFIX), removes stale
# objects of that prefix first (a crashed earlier run) and again on exit, pass or fail.
set -euo pipefail

: "${CK_BUILD_DIR:?run through meson test (CK_BUILD_DIR unset)}"
: "${CK_SOURCE_DIR:?run through meson test (CK_SOURCE_DIR unset)}"

CK_AGENT="$CK_BUILD_DIR/agent/chaos-agent"
CK_CHAOS="$CK_BUILD_DIR/scheduler/chaos"
CK_BPFTOOL=$(command -v bpftool || echo /usr/sbin/bpftool)
CK_CLEANUPS=()
CK_FAILS=0

ck_log()  { printf '# %s\n' "$*"; }
ck_skip() { printf 'SKIP: %s\n' "$*"; exit 77; }
ck_die()  { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
# ck_output_has ERE CMD...: a line of CMD's stdout matches ERE. Captured first: `CMD | grep -q`
# fails under pipefail whenever grep exits before CMD's last write (SIGPIPE, exit 141).
ck_output_has() {
	local pattern=$1 out; shift
	out=$("$@" 2>/dev/null) || true
	grep -qE -- "$pattern" <<<"$out"
}
# Records a failed check and goes on, so one run shows every broken expectation.
ck_check() {
	local what=$1; shift
	if "$@"; then printf 'ok - %s\n' "$what"; else printf 'not ok - %s\n' "$what"; CK_FAILS=$((CK_FAILS + 1)); fi
}
ck_expect_eq() { # what expected actual
	if [ "$2" = "$3" ]; then printf 'ok - %s\n' "$1"
	else printf 'not ok - %s: expected [%s] got [%s]\n' "$1" "$2" "$3"; CK_FAILS=$((CK_FAILS + 1)); fi
}
ck_finish() {
	if [ "$CK_FAILS" -gt 0 ]; then echo "FAIL: $CK_FAILS check(s) failed"; exit 1; fi
	echo "PASS"; exit 0
}

ck_require_root() {
	[ "$(id -u)" -eq 0 ] || ck_skip "needs root (network namespaces, tc, BPF)"
	command -v ip >/dev/null || ck_skip "iproute2 (ip) is not installed"
}

# ck_require_tools TOOL...: skips (77) naming the first tool that is not installed.
ck_require_tools() {
	local t
	for t in "$@"; do command -v "$t" >/dev/null || ck_skip "$t is not installed"; done
}

# Runs on exit in reverse order of registration.
ck_on_exit() { CK_CLEANUPS+=("$*"); }
ck__run_cleanups() {
	local i
	for ((i = ${#CK_CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CK_CLEANUPS[i]}" >/dev/null 2>&1 || true; done
}
trap ck__run_cleanups EXIT
trap 'exit 130' INT TERM

# ck_init PREFIX: sets CK_PREFIX and removes what a crashed run with that prefix left.
ck_init() {
	CK_PREFIX=$1
	CK_TMP=$(mktemp -d "/tmp/${CK_PREFIX}.XXXXXX")
	ck_on_exit "rm -rf '$CK_TMP'"
	ck_on_exit "ck_remove_prefix '$CK_PREFIX'"
	ck_remove_prefix "$CK_PREFIX"
}

# Kills processes running inside namespaces of the prefix, then deletes the namespaces.
ck_remove_prefix() {
	local prefix=$1 ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${prefix}" || true); do
		for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -9 "$pid" 2>/dev/null || true; done
		ip netns del "$ns" 2>/dev/null || true
	done
}

# ck_spawn NS VAR CMD...: starts CMD in namespace NS in the background (output appended to
# $CK_TMP/victims.log) and sets VAR to its pid (`ip netns exec` execs CMD: $! is CMD); it is
# killed on exit.
ck_spawn() {
	local ns=$1 var=$2; shift 2
	ip netns exec "$ns" "$@" >>"$CK_TMP/victims.log" 2>&1 &
	printf -v "$var" '%s' "$!"
	ck_on_exit "kill -9 $!"
}
# ck_proc_state PID: the state letter in /proc/PID/stat (T stopped, S/R running), empty once gone.
ck_proc_state() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1; }
ck_proc_stopped() { [ "$(ck_proc_state "$1")" = T ]; }
ck_proc_running() { case "$(ck_proc_state "$1")" in S|R) return 0 ;; *) return 1 ;; esac; }

# ck_netns NAME: creates namespace NAME (must start with CK_PREFIX) with lo up.
ck_netns() {
	case "$1" in "$CK_PREFIX"*) ;; *) ck_die "namespace $1 lacks the test prefix $CK_PREFIX" ;; esac
	ip netns add "$1"
	ip -n "$1" link set lo up
}

# ck_link NS_A IF_A ADDR_A NS_B IF_B ADDR_B: veth pair between two namespaces, addresses
# with prefix length (e.g. 10.99.0.1/24); IPv6 addresses may follow as ADDR6_A ADDR6_B.
ck_link() {
	local nsa=$1 ifa=$2 addra=$3 nsb=$4 ifb=$5 addrb=$6 a6=${7:-} b6=${8:-}
	# Created directly inside the namespaces: nothing ever appears in the root namespace.
	ip link add name "$ifa" netns "$nsa" type veth peer name "$ifb" netns "$nsb"
	ip -n "$nsa" addr add "$addra" dev "$ifa"
	ip -n "$nsb" addr add "$addrb" dev "$ifb"
	if [ -n "$a6" ]; then
		ip -n "$nsa" addr add "$a6" dev "$ifa" nodad
		ip -n "$nsb" addr add "$b6" dev "$ifb" nodad
	fi
	ip -n "$nsa" link set "$ifa" up
	ip -n "$nsb" link set "$ifb" up
}

# Everything tc and ip know about a namespace, for before/after comparisons.
ck_kernel_state() {
	local ns=$1 dev
	ip -n "$ns" -d link show | sed -E 's/ (ether|link\/ether) [0-9a-f:]+//'
	ip -n "$ns" addr show
	ip -n "$ns" route show table all
	for dev in $(ip -n "$ns" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
		echo "== $dev"
		tc -n "$ns" qdisc show dev "$dev"
		tc -n "$ns" filter show dev "$dev" ingress 2>/dev/null || true
		tc -n "$ns" filter show dev "$dev" egress 2>/dev/null || true
	done
	# tcx and other BPF attachments that tc does not show
	ip netns exec "$ns" "${CK_BPFTOOL:-bpftool}" net show 2>/dev/null || true
}

# ck_wait_for SECONDS CMD...: polls CMD every 100 ms until it succeeds.
ck_wait_for() {
	local deadline=$(( $(date +%s%N) / 1000000 + ${1%.*} * 1000 )); shift
	until "$@" >/dev/null 2>&1; do
		[ $(( $(date +%s%N) / 1000000 )) -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
