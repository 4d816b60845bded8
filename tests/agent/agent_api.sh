#!/usr/bin/env bash
# chaos-agent over its unix socket: apply/list/get/revert/halt, deadlines, leases,
# bad requests (4xx, nothing changes), 413, non-root peers, metrics, SIGTERM.
source "$CK_TESTS_LIB"
source "$(dirname "$0")/agent_lib.sh"
ck_require_root
ck_require_tools curl ping
[ -x "$CK_AGENT" ] || ck_skip "chaos-agent is not built"
ck_init ckt-agt-api

A=ckt-agt-api-a B=ckt-agt-api-b
ck_netns $A; ck_netns $B
ckagt_link $A 10.99.7.1/24 $B 10.99.7.2/24
SOCK=$CK_TMP/run/agent.sock
STATE=$CK_TMP/state
ckagt_config "$CK_TMP/agent.cfg" api-host "$SOCK" "$STATE"
ckagt_start $A "$CK_TMP/agent.cfg" "$CK_TMP/agent.log"
AGENT=$CKAGT_PID

req() { ckagt_req "$SOCK" "$@"; }
status_of() { cut -d' ' -f1 <<<"$1"; }
body_of() { cut -d' ' -f2- <<<"$1"; }
field() { body_of "$1" | ckagt_json "$2"; }
pings() { ip netns exec $B ping -c 1 -W 1 -q 10.99.7.1 >/dev/null 2>&1; }
journal_n() { find "$STATE/journal" -name '*.json' | wc -l; }
n_active() { body_of "$(req GET /v1/faults)" | ckagt_json faults | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

BEFORE=$(ck_kernel_state $A)
same_kernel_state() { ckagt_same_state $A "$BEFORE"; }

# --- info ---------------------------------------------------------------------
r=$(req GET /v1/info)
ck_expect_eq "info answers 200" 200 "$(status_of "$r")"
ck_expect_eq "info has the name" api-host "$(field "$r" name)"
ck_expect_eq "info has labels" dc1 "$(field "$r" labels.dc)"
ck_expect_eq "info lists blackhole" blackhole "$(body_of "$r" | python3 -c 'import json,sys; print([k["name"] for k in json.load(sys.stdin)["kinds"] if k["name"]=="blackhole"][0])')"
kind_field() { # KIND FIELD: a field of one kind in /v1/info
	body_of "$r" | python3 -c 'import json,sys
k=[k for k in json.load(sys.stdin)["kinds"] if k["name"]==sys.argv[1]][0]
v=k.get(sys.argv[2]); print(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v)' "$1" "$2"
}
# The backend a kind would use here (tcx: Linux >= 6.6; the delay line where netem is missing).
packet_backend=$(kind_field blackhole backend)
ck_check "info: blackhole names its tc backend ($packet_backend)" grep -qxE 'tcx|clsact' <<<"$packet_backend"
delay_backend=$(kind_field delay backend)
ck_check "info: delay names its backend ($delay_backend)" grep -qxE 'netem|delay-line' <<<"$delay_backend"
ck_check "info: delay says why each backend can or cannot be used" \
	grep -q '"delay-line"' <<<"$(kind_field delay backends)"
# Asked on lo of the test's own namespace, never the root namespace's.
if ! tc -n $A qdisc add dev lo root netem delay 1ms 2>/dev/null; then
	ck_expect_eq "info: no sch_netem here, so delay uses the delay line" delay-line "$delay_backend"
else
	tc -n $A qdisc del dev lo root 2>/dev/null
fi
ck_check "the socket is 0600" test "$(stat -c %a "$SOCK")" = 600
ck_check "the socket directory is 0700" test "$(stat -c %a "$CK_TMP/run")" = 700

# --- bad requests: 4xx with a reason, nothing changes -------------------------------
bad() { # what status reason [key] method path body
	local what=$1 status=$2 reason=$3 key=$4; shift 4
	local r; r=$(req "$@")
	ck_expect_eq "$what: status" "$status" "$(status_of "$r")"
	ck_expect_eq "$what: reason" "$reason" "$(field "$r" error.reason)"
	[ -z "$key" ] || ck_expect_eq "$what: key" "$key" "$(field "$r" error.key)"
}
bad "unknown key" 400 unknown_key colour POST /v1/faults '{"kind":"blackhole","duration":"5s","colour":"red"}'
bad "missing duration" 400 invalid_duration duration POST /v1/faults '{"kind":"blackhole"}'
bad "bad duration" 400 invalid_duration duration POST /v1/faults '{"kind":"blackhole","duration":"5 seconds"}'
bad "too long" 400 invalid_duration duration POST /v1/faults '{"kind":"blackhole","duration":"11m"}'
bad "bad kind" 400 unknown_kind kind POST /v1/faults '{"kind":"meteor","duration":"5s"}'
bad "bad params" 400 invalid_params probability POST /v1/faults '{"kind":"packet-loss","duration":"5s","params":{"probability":2}}'
bad "unknown param" 400 invalid_params "" POST /v1/faults '{"kind":"blackhole","duration":"5s","params":{"probabilty":1}}'
bad "bad lease" 400 invalid_lease lease.ttl POST /v1/faults '{"kind":"blackhole","duration":"5s","lease":{"id":"x","ttl":"never"}}'
bad "broken JSON" 400 bad_request "" POST /v1/faults '{"kind":"blackhole",'
bad "no such fault" 404 no_such_fault "" DELETE /v1/faults/f-00000000
bad "no such lease" 404 no_such_lease "" POST /v1/leases/nobody
bad "no such path" 404 not_found "" GET /v2/faults
bad "wrong method" 405 method_not_allowed "" PUT /v1/faults '{}'
bad "halt with a body" 400 bad_request "" POST /v1/halt '{"force":true}'
python3 -c 'print("{\"kind\":\"blackhole\",\"duration\":\"5s\",\"pad\":\"" + "x"*70000 + "\"}")' > "$CK_TMP/big.json"
r=$(req POST /v1/faults "@$CK_TMP/big.json")
ck_expect_eq "body over 64 KiB: 413" 413 "$(status_of "$r")"
ck_expect_eq "body over 64 KiB: reason" body_too_large "$(field "$r" error.reason)"
code=$(curl -s -o "$CK_TMP/chunked" -w '%{http_code}' --unix-socket "$SOCK" -H 'Transfer-Encoding: chunked' \
	--data-binary "@$CK_TMP/big.json" http://agent/v1/faults || true)
ck_expect_eq "chunked body over 64 KiB: 413" 413 "$code"
ck_expect_eq "bad requests applied nothing" 0 "$(n_active)"
ck_expect_eq "bad requests journaled nothing" 0 "$(journal_n)"
ck_check "bad requests left the kernel as it was" same_kernel_state
ck_check "agent survived the bad requests" kill -0 $AGENT

# --- apply / get / list / revert ----------------------------------------------------------
ck_check "traffic flows before the fault" pings
t0=$(ckagt_now_ms)
r=$(req POST /v1/faults '{"kind":"blackhole","duration":"30s","params":{"direction":"ingress","interfaces":["eth0"]}}')
t1=$(ckagt_now_ms)
ck_expect_eq "apply: 201" 201 "$(status_of "$r")"
ID=$(field "$r" id)
ck_check "apply: id looks like f-<hex> ($ID)" grep -Eq '^f-[0-9a-f]{6,16}$' <<<"$ID"
ck_expect_eq "apply: state" active "$(field "$r" state)"
ck_expect_eq "apply: params are normalised" '["eth0"]' "$(field "$r" params.interfaces)"
ck_log "apply latency through the API: $((t1 - t0)) ms"
ck_check "the fault is journaled" test -f "$STATE/journal/$ID.json"
ck_check "blackhole drops traffic" bash -c "! ip netns exec $B ping -c 2 -W 1 -q 10.99.7.1 >/dev/null 2>&1"
ck_expect_eq "list shows it" 1 "$(n_active)"
r=$(req GET /v1/faults/$ID)
ck_expect_eq "get: state" active "$(field "$r" state)"
ck_check "get: stats count dropped packets" test "$(field "$r" stats.packets_dropped)" -ge 1
req GET /metrics >/dev/null
ck_check "metrics: per-fault counter" grep -q "^chaoskit_fault_packets_dropped_total{id=\"$ID\",kind=\"blackhole\"} [1-9]" "$CK_TMP/resp"
t0=$(ckagt_now_ms)
r=$(req DELETE /v1/faults/$ID)
t1=$(ckagt_now_ms)
ck_log "revert latency through the API: $((t1 - t0)) ms"
ck_expect_eq "delete: 200" 200 "$(status_of "$r")"
ck_expect_eq "delete: state reverted" reverted "$(field "$r" state)"
ck_check "delete: traffic flows again" pings
ck_check "delete: kernel state as before" same_kernel_state
ck_expect_eq "delete: journal entry removed" 0 "$(journal_n)"
ck_expect_eq "get after delete: still visible" reverted "$(field "$(req GET /v1/faults/$ID)" state)"

# --- halt ---------------------------------------------------------------------------------
req POST /v1/faults '{"kind":"blackhole","duration":"30s","params":{"match":{"protocol":"udp"}}}' >/dev/null
req POST /v1/faults '{"kind":"packet-loss","duration":"30s","params":{"probability":0.5,"direction":"egress"}}' >/dev/null
ck_expect_eq "two faults active" 2 "$(n_active)"
r=$(req POST /v1/halt)
ck_expect_eq "halt: 200" 200 "$(status_of "$r")"
ck_expect_eq "halt: reverted 2" 2 "$(field "$r" reverted)"
ck_expect_eq "halt: none active" 0 "$(n_active)"
ck_check "halt: kernel state as before" same_kernel_state

# --- deadline -----------------------------------------------------------------------------
r=$(req POST /v1/faults '{"kind":"blackhole","duration":"1500ms","params":{"direction":"ingress"}}')
ID=$(field "$r" id)
deadline_ms=$(python3 -c 'import sys,datetime; print(int(datetime.datetime.strptime(sys.argv[1],"%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()*1000))' "$(field "$r" expires_at)")
ck_check "deadline: drops while active" bash -c "! ip netns exec $B ping -c 1 -W 1 -q 10.99.7.1 >/dev/null 2>&1"
expired() { [ "$(field "$(req GET /v1/faults/$ID)" state)" = expired ]; }
ck_check "deadline: fault expired within 5 s" ck_wait_for 5 expired
seen=$(ckagt_now_ms)
ck_log "deadline to observed expiry (50 ms polling): $((seen - deadline_ms)) ms"
ck_check "deadline: revert logged with its lateness" grep -q "$ID: reverted (expired)" "$CK_TMP/agent.log"
grep "$ID: reverted (expired)" "$CK_TMP/agent.log" | sed 's/^/# /'
ck_check "deadline: traffic flows again" pings
ck_check "deadline: kernel state as before" same_kernel_state
ck_expect_eq "deadline: journal empty" 0 "$(journal_n)"

# --- leases -------------------------------------------------------------------------------
r=$(req POST /v1/faults '{"kind":"blackhole","duration":"30s","params":{"match":{"protocol":"udp"}},"lease":{"id":"kept","ttl":"2s"}}')
KEPT=$(field "$r" id)
r=$(req POST /v1/faults '{"kind":"blackhole","duration":"30s","params":{"match":{"protocol":"tcp"}},"lease":{"id":"lost","ttl":"1s"}}')
LOST=$(field "$r" id)
for i in 1 2 3 4 5 6 7 8; do
	r=$(req POST /v1/leases/kept)
	sleep 0.3
done
# checks take time (curl, python): give the kept lease room before looking around
r2=$(req POST /v1/leases/kept '{"ttl":"5s"}')
ck_expect_eq "lease renewal answers 200" 200 "$(status_of "$r")"
ck_expect_eq "lease renewal counts faults" 1 "$(field "$r" faults)"
ck_expect_eq "lease ttl can be changed" 200 "$(status_of "$r2")"
ck_expect_eq "lease: fault shows its lease" kept "$(field "$(req GET /v1/faults/$KEPT)" lease.id)"
ck_expect_eq "lease renewed: fault still active after 2.4 s" active "$(field "$(req GET /v1/faults/$KEPT)" state)"
ck_expect_eq "lease not renewed: fault reverted" lease_lost "$(field "$(req GET /v1/faults/$LOST)" state)"
ck_expect_eq "expired lease: 404" 404 "$(status_of "$(req POST /v1/leases/lost)")"
req POST /v1/leases/kept '{"ttl":"500ms"}' >/dev/null
lost_kept() { [ "$(field "$(req GET /v1/faults/$KEPT)" state)" = lease_lost ]; }
ck_check "lease: reverted once renewals stop" ck_wait_for 4 lost_kept
ck_check "lease: kernel state as before" same_kernel_state

# --- metrics ------------------------------------------------------------------------------
req GET /metrics >/dev/null
m=$(cat "$CK_TMP/resp")
ck_check "metrics: applied_total" grep -q '^chaoskit_faults_applied_total 6$' <<<"$m"
ck_check "metrics: expired" grep -q '^chaoskit_faults_reverted_total{reason="expired"} 1$' <<<"$m"
ck_check "metrics: lease_lost" grep -q '^chaoskit_faults_reverted_total{reason="lease_lost"} 2$' <<<"$m"
ck_check "metrics: halted" grep -q '^chaoskit_faults_reverted_total{reason="halted"} 2$' <<<"$m"
ck_check "metrics: agent info" grep -q '^chaoskit_agent_info{version="[0-9.]*",name="api-host"} 1$' <<<"$m"

# --- non-root peers -----------------------------------------------------------------------
if id nobody >/dev/null 2>&1; then
	chmod 0755 "$CK_TMP" "$CK_TMP/run"; chmod 0666 "$SOCK"   # only the credential check stands in the way
	out=$(runuser -u nobody -- curl -s -w ' %{http_code}' --unix-socket "$SOCK" \
		-X POST -d '{"kind":"blackhole","duration":"5s"}' http://agent/v1/faults || true)
	ck_expect_eq "non-root peer: 403" 403 "${out##* }"
	ck_expect_eq "non-root peer: reason" peer_not_root "$(ckagt_json error.reason <<<"${out% *}")"
	ck_expect_eq "non-root peer: nothing applied" 0 "$(n_active)"
	chmod 0700 "$CK_TMP/run"; chmod 0600 "$SOCK"
else
	ck_log "no user nobody: non-root peer check skipped"
fi

# --- SIGTERM reverts everything -----------------------------------------------------------
req POST /v1/faults '{"kind":"blackhole","duration":"5m","params":{"direction":"ingress"}}' >/dev/null
req POST /v1/faults '{"kind":"packet-loss","duration":"5m","params":{"probability":0.3}}' >/dev/null
ck_expect_eq "two faults before SIGTERM" 2 "$(journal_n)"
kill -TERM $AGENT
ckagt_wait_exit $AGENT
ck_expect_eq "SIGTERM: exit 0" 0 "$CKAGT_RC"
ck_check "SIGTERM: kernel state as before" same_kernel_state
ck_expect_eq "SIGTERM: journal empty" 0 "$(journal_n)"
ck_check "SIGTERM: socket removed" test ! -e "$SOCK"
ck_check "SIGTERM: traffic flows" pings
ck_check "SIGTERM: logged the shutdown reverts" grep -q "shutdown: 2 fault(s) reverted" "$CK_TMP/agent.log"
ck_finish
