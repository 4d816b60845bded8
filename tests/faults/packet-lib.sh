# Shared by the packet integration tests. Source after tests/lib.sh and ck_init.
PK_DRIVER="$CK_BUILD_DIR/tests/faults/packet-driver"
PK_UDP="$CK_SOURCE_DIR/tests/faults/udp-count.py"
PK_A="${CK_PREFIX}-a"
PK_B="${CK_PREFIX}-b"

# The sample size and bounds of the probabilistic packet tests: Binomial(1000, 0.3)
# has mean 300 and sigma 14.5; PK_LOW..PK_HIGH is +-4.5 sigma.
PK_N=1000
PK_P=0.3
PK_LOW=235
PK_HIGH=365

pk_require() {
	ck_require_root
	command -v python3 >/dev/null || ck_skip "python3 is not installed"
	[ -x "$PK_DRIVER" ] || ck_die "$PK_DRIVER not built"
}

# Two namespaces joined by a veth pair: a=10.99.0.1 fd99::1, b=10.99.0.2 fd99::2 (interface v0).
pk_setup() {
	ck_netns "$PK_A"
	ck_netns "$PK_B"
	ck_link "$PK_A" v0 10.99.0.1/24 "$PK_B" v0 10.99.0.2/24 fd99::1/64 fd99::2/64
	# Link-local addresses leave "tentative" after DAD; state snapshots must not race it.
	ck_wait_for 10 pk_no_tentative || ck_die "IPv6 addresses stay tentative"
}
pk_no_tentative() { ! ip -n "$PK_A" addr | grep -q tentative && ! ip -n "$PK_B" addr | grep -q tentative; }

# pk_state: the kernel state of both namespaces and B's tcx attachments, compared
# before a fault and after its revert or recovery.
pk_state() { ck_kernel_state "$PK_A"; ck_kernel_state "$PK_B"; "$PK_DRIVER" --netns "$PK_B" --tcx-state; }

# pk_kill_recover NS KIND: SIGKILLs the running driver and recovers its fault in NS
# from the record alone, in a new process (as the agent's guardian would).
pk_kill_recover() {
	cp "$PK_RECORD" "$CK_TMP/journal.json"
	kill -9 "$PK_PID"; wait "$PK_PID" 2>/dev/null || true
	"$PK_DRIVER" --netns "$1" --kind "$2" --recover "$CK_TMP/journal.json" >/dev/null
}

# pk_backend_supported BACKEND: 0 if the driver can use it here.
pk_backend_supported() {
	"$PK_DRIVER" --netns "$PK_A" --probe --backend "$1" >/dev/null 2>&1
}

# pk_start NS BACKEND KIND PARAMS [driver args...]: applies a fault, sets PK_PID and PK_OUT.
pk_start() {
	local ns=$1 backend=$2 kind=$3 params=$4; shift 4
	PK_OUT="$CK_TMP/driver.$RANDOM.out"
	PK_RECORD="$CK_TMP/record.$RANDOM.json"
	"$PK_DRIVER" --netns "$ns" --backend "$backend" --kind "$kind" --params "$params" \
		--record "$PK_RECORD" --timeout 50 "$@" >"$PK_OUT" 2>&1 &
	PK_PID=$!
	ck_on_exit "kill -9 $PK_PID"
	if ! ck_wait_for 10 grep -q '^applied' "$PK_OUT"; then
		cat "$PK_OUT" >&2
		ck_die "fault $kind $params did not apply in $ns ($backend)"
	fi
}

# pk_stop: reverts the running fault; PK_STATS gets its final counters line.
pk_stop() {
	kill -TERM "$PK_PID" 2>/dev/null || true
	wait "$PK_PID" || ck_die "driver failed: $(cat "$PK_OUT")"
	PK_STATS=$(sed -n 's/^stats //p' "$PK_OUT")
}

# pk_stat NAME: a counter from PK_STATS.
pk_stat() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$PK_STATS" "$1"; }

# pk_udp FROM_NS TO_NS ADDR PORT COUNT [SRC_PORT]: sends COUNT datagrams; the receiver
# counts until PK_IDLE seconds (default 0.5) after the sender finished. Sets PK_SENT,
# PK_ERRORS (sendto failures seen by the sender) and PK_RECEIVED.
pk_udp() {
	local from=$1 to=$2 addr=$3 port=$4 count=$5 sport=${6:-0}
	local rout="$CK_TMP/recv.$RANDOM"
	ip netns exec "$to" python3 "$PK_UDP" recv "$port" 50 >"$rout" &
	local rpid=$!
	ck_wait_for 5 grep -q listening "$rout" || ck_die "UDP receiver did not start"
	local sout
	sout=$(ip netns exec "$from" python3 "$PK_UDP" send "$addr" "$port" "$count" 0.2 "$sport")
	sleep "${PK_IDLE:-0.5}"
	kill -TERM "$rpid"
	wait "$rpid" || true
	PK_SENT=$(echo "$sout" | awk '{print $2}')
	PK_ERRORS=$(echo "$sout" | awk '{print $4}')
	PK_RECEIVED=$(awk '/^received/ {print $2}' "$rout")
}

# pk_within LOW HIGH VALUE
pk_within() { [ "$3" -ge "$1" ] && [ "$3" -le "$2" ]; }

# pk_tcp_connects NS ADDR PORT: 0 if a TCP connection is established within 2 s.
pk_tcp_connects() {
	ip netns exec "$1" python3 -c 'import socket,sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
s.close()' "$2" "$3" 2>/dev/null
}

# pk_tcp_listen NS PORT: a TCP listener that accepts forever (killed with the namespace).
pk_tcp_listen() {
	ip netns exec "$1" python3 -c 'import socket,sys
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::", int(sys.argv[1]))); s.listen(16)
while True: s.accept()[0].close()' "$2" &
	ck_on_exit "kill -9 $!"
}

# pk_not CMD...: succeeds when CMD fails (for ck_check).
pk_not() { ! "$@"; }
