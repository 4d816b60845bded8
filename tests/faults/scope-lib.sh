# Shared by the per-service scope and connection-refused tests: cgroup v2
# directories named after the test prefix, processes started inside them, and an
# agent driven over its unix socket. Source after tests/lib.sh and ck_init.
. "$CK_SOURCE_DIR/tests/agent/agent_lib.sh"
SC_UDP="$CK_SOURCE_DIR/tests/faults/udp-count.py"

# The cgroup v2 mount: /sys/fs/cgroup (pure v2) or /sys/fs/cgroup/unified (hybrid).
SC_CG_ROOT=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)

sc_require() {
	ck_require_root
	ck_require_tools python3 curl nsenter
	[ -n "$SC_CG_ROOT" ] || ck_skip "no cgroup v2 hierarchy is mounted"
	[ -x "$CK_AGENT" ] || ck_skip "chaos-agent is not built"
}

# sc_setup: namespaces $A (10.99.0.1, fd99::1) and $B (10.99.0.2, fd99::2) joined
# by v0, and the victim cgroup $CK_PREFIX-victim (directory in $VICTIM).
sc_setup() {
	A=$CK_PREFIX-a B=$CK_PREFIX-b
	ck_netns "$A"; ck_netns "$B"
	ck_link "$A" v0 10.99.0.1/24 "$B" v0 10.99.0.2/24 fd99::1/64 fd99::2/64
	sc_cgroup "$CK_PREFIX-victim"
	VICTIM=$SC_CG
}

# Kills what runs in a cgroup of ours (only this test's processes are ever put
# there) and removes it.
sc_cgroup_remove() {
	local dir=$1 pid i
	[ -d "$dir" ] || return 0
	for ((i = 0; i < 50; i++)); do
		for pid in $(cat "$dir/cgroup.procs" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
		rmdir "$dir" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# sc_cgroup NAME: creates $SC_CG_ROOT/NAME (NAME starts with the test prefix) after
# removing stale ones of the prefix; prints nothing, sets SC_CG to the directory.
sc_cgroup() {
	case "$1" in "$CK_PREFIX"*) ;; *) ck_die "cgroup $1 lacks the test prefix $CK_PREFIX" ;; esac
	local stale
	for stale in "$SC_CG_ROOT/$CK_PREFIX"-*; do sc_cgroup_remove "$stale"; done
	SC_CG="$SC_CG_ROOT/$1"
	mkdir "$SC_CG"
	ck_on_exit "sc_cgroup_remove '$SC_CG'"
}

# sc_run CGROUP_DIR NS CMD...: runs CMD in namespace NS inside the cgroup ("-" for
# the cgroup of this shell). Sockets belong to the cgroup of their creator, so the
# process joins the cgroup before it execs CMD. nsenter, not `ip netns exec`: that
# one mounts a fresh /sys, which hides the cgroup hierarchies.
sc_run() { (sc_exec "$@"); }
# sc_exec: the same, replacing the calling (sub)shell, so that `sc_exec ... &` gives
# the command's own pid in $!.
sc_exec() {
	local cg=$1 ns=$2; shift 2
	if [ "$cg" = - ]; then
		exec nsenter --net="/run/netns/$ns" "$@"
	else
		exec nsenter --net="/run/netns/$ns" sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"
	fi
}

# sc_udp_recv CG NS PORT: starts a UDP counter; sets SC_RPID and SC_ROUT.
sc_udp_recv() {
	SC_ROUT="$CK_TMP/recv.$RANDOM"
	sc_exec "$1" "$2" python3 "$SC_UDP" recv "$3" 30 >"$SC_ROUT" &
	SC_RPID=$!
	ck_on_exit "kill -9 $SC_RPID"
	ck_wait_for 5 grep -q listening "$SC_ROUT" || ck_die "UDP receiver did not start"
}
# sc_udp_count PID OUT: stops a receiver and prints how many datagrams it got
# (works from a subshell, which cannot wait for it).
sc_udp_count() {
	sleep 0.3
	kill -TERM "$1" 2>/dev/null || true
	ck_wait_for 5 grep -q '^received' "$2" || true
	awk '/^received/ {print $2}' "$2"
}
# sc_udp_send CG NS ADDR PORT COUNT: prints how many were sent without error.
sc_udp_send() {
	sc_run "$1" "$2" python3 "$SC_UDP" send "$3" "$4" "$5" 1 | awk '{print $2}'
}

# sc_tcp_connect CG NS ADDR PORT [TIMEOUT]: prints "ok MS" or "ERRNO_NAME MS".
sc_tcp_connect() {
	sc_run "$1" "$2" python3 -c 'import errno,socket,sys,time
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(float(sys.argv[3]))
t = time.monotonic()
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); r = "ok"
except socket.timeout:
    r = "ETIMEDOUT"
except OSError as e:
    r = errno.errorcode.get(e.errno, str(e.errno))
print(r, int((time.monotonic() - t) * 1000))' "$3" "$4" "${5:-2}"
}

# sc_expect_connect MESSAGE WANT CG NS ADDR PORT [TIMEOUT]: checks that sc_tcp_connect
# ends in WANT ("ok" or an errno name).
sc_expect_connect() {
	local what=$1 want=$2 r ms; shift 2
	read -r r ms <<<"$(sc_tcp_connect "$@")"
	ck_expect_eq "$what" "$want" "$r"
}

# sc_tcp_listen CG NS PORT: a listener that logs one line per accepted connection to
# $CK_TMP/accepted.PORT.
sc_tcp_listen() {
	sc_exec "$1" "$2" python3 -c 'import socket,sys
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::", int(sys.argv[1]))); s.listen(64)
while True:
    c, a = s.accept(); c.close()
    with open(sys.argv[2], "a") as f: f.write("%s\n" % (a[0],))' "$3" "$CK_TMP/accepted.$3" &
	ck_on_exit "kill -9 $!"
	: >"$CK_TMP/accepted.$3"
}
sc_accepted() { wc -l <"$CK_TMP/accepted.$1"; }

# sc_agent NS: an agent in NS (outside every test cgroup, seeing the host's cgroup
# mounts) on a unix socket; sets SC_SOCK and CKAGT_PID.
sc_agent() {
	local ns=$1
	SC_SOCK=$CK_TMP/run/agent.sock
	ckagt_config "$CK_TMP/agent.cfg" "$CK_PREFIX" "$SC_SOCK" "$CK_TMP/state"
	ckagt_start_net "$ns" "$CK_TMP/agent.cfg" "$CK_TMP/agent.$RANDOM.log"
}

# sc_apply KIND PARAMS [DURATION]: POST /v1/faults; sets SC_ID and SC_RESP ("STATUS BODY").
sc_apply() {
	ckagt_apply "$SC_SOCK" "$1" "${3:-2m}" "$2"
	SC_RESP="$CKAGT_CODE $CKAGT_BODY" SC_ID=$CKAGT_ID
	[ "$CKAGT_CODE" = 201 ]
}
# sc_stat NAME: a field of the current fault's stats (GET /v1/faults/ID).
sc_stat() { ckagt_stat "$SC_SOCK" "$SC_ID" "$1"; }
sc_revert() {
	local r
	r=$(ckagt_req "$SC_SOCK" DELETE "/v1/faults/$SC_ID")
	[ "${r%% *}" = 200 ] || ck_die "DELETE $SC_ID: $r"
}
