#!/usr/bin/env bash
# link-down through a real chaos-agent in namespace A: traffic over v0 stops (both
# directions, both families, also through the default routes), and after DELETE, after
# the deadline and after kill -9 of the agent + restart (journal recovery) the link is up
# with exactly the addresses, routes (all tables, v4 and v6, multipath, via link-local)
# and alias it had: compared as `ip -d link`, `ip addr`, `ip route show table all` and
# their -j views. Also the refusals (lo, unknown or already-down interface).
. "$CK_TESTS_LIB"
. "$CK_SOURCE_DIR/tests/agent/agent_lib.sh"
ck_init ckt-link-d
. "$CK_SOURCE_DIR/tests/faults/link-lib.sh"
lk_require
lk_setup

lk_agent "$CK_TMP/agent.log" "$(ckagt_no_guardian_cfg)"
ck_check "the agent lists link-down and link-flap" \
	grep -q '"link-flap"' <(ckagt_req "$LK_SOCK" GET /v1/info | grep '"link-down"')

# --- apply, DELETE ---------------------------------------------------------------------------
lk_apply link-down 2m '{"interfaces": ["v0"]}'
ck_expect_eq "apply: 201" 201 "$LK_CODE"
ck_expect_eq "apply: stats.backend" netlink "$(ckagt_json stats.backend <<<"$LK_BODY")"
ck_expect_eq "apply: stats.state" down "$(ckagt_json stats.state <<<"$LK_BODY")"
ck_expect_eq "apply: stats.transitions" 1 "$(ckagt_json stats.transitions <<<"$LK_BODY")"
ck_check "apply: v0 is administratively down" lk_admin_down
ck_check "apply: v0 carries the marker alias" grep -q "alias chaoskit:$LK_ID" <(ip -n "$LK_A" -d link show dev v0)
ck_check "apply: no traffic over v0 (v4, v6, default routes, both ways)" lk_cut
ck_check "apply: the kernel dropped the default routes" \
	bash -c "! ip -n $LK_A route show default | grep -q . && ! ip -n $LK_A -6 route show default | grep -q ."
ck_check "apply: the kernel dropped the IPv6 global address" \
	bash -c "! ip -n $LK_A -6 addr show dev v0 | grep -q fd97::1"
J="$LK_STATE/journal/$LK_ID.json"
ck_check "apply: the journal record holds the IPv6 address" grep -q '"address":"fd97::1\\/64"' "$J"
ck_check "apply: the journal record holds the default route" grep -q '"route":"default via 10.97.0.2 table 254' "$J"
ck_check "apply: the journal record holds the saved alias" grep -q '"alias":"uplink to b"' "$J"
ck_check "apply: the state file exists" test -f "$LK_STATE/links/$LK_ID.json"
t0=$(ckagt_now_ms)
r=$(ckagt_req "$LK_SOCK" DELETE "/v1/faults/$LK_ID")
ck_expect_eq "delete: 200" 200 "${r%% *}"
ck_check "delete: v0 is up" lk_admin_up
ck_check "delete: routes, addresses, alias exactly as before" lk_settles 5
ck_log "delete: state settled $(( $(ckagt_now_ms) - t0 )) ms after DELETE (includes polling)"
ck_check "delete: traffic flows (v4, v6, default routes, both ways)" ck_wait_for 5 lk_flows
ck_check "delete: no journal entry or state file left" lk_journal_empty

# --- the deadline ----------------------------------------------------------------------------
lk_apply link-down 1s '{"interfaces": ["v0"]}'
ck_expect_eq "deadline: 201" 201 "$LK_CODE"
ck_check "deadline: v0 is down" lk_admin_down
ck_check "deadline: v0 comes back by itself" ck_wait_for 5 lk_admin_up
ck_check "deadline: routes, addresses, alias exactly as before" lk_settles 5
ck_check "deadline: traffic flows" ck_wait_for 5 lk_flows
ck_check "deadline: no journal entry or state file left" lk_journal_empty

# --- refusals ----------------------------------------------------------------------------------
lk_apply link-down 1m '{"interfaces": ["lo"]}'
ck_expect_eq "lo: refused as a bad request" 400 "$LK_CODE"
ck_check "lo: says why" grep -q 'loopback' <<<"$LK_BODY"
lk_apply link-down 1m '{}'
ck_expect_eq "no interfaces: 400" 400 "$LK_CODE"
lk_apply link-down 1m '{"interfaces": ["v0", "nope0"]}'
ck_check "unknown interface: refused" test "$LK_CODE" -ge 400
ck_check "unknown interface: names it" grep -q 'no interface \\"nope0\\"' <<<"$LK_BODY"
ck_check "unknown interface: nothing changed (all or nothing)" lk_same_state
ip -n "$LK_A" link add w0 type veth peer name w1
lk_apply link-down 1m '{"interfaces": ["v0", "w0"]}'
ck_check "already down: refused" test "$LK_CODE" -ge 400
ck_check "already down: says so" grep -q 'already down' <<<"$LK_BODY"
ip -n "$LK_A" link del w0
ck_check "already down: nothing changed (all or nothing)" lk_same_state

# --- kill -9 of the agent while v0 is down; restart on the same state dir ---------------------
lk_apply link-down 2m '{"interfaces": ["v0"]}'
ck_expect_eq "crash: 201" 201 "$LK_CODE"
kill -9 "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
sleep 0.5
ck_check "crash: v0 stays down while no agent runs (guardian off)" lk_admin_down
ck_check "crash: the journal entry is there" test -f "$LK_STATE/journal/$LK_ID.json"
lk_agent "$CK_TMP/agent.log.2" "$(ckagt_no_guardian_cfg)"
ck_check "crash: recovery logged" grep -q "journal: recovered $LK_ID" "$CK_TMP/agent.log.2"
ck_check "crash: v0 is up after the restart" lk_admin_up
ck_check "crash: routes (default v4 and v6), addresses, alias exactly as before" lk_settles 5
ck_check "crash: traffic flows" ck_wait_for 5 lk_flows
ck_check "crash: no journal entry or state file left" lk_journal_empty

# --- the guardian (if this agent has one): recover() from another process, no restart ------------
if ckagt_has_guardian; then
	kill -TERM "$CKAGT_PID"; ckagt_wait_exit "$CKAGT_PID"
	lk_agent "$CK_TMP/agent.log.3"
	lk_apply link-down 2m '{"interfaces": ["v0"]}'
	ck_expect_eq "guardian: 201" 201 "$LK_CODE"
	kill -9 "$CKAGT_PID"
	ckagt_wait_exit "$CKAGT_PID"
	ck_check "guardian: v0 up without a restart" ck_wait_for 5 lk_admin_up
	ck_check "guardian: routes, addresses, alias exactly as before" lk_settles 5
	ck_check "guardian: traffic flows" ck_wait_for 5 lk_flows
	lk_agent "$CK_TMP/agent.log.4"
else
	ck_log "this agent has no guardian: skipping the guardian case"
fi

# --- SIGTERM of the agent reverts --------------------------------------------------------------
lk_apply link-down 2m '{"interfaces": ["v0"]}'
ck_check "stop: v0 down" lk_admin_down
kill -TERM "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
ck_expect_eq "stop: the agent exits 0" 0 "$CKAGT_RC"
ck_check "stop: routes, addresses, alias exactly as before" lk_settles 5
ck_check "stop: no journal entry or state file left" lk_journal_empty

# Control: the comparison does see what a bare down/up (no chaoskit) loses.
ip -n "$LK_A" link set v0 down; ip -n "$LK_A" link set v0 up
sleep 0.5
ck_check "control: a bare down/up loses the default route and the comparison says so" \
	bash -c "! ip -n $LK_A route show default | grep -q . && ! lk_same_state 2>/dev/null"
ck_finish
