# Shared by bench/net-bench.sh and bench/net-delay.sh: two namespaces joined by one veth
# pair, chaos-agents in the server namespace, cleanup on every exit. Source, then call
# nb_parse_build "$@" and nb_setup. Everything lives in namespaces named NB_PREFIX-*;
# nothing is added to the root namespace.
NB_PREFIX=${NB_PREFIX:-ckt-bench}
NB_A="$NB_PREFIX-a"          # client side: 10.99.40.1
NB_B="$NB_PREFIX-b"          # server side: 10.99.40.2, the agents run here
NB_ADDR_A=10.99.40.1
NB_ADDR_B=10.99.40.2
NB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NB_PIDS=()
# The helpers of the agent integration tests: ckagt_link (the veth pair), ckagt_req
# (responses kept in $CK_TMP, set by nb_setup) and ckagt_json.
. "$NB_SRC/tests/agent/agent_lib.sh"

nb_die() { echo "net-bench: $*" >&2; exit 1; }
nb_log() { echo "# $*" >&2; }

nb_cleanup() {
	local pid
	for pid in "${NB_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${NB_PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	NB_PIDS=()
	nb_remove_namespaces
	[ -n "${NB_TMP:-}" ] && rm -rf "$NB_TMP"
}

nb_remove_namespaces() {
	local ns
	for ns in $(ip netns list | awk '{print $1}' | grep "^$NB_PREFIX-" || true); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
		ip netns del "$ns"
	done
}

nb_setup() {
	[ "$(id -u)" = 0 ] || nb_die "needs root (network namespaces, BPF)"
	NB_AGENT="$NB_BUILD/agent/chaos-agent"
	[ -x "$NB_AGENT" ] || nb_die "$NB_AGENT not built (ninja -C $NB_BUILD agent/chaos-agent)"
	nb_remove_namespaces
	NB_TMP=$(mktemp -d /tmp/ckt-bench.XXXXXX)
	CK_TMP=$NB_TMP
	trap nb_cleanup EXIT
	trap 'exit 130' INT TERM
	ip netns add "$NB_A"
	ip netns add "$NB_B"
	ip -n "$NB_A" link set lo up
	ip -n "$NB_B" link set lo up
	ckagt_link "$NB_A" "$NB_ADDR_A/24" "$NB_B" "$NB_ADDR_B/24"
	for _ in $(seq 50); do
		ip netns exec "$NB_A" ping -c1 -W0.2 "$NB_ADDR_B" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	nb_die "no traffic over the veth pair"
}

# nb_agent NAME BACKEND_LINE: starts a chaos-agent in NB_B; sets NB_SOCK (its unix socket).
# BACKEND_LINE is a config line such as 'packet_backend = "tcx";'.
nb_agent() {
	local name=$1 line=$2 dir="$NB_TMP/$1"
	mkdir -p "$dir/run" "$dir/state"
	printf 'name = "%s";\nlisten_unix = "%s";\nstate_dir = "%s";\nmax_fault_duration = "1h";\n%s\n' \
		"$name" "$dir/run/agent.sock" "$dir/state" "$line" >"$dir/agent.cfg"
	ip netns exec "$NB_B" "$NB_AGENT" --config "$dir/agent.cfg" --log-level warn >"$dir/agent.log" 2>&1 &
	NB_PIDS+=($!)
	local pid=$!
	for _ in $(seq 100); do
		[ -S "$dir/run/agent.sock" ] && { NB_SOCK="$dir/run/agent.sock"; return 0; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$dir/agent.log" >&2
	nb_die "agent $name did not start"
}


# nb_machine: the machine line for docs/performance.md.
nb_machine() {
	echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

nb_parse_build() {
	NB_BUILD=""
	NB_ARGS=()
	while [ $# -gt 0 ]; do
		case "$1" in
		--build) NB_BUILD=$2; shift 2 ;;
		*) NB_ARGS+=("$1"); shift ;;
		esac
	done
	[ -n "$NB_BUILD" ] || nb_die "--build BUILD_DIR is required"
	NB_BUILD=$(cd "$NB_BUILD" && pwd)
}
