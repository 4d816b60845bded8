#!/bin/bash
# Fan-out benchmark lab: K network namespaces behind a bridge, M chaos-agents in each
# (own TLS port and unix socket), a throwaway CA, inventories of all K*M agents; then
# runs bench/fanout against them and tears everything down, pass or fail.
#
#   bench/fanout-lab.sh [--build DIR] [--namespaces K] [--agents M] [--backend B] [--dir D] [--hold]
#                       [--] [fanout args...]
# --backend sets the agents' packet_backend (auto, tcx, clsact). --hold builds the fleet and
# waits (for profiling by hand) until interrupted, then tears it down.
#
# Needs root. Everything lives in namespaces named ckt-bn-*; the root namespace gets no
# interface, address or route, and the scheduler side runs inside ckt-bn-ctl.
set -euo pipefail

PREFIX=ckt-bn
SUBNET4=10.79.0
BASE_PORT=7100
namespaces=10
agents=20
build=
dir=
backend=auto
hold=0
fanout_args=()

die() { printf 'fanout-lab: %s\n' "$*" >&2; exit 1; }
say() { printf '# %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--namespaces) namespaces=$2; shift 2 ;;
	--agents) agents=$2; shift 2 ;;
	--dir) dir=$2; shift 2 ;;
	--backend) backend=$2; shift 2 ;;
	--hold) hold=1; shift ;;
	--) shift; fanout_args+=("$@"); break ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) fanout_args+=("$1"); shift ;;
	esac
done

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, BPF)"
[[ $namespaces =~ ^[0-9]+$ && $namespaces -ge 1 && $namespaces -le 200 ]] || die "--namespaces: 1..200"
[[ $agents =~ ^[0-9]+$ && $agents -ge 1 && $agents -le 100 ]] || die "--agents: 1..100"
[[ $backend =~ ^(auto|tcx|clsact)$ ]] || die "--backend: auto, tcx or clsact"
# clsact filters carry a per-agent handle numbered from the same base: agents sharing an
# interface would collide (409 conflict) and sweep each other's filters.
[ "$backend" != clsact ] || [ "$agents" -eq 1 ] || die "--backend clsact needs --agents 1 (one agent per namespace)"
command -v openssl >/dev/null || die "openssl is not installed"
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$build" ]; then
	for b in "$here/../build" "$PWD"; do
		[ -x "$b/bench/fanout" ] && { build=$b; break; }
	done
fi
[ -n "$build" ] || die "no build dir with bench/fanout found (pass --build DIR)"
build=$(cd "$build" && pwd)
agent_bin=$build/agent/chaos-agent
fanout_bin=$build/bench/fanout
[ -x "$agent_bin" ] || die "$agent_bin missing (ninja -C $build agent/chaos-agent)"
[ -x "$fanout_bin" ] || die "$fanout_bin missing (ninja -C $build bench/fanout)"

ctl_ns() { echo "$PREFIX-ctl"; }
host_ns() { echo "$PREFIX-n$1"; }
host_ip() { echo "$SUBNET4.$((10 + $1))"; }

# Kills what runs inside our namespaces (agents: SIGTERM first so they revert and clear
# their journals), then deletes the namespaces. Only ckt-bn-* namespaces are touched.
remove_prefix() {
	local ns pid pids=() i
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX-" || true); do
		for pid in $(ip netns pids "$ns" 2>/dev/null || true); do pids+=("$pid"); done
	done
	if [ ${#pids[@]} -gt 0 ]; then
		kill -TERM "${pids[@]}" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			local alive=0
			for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1 && break; done
			[ $alive -eq 0 ] && break
			sleep 0.1
		done
		kill -KILL "${pids[@]}" 2>/dev/null || true
	fi
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX-" || true); do
		ip netns del "$ns" 2>/dev/null || say "cannot delete namespace $ns"
	done
}

owns_dir=0
hold_pid=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -z "$hold_pid" ] || kill "$hold_pid" 2>/dev/null || true
	remove_prefix
	if [ $owns_dir -eq 1 ] && [ -n "$dir" ]; then
		if [ $rc -ne 0 ] && [ -d "$dir" ]; then
			say "agent logs of the failed run (first errors):"
			grep -h -i -m3 -E 'error|warn' "$dir"/*/agent.log 2>/dev/null | head -20 >&2 || true
		fi
		rm -rf "$dir"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

remove_prefix
if [ -z "$dir" ]; then
	dir=$(mktemp -d "/tmp/$PREFIX.XXXXXX")
	owns_dir=1
else
	mkdir -p "$dir"
fi
chmod 700 "$dir"

say "network: $namespaces namespaces behind bridge ${PREFIX}br0 in $(ctl_ns)"
ctl=$(ctl_ns)
ip netns add "$ctl"
ip -n "$ctl" link set lo up
ip -n "$ctl" link add "${PREFIX}br0" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
ip -n "$ctl" addr add "$SUBNET4.1/24" dev "${PREFIX}br0"
ip -n "$ctl" link set "${PREFIX}br0" up
for ((i = 1; i <= namespaces; i++)); do
	ns=$(host_ns "$i")
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	# veth born in ctl with its peer in the host namespace: nothing passes through root
	ip -n "$ctl" link add "veth-n$i" type veth peer name eth0 netns "$ns"
	ip -n "$ctl" link set "veth-n$i" master "${PREFIX}br0" up
	ip -n "$ns" addr add "$(host_ip "$i")/24" dev eth0
	ip -n "$ns" link set eth0 up
done

say "certificates: throwaway CA, one server certificate per namespace, one client certificate"
ca=$dir/ca
mkdir -p "$ca"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$ca/ca-key.pem" -out "$ca/ca.pem" -days 2 -sha256 -subj "/O=chaoskit bench/CN=bench CA" \
	-addext "basicConstraints = critical, CA:TRUE" -addext "keyUsage = critical, keyCertSign, cRLSign" 2>/dev/null
make_cert() { # name eku san
	local ext=$ca/$1.ext
	{
		echo "basicConstraints = critical, CA:FALSE"
		echo "keyUsage = critical, digitalSignature, keyEncipherment"
		echo "extendedKeyUsage = $2"
		[ -z "$3" ] || echo "subjectAltName = $3"
	} >"$ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$ca/$1-key.pem" \
		-out "$ca/$1.csr" -subj "/O=chaoskit bench/CN=$1" 2>/dev/null
	openssl x509 -req -in "$ca/$1.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca-key.pem" -CAcreateserial -days 2 \
		-sha256 -extfile "$ext" -out "$ca/$1.pem" 2>/dev/null
	rm -f "$ca/$1.csr" "$ext"
}
for ((i = 1; i <= namespaces; i++)); do make_cert "n$i" serverAuth "IP:$(host_ip "$i")"; done
make_cert client clientAuth ""

total=$((namespaces * agents))
say "agents: $agents per namespace, $total in all"
for ((i = 1; i <= namespaces; i++)); do
	for ((j = 1; j <= agents; j++)); do
		a=$dir/n${i}a$j
		mkdir -p "$a/state"
		cat >"$a/agent.cfg" <<EOF
name = "n${i}a$j";
labels = { ns = "n$i"; role = "bench"; };
listen_unix = "$a/agent.sock";
listen_tls = "$(host_ip "$i"):$((BASE_PORT + j))";
tls = { ca = "$ca/ca.pem"; cert = "$ca/n$i.pem"; key = "$ca/n$i-key.pem"; };
state_dir = "$a/state";
max_fault_duration = "10m";
packet_backend = "$backend";
EOF
		setsid ip netns exec "$(host_ns "$i")" "$agent_bin" --config "$a/agent.cfg" --log-level warn \
			</dev/null >"$a/agent.log" 2>&1 &
	done
done

{
	echo "inventory = { tls = { ca = \"$ca/ca.pem\"; cert = \"$ca/client.pem\"; key = \"$ca/client-key.pem\"; };"
	echo "  hosts = ("
	n=0
	for ((i = 1; i <= namespaces; i++)); do
		for ((j = 1; j <= agents; j++)); do
			n=$((n + 1))
			printf '    { name = "n%da%d"; agent = "https://%s:%d"; labels = { ns = "n%d"; }; }%s\n' \
				"$i" "$j" "$(host_ip "$i")" $((BASE_PORT + j)) "$i" "$([ $n -lt $total ] && echo ,)"
		done
	done
	echo "  ); };"
} >"$dir/inventory-tls.cfg"
{
	echo "inventory = { hosts = ("
	n=0
	for ((i = 1; i <= namespaces; i++)); do
		for ((j = 1; j <= agents; j++)); do
			n=$((n + 1))
			printf '    { name = "n%da%d"; agent = "unix:%s/n%da%d/agent.sock"; labels = { ns = "n%d"; }; }%s\n' \
				"$i" "$j" "$dir" "$i" "$j" "$i" "$([ $n -lt $total ] && echo ,)"
		done
	done
	echo "  ); };"
} >"$dir/inventory-unix.cfg"

# Ready = the unix socket exists and the TLS port accepts connections (the agent logs
# "ready" only at info level; we run them at warn to keep 200 logs small).
say "waiting for $total agents"
deadline=$((SECONDS + 60))
while :; do
	up=0
	for ((i = 1; i <= namespaces; i++)); do
		for ((j = 1; j <= agents; j++)); do [ -S "$dir/n${i}a$j/agent.sock" ] && up=$((up + 1)); done
	done
	[ $up -eq $total ] && break
	[ $SECONDS -lt $deadline ] || die "only $up of $total agents came up within 60 s"
	sleep 0.5
done
running=0
for ((i = 1; i <= namespaces; i++)); do
	running=$((running + $(ip netns pids "$(host_ns "$i")" | wc -l)))
done
[ $running -eq $total ] || die "$running agent processes running, expected $total"
say "all $total agents up"
if [ $hold -eq 1 ]; then
	say "holding; inventories: $dir/inventory-tls.cfg $dir/inventory-unix.cfg (run in $ctl); Ctrl-C ends"
	sleep infinity &
	hold_pid=$!
	wait "$hold_pid" || true
	exit 0
fi

ip netns exec "$ctl" "$fanout_bin" --tls-inventory "$dir/inventory-tls.cfg" \
	--unix-inventory "$dir/inventory-unix.cfg" "${fanout_args[@]}"
