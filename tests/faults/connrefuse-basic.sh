#!/usr/bin/env bash
# connection-refused through a real agent: a victim process in cgroup ckt-cg-victim
# gets ECONNREFUSED (or the errno asked for) at once for matched destinations, no SYN
# reaches the peer; a process outside the cgroup and unmatched ports connect; DELETE
# and kill -9 of the agent restore connects at once; scope is required and the root
# cgroup refused.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-cg
. "$CK_SOURCE_DIR/tests/faults/scope-lib.sh"
sc_require
sc_setup
sc_tcp_listen - $B 7001
sc_tcp_listen - $B 7002
sleep 0.3
sc_agent $A

PARAMS='{"match":{"dst":["10.99.0.2/32","fd99::2/128"],"dst_ports":[7001]},"scope":{"cgroup":"ckt-cg-victim"}}'
links() { "$CK_BPFTOOL" cgroup show "$VICTIM" 2>/dev/null | grep -c connect || true; }
no_links() { [ "$(links)" = 0 ]; }

sc_expect_connect "no fault: the victim connects" ok "$VICTIM" $A 10.99.0.2 7001
ck_check "the agent lists connection-refused as supported" \
	grep -q '"name": *"connection-refused", *"family": *"cgroup"[^}]*"supported": *true' <(ckagt_req "$SC_SOCK" GET /v1/info)

sc_apply connection-refused "$PARAMS" || ck_die "connection-refused refused: $SC_RESP"
ck_expect_eq "apply: backend" cgroup-bpf "$(sc_stat backend)"
ck_expect_eq "apply: connect4 and connect6 links on the cgroup" 2 "$(links)"
before=$(sc_accepted 7001)
for addr in 10.99.0.2 fd99::2; do
	read -r r ms <<<"$(sc_tcp_connect "$VICTIM" $A $addr 7001)"
	ck_log "victim -> $addr:7001: $r after $ms ms"
	ck_expect_eq "victim -> $addr:7001 refused" ECONNREFUSED "$r"
	ck_check "victim -> $addr:7001 fails at once ($ms ms < 50)" test "$ms" -lt 50
done
ck_expect_eq "no connection reached the peer's listener" "$before" "$(sc_accepted 7001)"
ck_expect_eq "connections_refused" 2 "$(sc_stat connections_refused)"
sc_expect_connect "victim -> unmatched port 7002 connects" ok "$VICTIM" $A 10.99.0.2 7002
sc_expect_connect "a process outside the cgroup connects to 7001" ok - $A 10.99.0.2 7001
ck_expect_eq "its connection reached the listener" $((before + 1)) "$(sc_accepted 7001)"
# A UDP connect is not refused by a tcp fault.
udp_connect() {
	sc_run "$1" $A python3 -c 'import errno,socket,sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$2" "$3"
}
ck_expect_eq "tcp fault: the victim's UDP connect works" ok "$(udp_connect "$VICTIM" 10.99.0.2 7001)"
sc_revert
ck_expect_eq "revert: no link left on the cgroup" 0 "$(links)"
sc_expect_connect "revert: the victim connects again" ok "$VICTIM" $A 10.99.0.2 7001

# errno EPERM (what the kernel gives without bpf_set_retval), protocol udp, unit scope.
sc_apply connection-refused '{"errno":"EPERM","match":{"protocol":"udp","dst":["10.99.0.0/24"]},"scope":{"unit":"ckt-cg-victim"}}' ||
	ck_die "udp connection-refused refused: $SC_RESP"
ck_expect_eq "udp: the victim's UDP connect fails with EPERM" EPERM "$(udp_connect "$VICTIM" 10.99.0.2 53)"
ck_expect_eq "udp: a bystander's UDP connect works" ok "$(udp_connect - 10.99.0.2 53)"
sc_expect_connect "udp fault: the victim's TCP connect works" ok "$VICTIM" $A 10.99.0.2 7001
sc_revert

# kill -9 of the agent: the links go with it, connects work at once.
sc_apply connection-refused "$PARAMS" || ck_die "connection-refused refused: $SC_RESP"
sc_expect_connect "before kill -9: refused" ECONNREFUSED "$VICTIM" $A 10.99.0.2 7001
kill -9 "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
t0=$(ckagt_now_ms)
ck_check "kill -9: the links are gone within 2 s" ck_wait_for 2 no_links
ck_log "links gone $(( $(ckagt_now_ms) - t0 )) ms after the agent exited"
sc_expect_connect "kill -9: the victim connects at once" ok "$VICTIM" $A 10.99.0.2 7001

# Parameter and scope checks (a fresh agent).
rm -f "$SC_SOCK"
sc_agent $A
sc_apply connection-refused '{"match":{"dst_ports":[80]}}' && ck_die "connection-refused without scope applied"
ck_check "no scope: refused naming scope" grep -q '"key":"scope"' <<<"$SC_RESP"
ck_log "no scope: $SC_RESP"
sc_apply connection-refused '{"scope":{"cgroup":"/"}}' && ck_die "connection-refused on the root cgroup applied"
ck_check "root cgroup: refused naming scope" grep -q '"key":"scope"' <<<"$SC_RESP"
ck_log "root cgroup: $SC_RESP"
ck_finish
