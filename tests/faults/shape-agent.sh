#!/usr/bin/env bash
# The shaping kinds through chaos-agent: /v1/info names the backend each would
# use and why the other is out; a delay applied over the API delays, shows its
# backend in GET /v1/faults/ID, and leaves nothing behind after DELETE and
# after kill -9 of the agent.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-dl5
. "$CK_SOURCE_DIR/tests/faults/delayline-lib.sh"
. "$CK_SOURCE_DIR/tests/agent/agent_lib.sh"
ck_require_tools curl
[ -x "$CK_AGENT" ] || ck_skip "chaos-agent is not built"
dl_require
dl_echo "$PK_B" 6000

SOCK=$CK_TMP/agent.sock
ckagt_config "$CK_TMP/agent.cfg" "$CK_PREFIX" "$SOCK" "$CK_TMP/state"
ckagt_start "$PK_B" "$CK_TMP/agent.cfg" "$CK_TMP/agent.log"

rtt_p50() { dl_udp "$PK_A" 10.99.0.2 6000 20 5; dl_get rtt.p50; }
undelayed() { dl_between 0 20 "$(rtt_p50)"; }
no_taps() { [ -z "$(dl_taps "$PK_B")" ]; }
ck_wait_for 5 undelayed || ck_die "no undelayed echo before any fault"
BEFORE=$(ck_kernel_state "$PK_B")

info=$(ckagt_req "$SOCK" GET /v1/info)
kind_field() { ckagt_json kinds <<<"${info#* }" | python3 -c 'import json,sys
k = [k for k in json.load(sys.stdin) if k["name"] == sys.argv[1]][0]
v = k
for p in sys.argv[2].split("."): v = v[p]
print(v)' "$1" "$2"; }
for kind in delay reorder bandwidth; do
	ck_expect_eq "info: $kind is supported" True "$(kind_field $kind supported)"
	ck_expect_eq "info: $kind family" shape "$(kind_field $kind family)"
	ck_expect_eq "info: the delay line works here for $kind" ok "$(kind_field $kind backends.delay-line)"
done
for kind in delay reorder bandwidth; do
	chosen=$(kind_field $kind backend)
	netem=$(kind_field $kind backends.netem)
	ck_log "info: $kind would use $chosen; netem: $netem"
	if [ "$netem" = ok ]; then
		ck_expect_eq "info: netem can do $kind, so auto picks it" netem "$chosen"
	else
		ck_expect_eq "info: without netem for $kind auto picks the delay line" delay-line "$chosen"
	fi
done

resp=$(ckagt_req "$SOCK" POST /v1/faults '{"kind": "delay", "duration": "1m", "params": {"latency": "100ms", "backend": "delay-line"}}')
ck_expect_eq "POST delay: 201" 201 "${resp%% *}"
id=$(ckagt_json id <<<"${resp#* }")
rtt=$(rtt_p50)
ck_check "delay over the API: RTT $rtt within [200, 210]" dl_between 200 210 "$rtt"
status=$(ckagt_req "$SOCK" GET "/v1/faults/$id")
ck_expect_eq "GET: stats.backend" delay-line "$(ckagt_json stats.backend <<<"${status#* }")"
ck_check "GET: packets_delayed counted" test "$(ckagt_json stats.packets_delayed <<<"${status#* }")" -ge 40
resp=$(ckagt_req "$SOCK" DELETE "/v1/faults/$id")
ck_check "DELETE: 2xx (${resp%% *})" test "${resp:0:1}" = 2
ck_check "DELETE: no TAP left" no_taps
ck_check "DELETE: undelayed" undelayed
ck_check "DELETE: state equals before" ckagt_same_state "$PK_B" "$BEFORE"

resp=$(ckagt_req "$SOCK" POST /v1/faults '{"kind": "delay", "duration": "1m", "params": {"latency": "100ms"}}')
ck_expect_eq "POST delay (auto): 201" 201 "${resp%% *}"
{ kill -9 "$CKAGT_PID"; wait "$CKAGT_PID"; } 2>/dev/null || true
ck_wait_for 5 no_taps
ck_check "kill -9: no TAP left" no_taps
ck_check "kill -9: undelayed right after" undelayed
ck_wait_for 5 ckagt_same_state "$PK_B" "$BEFORE" || true
ck_check "kill -9: state equals before" ckagt_same_state "$PK_B" "$BEFORE"
ck_finish
