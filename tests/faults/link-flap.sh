#!/usr/bin/env bash
# link-flap through a real chaos-agent in namespace A: `ip monitor link` sees v0 go down
# and up again at least twice, the fault's stats count the transitions, traffic flows in
# the up phases (the default routes are restored after every up), and after the deadline,
# and after a DELETE in the middle of a cycle, v0 is up with exactly the addresses,
# routes and alias it had.
. "$CK_TESTS_LIB"
. "$CK_SOURCE_DIR/tests/agent/agent_lib.sh"
ck_init ckt-link-f
. "$CK_SOURCE_DIR/tests/faults/link-lib.sh"
lk_require
lk_setup
lk_agent "$CK_TMP/agent.log"

# Admin state changes of v0 as ip monitor reports them: "down" / "up", one per change.
transitions() {
	python3 -c 'import re,sys
last = None
for line in open(sys.argv[1]):
    m = re.match(r"\d+: v0[@:].*<([^>]*)>", line)
    if not m: continue
    state = "up" if "UP" in m.group(1).split(",") else "down"
    if state != last: print(state); last = state' "$1"
}

MON="$CK_TMP/monitor"
ip -n "$LK_A" monitor link >"$MON" 2>&1 &
MON_PID=$!
ck_on_exit "kill $MON_PID"
sleep 0.3
t0=$(ckagt_now_ms)
lk_apply link-flap 4s '{"interfaces": ["v0"], "down": "1s", "up": "700ms"}'
ck_expect_eq "apply: 201" 201 "$LK_CODE"
ck_expect_eq "apply: starts down" down "$(ckagt_json stats.state <<<"$LK_BODY")"
ck_check "apply: v0 is down at once" lk_admin_down
# In the first up phase (1 s .. 1.7 s after apply) the default routes are back.
ck_check "flap: an up phase comes" ck_wait_for 3 lk_admin_up
ck_check "flap: traffic through the default route in an up phase" ck_wait_for 1 lk_ping "$LK_A" 10.55.0.1
sleep 1
mid=$(lk_get)
ck_check "flap: stats count at least 3 transitions after ~2 s ($(ckagt_json stats.transitions <<<"$mid"))" \
	test "$(ckagt_json stats.transitions <<<"$mid")" -ge 3
ck_check "deadline: the fault ends" ck_wait_for 6 lk_journal_empty
ck_log "deadline: ended $(( $(ckagt_now_ms) - t0 )) ms after apply (4 s asked)"
ck_check "deadline: v0 is up" lk_admin_up
ck_check "deadline: routes, addresses, alias exactly as before" lk_settles 5
ck_check "deadline: traffic flows" ck_wait_for 5 lk_flows
sleep 0.3
kill "$MON_PID" 2>/dev/null || true
seen=$(transitions "$MON" | tr '\n' ' ')
ck_log "ip monitor saw: $seen"
ck_check "monitor: at least 2 downs" test "$(grep -o down <<<"$seen" | wc -l)" -ge 2
ck_check "monitor: at least 2 ups after a down" test "$(grep -o up <<<"$seen" | wc -l)" -ge 2
ck_expect_eq "monitor: the last state is up" up "$(transitions "$MON" | tail -1)"

# DELETE in the middle of a down phase: the thread is joined, v0 comes back as it was.
lk_apply link-flap 1m '{"interfaces": ["v0"], "down": "5s", "up": "5s"}'
ck_expect_eq "delete: 201" 201 "$LK_CODE"
sleep 0.3
r=$(ckagt_req "$LK_SOCK" DELETE "/v1/faults/$LK_ID")
ck_expect_eq "delete: 200 at once (the thread does not wait out its 5 s phase)" 200 "${r%% *}"
ck_check "delete: v0 is up" lk_admin_up
ck_check "delete: routes, addresses, alias exactly as before" lk_settles 5
ck_check "delete: no journal entry or state file left" lk_journal_empty

# Parameter errors come back from the agent by key.
lk_apply link-flap 1m '{"interfaces": ["v0"], "down": "10ms"}'
ck_expect_eq "params: a 10ms phase is refused" 400 "$LK_CODE"
ck_check "params: the error names the key" grep -q '"down"' <<<"$LK_BODY"
ck_finish
