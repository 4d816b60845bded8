#!/usr/bin/env bash
# The chaoskit lab: N hosts (default 9: 3 datacenters x 3) as network namespaces on a bridge, each
# running its own chaos-agent (TLS from a lab CA, plus a unix socket) and the demo "talk" service;
# h1 also runs the "login" service that every talk's /send depends on. Optionally Prometheus in
# the control namespace, scraping all of them. See docs/lab.md.
#
#   lab.sh up     [--hosts N] [--prefix P] [--dir D] [--build DIR] [--prometheus]
#   lab.sh down   [--prefix P] [--dir D]
#   lab.sh status [--prefix P] [--dir D]
#
# Everything lives inside namespaces named P-ctl and P-h1..P-hN: the root namespace gets no
# interface, address or route from the lab. The scheduler and probes run in P-ctl.
set -euo pipefail

LAB_SCRIPT_DIR=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
readonly LAB_SCRIPT_DIR
readonly MARKER=.chaoskit-lab
readonly SUBNET4=10.77.0 SUBNET6=fd77
readonly AGENT_PORT=7070 DEMO_PORT=8080 LOGIN_PORT=8081 PROMETHEUS_PORT=9090

prefix=ckl
dir=/run/chaoskit-lab
hosts=9
prometheus=0
build=${CHAOSKIT_BUILD:-$LAB_SCRIPT_DIR/../build}
wait_seconds=${CHAOSKIT_LAB_WAIT:-30}

say()  { printf 'lab: %s\n' "$*"; }
warn() { printf 'lab: %s\n' "$*" >&2; }
die()  { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

usage() {
	cat <<EOF
usage: lab.sh up     [--hosts N] [--prefix P] [--dir D] [--build DIR] [--prometheus]
       lab.sh down   [--prefix P] [--dir D]
       lab.sh status [--prefix P] [--dir D]
defaults: --hosts 9 --prefix ckl --dir /run/chaoskit-lab --build \$CHAOSKIT_BUILD or <source>/build
--prometheus: also run Prometheus (/usr/bin/prometheus) on $SUBNET4.1:$PROMETHEUS_PORT in the control namespace
EOF
}

# ---------------------------------------------------------------------------------------------
# naming

ctl_ns()  { echo "${prefix}-ctl"; }
host_ns() { echo "${prefix}-h$1"; }
bridge()  { echo "${prefix}br0"; }
host_ip4() { echo "$SUBNET4.$((10 + $1))"; }
host_ip6() { echo "$SUBNET6::$((10 + $1))"; }
host_dc()  { echo "dc$(( ($1 - 1) % 3 + 1 ))"; }

# Namespaces of this prefix only: "ckl-h1" matches prefix ckl, "ckl2-h1" does not.
lab_namespaces() {
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${prefix}-(ctl|h[0-9]+)\$" || true
}

# ---------------------------------------------------------------------------------------------
# processes

# A zombie still answers kill -0; it counts as gone (nothing may reap it here).
alive() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Pids of processes in namespace NS whose executable is BINARY (resolved path).
ns_pids_of() {
	local ns=$1 binary=$2 pid
	for pid in $(ip netns pids "$ns" 2>/dev/null || true); do
		[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$binary" ] && echo "$pid"
	done
	return 0
}

# wait_gone SECONDS PID...: true once none of the pids is alive.
wait_gone() {
	local deadline=$(( $(date +%s) + $1 )) pid any; shift
	while :; do
		any=0
		for pid in "$@"; do alive "$pid" && any=1; done
		[ $any -eq 0 ] && return 0
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# stop_pids GRACE PID...: SIGTERM, wait up to GRACE seconds, SIGKILL whatever is left.
stop_pids() {
	local grace=$1 pid; shift
	[ $# -gt 0 ] || return 0
	for pid in "$@"; do alive "$pid" && kill -TERM "$pid" 2>/dev/null; done
	wait_gone "$grace" "$@" && return 0
	for pid in "$@"; do
		if alive "$pid"; then
			warn "pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) ignored SIGTERM for ${grace}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	wait_gone 5 "$@" || true
}

# ---------------------------------------------------------------------------------------------
# down

# The prefix recorded in the dir's marker file, "" when there is none.
dir_owner() {
	sed -n 's/^prefix=\([^ ]*\).*/\1/p' "$dir/$MARKER" 2>/dev/null || true
}

# Removes every object of the prefix and the lab dir. Safe to run at any point of a failed or
# interrupted `up`, and when nothing is there.
lab_down() {
	local ns pid agent_pids=() other_pids=() namespaces owner
	namespaces=$(lab_namespaces)

	# A dir that another lab (another prefix) uses is not ours to stop or delete.
	owner=$(dir_owner)
	if [ -n "$owner" ] && [ "$owner" != "$prefix" ]; then
		warn "$dir belongs to the lab with prefix $owner: leaving it alone"
		dir=/nonexistent/chaoskit-lab
	fi

	# Agents first, by SIGTERM, so they revert their faults and clear their journals.
	if [ -d "$dir" ]; then
		for pid in $(cat "$dir"/h*/agent.pid 2>/dev/null || true); do
			[[ $pid =~ ^[0-9]+$ ]] && alive "$pid" &&
				[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = chaos-agent ] && agent_pids+=("$pid")
		done
	fi
	# Their guardians ignore SIGTERM and leave by themselves once their agent is gone.
	for ns in $namespaces; do
		for pid in $(ip netns pids "$ns" 2>/dev/null || true); do
			case "$(cat "/proc/$pid/comm" 2>/dev/null)" in chaos-agent|chaos-guardian) ;; *) continue ;; esac
			[[ " ${agent_pids[*]} " == *" $pid "* ]] || agent_pids+=("$pid")
		done
	done
	stop_pids 10 "${agent_pids[@]}"

	# Then whatever else runs in the lab (demo services, Prometheus, a scheduler in the ctl namespace).
	for ns in $namespaces; do
		for pid in $(ip netns pids "$ns" 2>/dev/null || true); do other_pids+=("$pid"); done
	done
	if [ -d "$dir" ]; then
		for pid in $(cat "$dir"/h*/demo.pid "$dir"/h*/login.pid 2>/dev/null || true); do
			[[ $pid =~ ^[0-9]+$ ]] && alive "$pid" &&
				[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = chaos-demo-serv ] && other_pids+=("$pid")
		done
		pid=$(cat "$dir/prometheus/prometheus.pid" 2>/dev/null || true)
		[[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = prometheus ] &&
			[[ " ${other_pids[*]} " != *" $pid "* ]] && other_pids+=("$pid")
	fi
	# A frozen (SIGSTOPped) demo service would sit on SIGTERM forever: let it run to see it.
	for pid in "${other_pids[@]}"; do alive "$pid" && kill -CONT "$pid" 2>/dev/null; done
	stop_pids 5 "${other_pids[@]}"

	# Hosts before ctl: deleting a host namespace destroys its veth and with it the bridge port.
	for ns in $(echo "$namespaces" | grep -v -- '-ctl$' || true) $(echo "$namespaces" | grep -- '-ctl$' || true); do
		ip netns del "$ns" 2>/dev/null || warn "cannot delete namespace $ns"
	done

	# Sanitizer builds report leaks and errors at exit, into logs about to be deleted.
	local log sanitizer_reports=0
	for log in "$dir"/h*/agent.log "$dir"/h*/demo.log "$dir"/h*/login.log; do
		[ -f "$log" ] || continue
		if grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
			warn "sanitizer report in $log:"
			grep -E -A 30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" | head -n 60 >&2
			sanitizer_reports=1
		fi
	done

	if [ -d "$dir" ]; then
		if [ -e "$dir/$MARKER" ] || [ -z "$(ls -A "$dir")" ]; then
			rm -rf -- "$dir"
		else
			warn "$dir has no $MARKER file: not a lab dir, left alone"
		fi
	fi

	local left
	left=$(lab_namespaces)
	[ -z "$left" ] || { warn "namespaces still present: $left"; return 1; }
	[ $sanitizer_reports -eq 0 ] || { warn "lab removed, but a lab process reported sanitizer errors (above)"; return 1; }
	return 0
}

# ---------------------------------------------------------------------------------------------
# up

check_names() {
	[[ $prefix =~ ^[a-z][a-z0-9-]{0,11}$ ]] ||
		die "--prefix must be 1-12 characters of a-z, 0-9, - starting with a letter (it names interfaces)"
	if ! [[ $hosts =~ ^[0-9]+$ ]] || [ "$hosts" -lt 1 ] || [ "$hosts" -gt 50 ]; then die "--hosts must be 1..50"; fi
	case "$dir" in /*) ;; *) dir=$PWD/$dir ;; esac
	dir=${dir%/}
	if [ -z "$dir" ]; then die "--dir must not be /"; fi
}

find_binaries() {
	agent_bin=$build/agent/chaos-agent
	demo_bin=$build/lab/chaos-demo-service
	[ -x "$agent_bin" ] || agent_bin=$(command -v chaos-agent || true)
	[ -x "$demo_bin" ] || demo_bin=$(command -v chaos-demo-service || true)
	[ -n "$agent_bin" ] || die "chaos-agent not found in $build/agent (build first: meson setup build && ninja -C build, or pass --build DIR)"
	[ -n "$demo_bin" ] || die "chaos-demo-service not found in $build/lab (build first, or pass --build DIR)"
	agent_bin=$(readlink -f "$agent_bin")
	demo_bin=$(readlink -f "$demo_bin")
}

# No duplicate address detection in the lab: addresses are unique by construction, and without
# DAD the link-local addresses are final when up returns, so the kernel state a test records
# right after up does not change by itself a second later.
lab_settle_ns() {
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 >/dev/null
}

make_network() {
	local ctl br i ns
	ctl=$(ctl_ns); br=$(bridge)
	ip netns add "$ctl"
	lab_settle_ns "$ctl"
	ip -n "$ctl" link add "$br" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
	ip -n "$ctl" addr add "$SUBNET4.1/24" dev "$br"
	ip -n "$ctl" addr add "$SUBNET6::1/64" dev "$br" nodad
	ip -n "$ctl" link set "$br" up
	for ((i = 1; i <= hosts; i++)); do
		ns=$(host_ns "$i")
		ip netns add "$ns"
		lab_settle_ns "$ns"
		# Created inside ctl with its peer born in the host namespace: nothing passes through root.
		ip -n "$ctl" link add "veth-h$i" type veth peer name eth0 netns "$ns"
		ip -n "$ctl" link set "veth-h$i" master "$br" up
		ip -n "$ns" addr add "$(host_ip4 "$i")/24" dev eth0
		ip -n "$ns" addr add "$(host_ip6 "$i")/64" dev eth0 nodad
		ip -n "$ns" link set eth0 up
	done
}

# make_cert NAME CN EKU SAN: key + certificate signed by the lab CA, in $dir/ca/.
make_cert() {
	local name=$1 cn=$2 eku=$3 san=$4 ca=$dir/ca ext
	ext=$ca/$name.ext
	{
		echo "basicConstraints = critical, CA:FALSE"
		echo "keyUsage = critical, digitalSignature, keyEncipherment"
		echo "extendedKeyUsage = $eku"
		[ -z "$san" ] || echo "subjectAltName = $san"
	} >"$ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$ca/$name-key.pem" -out "$ca/$name.csr" -subj "/O=chaoskit lab/CN=$cn" 2>/dev/null
	openssl x509 -req -in "$ca/$name.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca-key.pem" -CAcreateserial \
		-days 30 -sha256 -extfile "$ext" -out "$ca/$name.pem" 2>/dev/null
	rm -f "$ca/$name.csr" "$ext"
	chmod 600 "$ca/$name-key.pem"
}

make_certificates() {
	local ca=$dir/ca i
	mkdir -p "$ca"
	chmod 700 "$ca"
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$ca/ca-key.pem" -out "$ca/ca.pem" -days 30 -sha256 -subj "/O=chaoskit lab/CN=chaoskit lab CA" \
		-addext "basicConstraints = critical, CA:TRUE" -addext "keyUsage = critical, keyCertSign, cRLSign" \
		2>/dev/null
	chmod 600 "$ca/ca-key.pem"
	for ((i = 1; i <= hosts; i++)); do
		make_cert "h$i" "h$i" serverAuth "IP:$(host_ip4 "$i"), IP:$(host_ip6 "$i"), DNS:h$i"
	done
	make_cert client scheduler clientAuth ""
}

write_agent_config() {
	local i=$1 hdir=$dir/h$1
	mkdir -p "$hdir/state"
	chmod 700 "$hdir"
	cat >"$hdir/agent.cfg" <<EOF
# Generated by lab/lab.sh for the lab host h$i.
name = "h$i";
labels = { dc = "$(host_dc "$i")"; role = "web"; name = "h$i"; };
listen_unix = "$hdir/agent.sock";
listen_tls = "$(host_ip4 "$i"):$AGENT_PORT";
tls = { ca = "$dir/ca/ca.pem"; cert = "$dir/ca/h$i.pem"; key = "$dir/ca/h$i-key.pem"; };
state_dir = "$hdir/state";
max_fault_duration = "10m";
EOF
}

# Schedulers from before issue 3 reject the hosts' `addresses` key; the lab's inventory stays
# usable with them (and with any chaos that knows the key, it carries the addresses).
scheduler_knows_addresses() {
	local chaos_bin=$build/scheduler/chaos tmp out
	[ -x "$chaos_bin" ] || return 0
	tmp=$(mktemp -d)
	printf 'inventory = { hosts = ( { name = "h1"; agent = "unix:%s/none.sock"; addresses = ["%s"]; } ); };\n' \
		"$tmp" "$(host_ip4 1)" >"$tmp/inventory.cfg"
	printf 'title = "probe";\nmethod = ( { wait = "1s"; } );\n' >"$tmp/probe.cfg"
	out=$("$chaos_bin" validate --inventory "$tmp/inventory.cfg" "$tmp/probe.cfg" 2>&1 || true)
	rm -rf -- "$tmp"
	! grep -q "unknown key.*addresses" <<<"$out"
}

write_inventory() {
	local i addresses=1
	scheduler_knows_addresses || {
		addresses=0
		warn "$build/scheduler/chaos does not know the inventory key 'addresses': the inventory lists none"
	}
	{
		echo "# Generated by lab/lab.sh: the lab's $hosts hosts. Use with: chaos run --inventory $dir/inventory.cfg ..."
		echo "inventory = {"
		echo "  tls = { ca = \"$dir/ca/ca.pem\"; cert = \"$dir/ca/client.pem\"; key = \"$dir/ca/client-key.pem\"; };"
		echo "  hosts = ("
		for ((i = 1; i <= hosts; i++)); do
			printf '    { name = "h%d"; agent = "https://%s:%d"; labels = { dc = "%s"; role = "web"; name = "h%d"; };%s }%s\n' \
				"$i" "$(host_ip4 "$i")" "$AGENT_PORT" "$(host_dc "$i")" "$i" \
				"$([ $addresses -eq 0 ] || echo " addresses = [\"$(host_ip4 "$i")\", \"$(host_ip6 "$i")\"];")" \
				"$([ "$i" -lt "$hosts" ] && echo ,)"
		done
		echo "  );"
		echo "};"
	} >"$dir/inventory.cfg"
}

# Prometheus scrapes every talk service, the login service and every agent (over mTLS with the
# lab's client certificate) once a second; each target carries the labels host and dc.
write_prometheus_config() {
	local i pdir=$dir/prometheus
	mkdir -p "$pdir/data"
	{
		echo "# Generated by lab/lab.sh: Prometheus for the lab $prefix."
		echo "global:"
		echo "  scrape_interval: 1s"
		echo "  scrape_timeout: 900ms"
		echo "  evaluation_interval: 1s"
		echo "scrape_configs:"
		echo "  - job_name: talk"
		echo "    static_configs:"
		for ((i = 1; i <= hosts; i++)); do
			echo "      - targets: ['$(host_ip4 "$i"):$DEMO_PORT']"
			echo "        labels: { host: h$i, dc: $(host_dc "$i") }"
		done
		echo "  - job_name: login"
		echo "    static_configs:"
		echo "      - targets: ['$(host_ip4 1):$LOGIN_PORT']"
		echo "        labels: { host: h1, dc: $(host_dc 1) }"
		echo "  - job_name: agent"
		echo "    scheme: https"
		echo "    tls_config:"
		echo "      ca_file: '$dir/ca/ca.pem'"
		echo "      cert_file: '$dir/ca/client.pem'"
		echo "      key_file: '$dir/ca/client-key.pem'"
		echo "    static_configs:"
		for ((i = 1; i <= hosts; i++)); do
			echo "      - targets: ['$(host_ip4 "$i"):$AGENT_PORT']"
			echo "        labels: { host: h$i, dc: $(host_dc "$i") }"
		done
	} >"$pdir/prometheus.yml"
}

# start_in_ns NS PIDFILE LOG BINARY ARGS...: runs BINARY in NS, detached from our session so
# that a Ctrl-C meant for a later `chaos run` does not reach it; PIDFILE gets its real pid.
start_in_ns() {
	local ns=$1 pidfile=$2 log=$3 binary=$4 pid known; shift 4
	# The same binary may already run there (talk, then login on h1): the new one is not among these.
	known=" $(ns_pids_of "$ns" "$binary" | tr '\n' ' ') "
	# nsenter, not `ip netns exec`: that one gives the process a mount namespace of its own with
	# a fresh /sys, where no cgroup hierarchy is mounted and mounts it makes (an io-fault's FUSE
	# mount) are seen by nobody else. A lab host shares the machine's mounts like a real host.
	setsid nsenter --net="/run/netns/$ns" "$binary" "$@" </dev/null >>"$log" 2>&1 &
	# setsid and nsenter exec in place, but find the process by what it runs rather than trust that.
	local deadline=$(( $(date +%s) + 5 ))
	while :; do
		pid=$(ns_pids_of "$ns" "$binary" | while read -r p; do [[ $known == *" $p "* ]] || echo "$p"; done | head -n1)
		[ -n "$pid" ] && break
		[ "$(date +%s)" -lt "$deadline" ] || { warn "$(basename "$binary") did not start in $ns; its log:"; tail -n 20 "$log" >&2; return 1; }
		sleep 0.05
	done
	echo "$pid" >"$pidfile"
}

agent_ready() { # i
	curl -sf --max-time 2 --unix-socket "$dir/h$1/agent.sock" http://agent/v1/info >/dev/null 2>&1
}
agent_ready_tls() { # i
	ip netns exec "$(ctl_ns)" curl -sf --max-time 2 --cacert "$dir/ca/ca.pem" \
		--cert "$dir/ca/client.pem" --key "$dir/ca/client-key.pem" \
		"https://$(host_ip4 "$1"):$AGENT_PORT/v1/info" >/dev/null 2>&1
}
demo_ready() { # i
	ip netns exec "$(ctl_ns)" curl -sf --max-time 2 "http://$(host_ip4 "$1"):$DEMO_PORT/health" >/dev/null 2>&1
}
login_ready() {
	ip netns exec "$(ctl_ns)" curl -sf --max-time 2 "http://$(host_ip4 1):$LOGIN_PORT/health" >/dev/null 2>&1
}
# Ready once Prometheus answers and has scraped every target successfully at least once, so
# that a Prometheus probe in the first steady-state check already sees the whole lab.
prometheus_targets() { echo $(( 2 * hosts + 1 )); } # talk + agent per host, login on h1
prometheus_ready() {
	local n
	n=$(ip netns exec "$(ctl_ns)" curl -sf --max-time 2 --data-urlencode 'query=count(up == 1)' \
		"http://$SUBNET4.1:$PROMETHEUS_PORT/api/v1/query" 2>/dev/null |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)' 2>/dev/null) ||
		return 1
	[ "$n" = "$(prometheus_targets)" ]
}

wait_ready() {
	local deadline=$(( $(date +%s) + wait_seconds )) i pending
	while :; do
		pending=()
		for ((i = 1; i <= hosts; i++)); do
			alive "$(cat "$dir/h$i/agent.pid")" || {
				warn "the agent of h$i exited; last lines of $dir/h$i/agent.log:"
				tail -n 20 "$dir/h$i/agent.log" >&2
				return 1
			}
			agent_ready "$i" || pending+=("h$i agent (unix socket)")
			agent_ready_tls "$i" || pending+=("h$i agent (TLS $(host_ip4 "$i"):$AGENT_PORT)")
			demo_ready "$i" || pending+=("h$i demo service")
		done
		login_ready || pending+=("h1 login service")
		if [ "$prometheus" -eq 1 ]; then
			alive "$(cat "$dir/prometheus/prometheus.pid")" || {
				warn "Prometheus exited; last lines of $dir/prometheus/prometheus.log:"
				tail -n 20 "$dir/prometheus/prometheus.log" >&2
				return 1
			}
			prometheus_ready || pending+=("Prometheus (all $(prometheus_targets) targets scraped)")
		fi
		[ ${#pending[@]} -eq 0 ] && return 0
		if [ "$(date +%s)" -ge "$deadline" ]; then
			warn "not ready after ${wait_seconds}s: ${pending[*]}"
			for ((i = 1; i <= hosts; i++)); do
				warn "--- $dir/h$i/agent.log"
				tail -n 5 "$dir/h$i/agent.log" >&2 || true
			done
			return 1
		fi
		sleep 0.2
	done
}

print_summary() {
	local i src chaos_bin
	src=$(cd "$LAB_SCRIPT_DIR/.." && pwd)
	chaos_bin=$(readlink -f "$build/scheduler/chaos" 2>/dev/null || true)
	[ -x "$chaos_bin" ] || chaos_bin=chaos
	echo
	echo "chaoskit lab is up: $hosts hosts on bridge $(bridge) in namespace $(ctl_ns) ($SUBNET4.1, $SUBNET6::1)"
	printf '  %-4s %-14s %-12s %-9s %-5s %s\n' host namespace address ipv6 dc agent
	for ((i = 1; i <= hosts; i++)); do
		printf '  %-4s %-14s %-12s %-9s %-5s https://%s:%d  unix:%s\n' "h$i" "$(host_ns "$i")" "$(host_ip4 "$i")" \
			"$(host_ip6 "$i")" "$(host_dc "$i")" "$(host_ip4 "$i")" "$AGENT_PORT" "$dir/h$i/agent.sock"
	done
	echo "  talk service:  http://<address>:$DEMO_PORT/talk, /send (needs login), /health, /metrics on every host"
	echo "  login service: http://$(host_ip4 1):$LOGIN_PORT/verify, /health, /metrics (h1 only, dc1)"
	[ "$prometheus" -eq 0 ] ||
		echo "  prometheus:    http://$SUBNET4.1:$PROMETHEUS_PORT (in $(ctl_ns); scrapes every service and agent each second)"
	echo "  inventory:     $dir/inventory.cfg    logs: $dir/hN/agent.log, $dir/hN/demo.log, $dir/h1/login.log"
	echo
	echo "run an experiment:"
	echo "  $chaos_bin --netns $(ctl_ns) run --inventory $dir/inventory.cfg $src/experiments/lab-cut-host.cfg"
	[ "$hosts" -lt 9 ] || [ "$prometheus" -eq 0 ] ||
		echo "  $chaos_bin --netns $(ctl_ns) run --inventory $dir/inventory.cfg $src/experiments/dc-blackout.cfg"
	echo "tear down:"
	echo "  $LAB_SCRIPT_DIR/lab.sh down$([ "$prefix" = ckl ] || echo " --prefix $prefix")$([ "$dir" = /run/chaoskit-lab ] || echo " --dir $dir")"
}

lab_up() {
	check_names
	find_binaries
	command -v openssl >/dev/null || die "openssl is not installed (scripts/install-deps.sh)"
	command -v curl >/dev/null || die "curl is not installed (scripts/install-deps.sh)"
	if [ "$prometheus" -eq 1 ]; then
		prometheus_bin=$(command -v prometheus || true)
		[ -n "$prometheus_bin" ] || die "--prometheus: prometheus is not installed (Debian: apt-get install prometheus; scripts/install-deps.sh)"
		prometheus_bin=$(readlink -f "$prometheus_bin")
		command -v python3 >/dev/null || die "--prometheus needs python3 (to read Prometheus' answers)"
	fi

	if [ -d "$dir" ] && [ ! -e "$dir/$MARKER" ] && [ -n "$(ls -A "$dir")" ]; then
		die "$dir exists and is not a lab dir (no $MARKER); choose another --dir"
	fi
	local owner
	owner=$(dir_owner)
	if [ -n "$owner" ] && [ "$owner" != "$prefix" ]; then
		die "$dir belongs to the lab with prefix $owner; bring that one down or choose another --dir"
	fi
	if [ -n "$(lab_namespaces)" ] || [ -d "$dir" ]; then
		say "removing what an earlier lab with prefix $prefix left"
		lab_down || die "could not remove the earlier lab"
	fi

	# From here on any failure or interruption removes everything made so far.
	# shellcheck disable=SC2154  # up_rc is assigned inside the trap string
	trap 'up_rc=$?; trap - EXIT INT TERM; if [ $up_rc -ne 0 ]; then warn "up failed: tearing down"; lab_down || true; fi; exit $up_rc' EXIT
	trap 'exit 130' INT TERM

	mkdir -p "$dir"
	chmod 755 "$dir"
	echo "prefix=$prefix hosts=$hosts prometheus=$prometheus" >"$dir/$MARKER"

	# Called plainly (not under ||) so that set -e stops at the first failing command inside.
	say "network: $(ctl_ns) with bridge $(bridge), hosts $(host_ns 1)..$(host_ns "$hosts")"
	make_network
	say "certificates: lab CA in $dir/ca"
	make_certificates

	local i
	[ "$prometheus" -eq 0 ] || write_prometheus_config
	for ((i = 1; i <= hosts; i++)); do
		write_agent_config "$i"
		"$agent_bin" --check-config --config "$dir/h$i/agent.cfg" >"$dir/h$i/check.log" 2>&1 ||
			die "chaos-agent rejects $dir/h$i/agent.cfg: $(cat "$dir/h$i/check.log")"
	done
	write_inventory

	say "starting $hosts agents, $hosts talk services and the login service on h1"
	for ((i = 1; i <= hosts; i++)); do
		start_in_ns "$(host_ns "$i")" "$dir/h$i/agent.pid" "$dir/h$i/agent.log" "$agent_bin" \
			--config "$dir/h$i/agent.cfg" --log-level info || die "starting the agent of h$i failed"
		start_in_ns "$(host_ns "$i")" "$dir/h$i/demo.pid" "$dir/h$i/demo.log" "$demo_bin" \
			--mode talk --listen "[::]:$DEMO_PORT" --name "h$i" --login "http://$(host_ip4 1):$LOGIN_PORT" ||
			die "starting the talk service of h$i failed"
	done
	# Only one login service, in dc1: the single point of failure the DC blackout game day finds.
	start_in_ns "$(host_ns 1)" "$dir/h1/login.pid" "$dir/h1/login.log" "$demo_bin" \
		--mode login --listen "[::]:$LOGIN_PORT" --name h1 || die "starting the login service on h1 failed"
	if [ "$prometheus" -eq 1 ]; then
		say "starting Prometheus on $SUBNET4.1:$PROMETHEUS_PORT in $(ctl_ns)"
		start_in_ns "$(ctl_ns)" "$dir/prometheus/prometheus.pid" "$dir/prometheus/prometheus.log" "$prometheus_bin" \
			--config.file="$dir/prometheus/prometheus.yml" --storage.tsdb.path="$dir/prometheus/data" \
			--storage.tsdb.retention.time=1d --web.listen-address="$SUBNET4.1:$PROMETHEUS_PORT" ||
			die "starting Prometheus failed"
	fi
	wait_ready || die "the lab did not come up"
	trap - EXIT INT TERM
	print_summary
}

# ---------------------------------------------------------------------------------------------
# status

lab_status() {
	local namespaces i n=0 bad=0 pid info faults
	namespaces=$(lab_namespaces)
	if [ -z "$namespaces" ]; then
		echo "no lab with prefix $prefix"
		[ ! -d "$dir" ] || echo "(but $dir exists: run lab.sh down)"
		return 3
	fi
	echo "lab $prefix, dir $dir"
	for ((i = 1; ; i++)); do
		grep -qx "$(host_ns "$i")" <<<"$namespaces" || break
		n=$i
		pid=$(cat "$dir/h$i/agent.pid" 2>/dev/null || true)
		if [ -n "$pid" ] && alive "$pid" && info=$(curl -sf --max-time 2 --unix-socket "$dir/h$i/agent.sock" http://agent/v1/faults); then
			faults=$(printf '%s' "$info" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["faults"]))' 2>/dev/null || echo "?")
			info="agent pid $pid, $faults active fault(s)"
		else
			info="agent DOWN"; bad=1
		fi
		if demo_ready "$i"; then info="$info, talk ok"; else info="$info, talk DOWN"; bad=1; fi
		if [ "$i" -eq 1 ]; then
			if login_ready; then info="$info, login ok"; else info="$info, login DOWN"; bad=1; fi
		fi
		printf '  h%-3s %-5s %-12s %s\n' "$i" "$(host_dc "$i")" "$(host_ip4 "$i")" "$info"
	done
	[ "$n" -gt 0 ] || { echo "  no hosts"; bad=1; }
	if [ -e "$dir/prometheus/prometheus.pid" ]; then
		pid=$(cat "$dir/prometheus/prometheus.pid")
		if alive "$pid" && ip netns exec "$(ctl_ns)" curl -sf --max-time 2 "http://$SUBNET4.1:$PROMETHEUS_PORT/-/ready" >/dev/null 2>&1; then
			echo "  prometheus pid $pid, http://$SUBNET4.1:$PROMETHEUS_PORT ready"
		else
			echo "  prometheus DOWN"; bad=1
		fi
	fi
	return $bad
}

# ---------------------------------------------------------------------------------------------

[ $# -ge 1 ] || { usage >&2; exit 2; }
command=$1; shift
while [ $# -gt 0 ]; do
	case "$1" in
	--hosts)  hosts=${2:?--hosts needs a value}; shift 2 ;;
	--prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
	--dir)    dir=${2:?--dir needs a value}; shift 2 ;;
	--build)  build=${2:?--build needs a value}; shift 2 ;;
	--prometheus) prometheus=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
case "$command" in up|down|status) ;; -h|--help|help) usage; exit 0 ;; *) usage >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || die "run as root (network namespaces)"
command -v ip >/dev/null || die "iproute2 (ip) is not installed"

case "$command" in
up)     lab_up ;;
down)   check_names; lab_down && say "lab $prefix is down" ;;
status) check_names; lab_status ;;
esac
