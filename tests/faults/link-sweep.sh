#!/usr/bin/env bash
# The link family's sweep at agent start, for links no journal entry names:
# 1. a crash after link-down wrote its state file but before the agent journaled the
#    record (simulated: kill -9, journal entry removed): the restarted agent's sweep
#    finds v0 by its "chaoskit:<id>" alias and restores everything from the state file;
# 2. a link marked by hand, no journal, no state file: the sweep brings it up and
#    clears the alias, and logs that the routes the kernel removed cannot be known.
. "$CK_TESTS_LIB"
. "$CK_SOURCE_DIR/tests/agent/agent_lib.sh"
ck_init ckt-link-s
. "$CK_SOURCE_DIR/tests/faults/link-lib.sh"
lk_require
lk_setup
NOG=$(ckagt_no_guardian_cfg)

# --- 1: state file, no journal entry ------------------------------------------------------
lk_agent "$CK_TMP/agent.log" "$NOG"
lk_apply link-down 2m '{"interfaces": ["v0"]}'
ck_expect_eq "crash: applied" 201 "$LK_CODE"
kill -9 "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
rm -f "$LK_STATE/journal/$LK_ID.json"
ck_check "crash: v0 down, no journal entry, the state file is there" \
	bash -c "! ip -n $LK_A -o link show dev v0 | grep -q '[<,]UP[,>]' && test -f '$LK_STATE/links/$LK_ID.json'"
lk_agent "$CK_TMP/agent.log.2" "$NOG"
ck_check "sweep: logged the link it restored from the state file" \
	grep -q "sweep: link v0 was down for fault $LK_ID; brought up, addresses and routes restored" "$CK_TMP/agent.log.2"
ck_check "sweep: v0 is up" lk_admin_up
ck_check "sweep: routes (default v4 and v6), addresses, alias exactly as before" lk_settles 5
ck_check "sweep: traffic flows" ck_wait_for 5 lk_flows
ck_check "sweep: the state file is gone" lk_journal_empty
kill -TERM "$CKAGT_PID"; ckagt_wait_exit "$CKAGT_PID"

# --- 2: only the marker -------------------------------------------------------------------
ip -n "$LK_A" link set v0 alias "chaoskit:f-0badc0de"
ip -n "$LK_A" link set v0 down
lk_agent "$CK_TMP/agent.log.3" "$NOG"
ck_check "marker only: v0 is up" lk_admin_up
ck_check "marker only: the alias is cleared" \
	bash -c "! ip -n $LK_A -d link show dev v0 | grep -q alias"
ck_check "marker only: the log says the routes are not restored" \
	grep -q "sweep: link v0 was left down by fault f-0badc0de.*NOT restored" "$CK_TMP/agent.log.3"
ck_check "marker only: the sweep counted it" grep -q "sweep: family link removed 1 leftover" "$CK_TMP/agent.log.3"
ck_check "marker only: connected traffic flows again" ck_wait_for 5 lk_ping "$LK_A" 10.97.0.2
ck_finish
