#!/usr/bin/env bash
# The agent's TLS port: client certificates (none, another CA's, ours), and the control
# path: a blackhole applied over TLS drops traffic between two namespaces while the TLS
# port still answers; a blackout cuts the port too, and only the deadline reverts it.
source "$CK_TESTS_LIB"
source "$(dirname "$0")/agent_lib.sh"
ck_require_root
ck_require_tools curl openssl ping
[ -x "$CK_AGENT" ] || ck_skip "chaos-agent is not built"
ck_init ckt-agt-tls

A=ckt-agt-tls-a B=ckt-agt-tls-b
ck_netns $A; ck_netns $B
ckagt_link $A 10.99.8.1/24 $B 10.99.8.2/24
PKI=$CK_TMP/pki; mkdir -p "$PKI"
ckagt_make_ca "$PKI" ca
ckagt_make_ca "$PKI" otherca
ckagt_make_cert "$PKI" ca agent 10.99.8.1
ckagt_make_cert "$PKI" ca client 10.99.8.2
ckagt_make_cert "$PKI" otherca intruder 10.99.8.2
SOCK=$CK_TMP/run/agent.sock
STATE=$CK_TMP/state
ckagt_config "$CK_TMP/agent.cfg" tls-host "$SOCK" "$STATE" 'listen_tls = "10.99.8.1:7443";' \
	'tls = { ca = "pki/ca.pem"; cert = "pki/agent.pem"; key = "pki/agent-key.pem"; };'
ck_check "check-config accepts the file" "$CK_AGENT" --check-config --config "$CK_TMP/agent.cfg"
ckagt_start $A "$CK_TMP/agent.cfg" "$CK_TMP/agent.log"

# tls_req CERTNAME METHOD PATH [BODY]: from namespace B; CERTNAME "" for none. "STATUS BODY".
tls_req() {
	local cert=$1 method=$2 path=$3 body=${4:-}
	local args=(-s --max-time 3 -o "$CK_TMP/tresp" -w '%{http_code}' --cacert "$PKI/ca.pem" -X "$method")
	[ -n "$cert" ] && args+=(--cert "$PKI/$cert.pem" --key "$PKI/$cert-key.pem")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	local code
	: > "$CK_TMP/tresp"
	code=$(ip netns exec $B curl "${args[@]}" "https://10.99.8.1:7443$path" 2>/dev/null) || true
	printf '%s %s\n' "${code:-000}" "$(tr -d '\n' < "$CK_TMP/tresp")"
}
field() { ckagt_json "$2" <<<"${1#* }"; }
pings() { ip netns exec $B ping -c 1 -W 1 -q 10.99.8.1 >/dev/null 2>&1; }
no_ping() { ! ip netns exec $B ping -c 2 -W 1 -q 10.99.8.1 >/dev/null 2>&1; }
udp_echo() { # a small UDP exchange B -> A, answered by a python echo in A
	ip netns exec $B python3 -c 'import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(1)
s.sendto(b"ping",("10.99.8.1",9999))
try: sys.exit(0 if s.recvfrom(64)[0]==b"ping" else 1)
except OSError: sys.exit(1)'
}
ip netns exec $A python3 -c 'import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("10.99.8.1",9999))
while True:
    d,a=s.recvfrom(64); s.sendto(d,a)' &
ck_on_exit "kill $!"
BEFORE=$(ck_kernel_state $A)

# --- client certificates ------------------------------------------------------------------
r=$(tls_req "" GET /v1/info)
ck_expect_eq "no client certificate: 403" 403 "${r%% *}"
ck_expect_eq "no client certificate: reason" client_certificate_required "$(field "$r" error.reason)"
r=$(tls_req intruder POST /v1/faults '{"kind":"blackhole","duration":"5s"}')
ck_expect_eq "certificate from another CA: 403" 403 "${r%% *}"
ck_expect_eq "certificate from another CA: reason" client_certificate_invalid "$(field "$r" error.reason)"
r=$(tls_req client GET /v1/info)
ck_expect_eq "good certificate: 200" 200 "${r%% *}"
ck_expect_eq "info shows the control port" "[7443]" "$(field "$r" control_ports)"
r=$(ckagt_req "$SOCK" GET /v1/faults)
ck_expect_eq "refused requests applied nothing" '[]' "$(ckagt_json faults <<<"${r#* }")"

# --- blackhole with the control path exempt -------------------------------------------------
ck_check "ping before the fault" pings
ck_check "UDP before the fault" udp_echo
r=$(tls_req client POST /v1/faults '{"kind":"blackhole","duration":"30s","lease":{"id":"tls-run","ttl":"20s"}}')
ck_expect_eq "blackhole over TLS: 201" 201 "${r%% *}"
ID=$(field "$r" id)
ck_check "blackhole: ping dropped" no_ping
no_udp() { ! udp_echo; }
ck_check "blackhole: UDP dropped" no_udp
r=$(tls_req client GET /v1/faults/$ID)
ck_expect_eq "blackhole: the TLS port still answers" 200 "${r%% *}"
ck_check "blackhole: it counted drops" test "$(field "$r" stats.packets_dropped)" -ge 2
r=$(tls_req client POST /v1/leases/tls-run)
ck_expect_eq "blackhole: lease renewal over TLS" 200 "${r%% *}"
t0=$(ckagt_now_ms)
r=$(tls_req client DELETE /v1/faults/$ID)
ck_log "revert latency over TLS (new TLS connection each): $(( $(ckagt_now_ms) - t0 )) ms"
ck_expect_eq "blackhole: reverted over TLS" reverted "$(field "$r" state)"
ck_check "after revert: ping" pings
ck_check "after revert: UDP" udp_echo
ck_check "after revert: kernel state as before" ckagt_same_state $A "$BEFORE"

# --- blackout: the control port is cut too; the deadline alone ends it ------------------------
r=$(ckagt_req "$SOCK" POST /v1/faults '{"kind":"blackhole","duration":"6s","params":{"blackout":true}}')
ck_expect_eq "blackout applied (unix socket)" 201 "${r%% *}"
ID=$(ckagt_json id <<<"${r#* }")
deadline=$(ckagt_json expires_at <<<"${r#* }")
ck_check "blackout: ping dropped" no_ping
r=$(tls_req client GET /v1/info)
ck_expect_eq "blackout: the TLS port does not answer" 000 "${r%% *}"
back() { [ "$(tls_req client GET /v1/faults/$ID | cut -d' ' -f1)" = 200 ]; }
ck_check "blackout: the TLS port answers again after the deadline" ck_wait_for 10 back
r=$(tls_req client GET /v1/faults/$ID)
ck_expect_eq "blackout: ended by its deadline" expired "$(field "$r" state)"
ck_log "blackout deadline $deadline, reverted_at $(field "$r" reverted_at)"
ck_check "after blackout: ping" pings
ck_check "after blackout: kernel state as before" ckagt_same_state $A "$BEFORE"

# A client that sends only the first bytes of a TLS record and then waits must cost the
# agent nothing (libmicrohttpd 0.9.75 on epoll spun on such a connection: a cheap DoS).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$CKAGT_PID/stat"; }
before_ticks=$(cpu_ticks)
ip netns exec $B python3 -c '
import socket, time
s = socket.create_connection(("10.99.8.1", 7443))
s.sendall(b"\x16\x03\x01\x00\xc8\x01")
time.sleep(3)
'
spent=$(( $(cpu_ticks) - before_ticks ))
ck_log "agent CPU while a partial TLS record waited 3 s: $spent ticks (100 per second)"
ck_check "a partial TLS record does not make the agent spin (< 30 ticks in 3 s)" test "$spent" -lt 30

kill -TERM $CKAGT_PID
ckagt_wait_exit $CKAGT_PID
ck_expect_eq "clean stop" 0 "$CKAGT_RC"
ck_finish
