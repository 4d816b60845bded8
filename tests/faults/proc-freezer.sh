#!/usr/bin/env bash
# process-pause, method "freezer", through a real chaos-agent in namespace A: a cgroup v2
# directory (cgroup.freeze / cgroup.events) and a v1 freezer cgroup (freezer.state), each
# created by this test with one counter in it. Frozen means the kernel says so and the
# counter stands still; after DELETE, kill -9 of the agent (guardian) and, with the
# guardian disabled, the agent's restart, each cgroup is back to exactly its previous
# state and the counter moves. Also: a cgroup frozen by someone else is refused and left
# frozen; a cgroup holding a process of another namespace is refused; the "freezer"
# family's sweep thaws a cgroup whose state file no journal entry owns.
. "$CK_TESTS_LIB"
ck_init ckt-pk-f
. "$CK_SOURCE_DIR/tests/faults/proc-lib.sh"
pk_require
V1_ROOT=$(awk '$9 == "cgroup" && $NF ~ /(^|,)freezer(,|$)/ { print $5; exit }' /proc/self/mountinfo)
[ -n "$V1_ROOT" ] || ck_skip "no cgroup v1 freezer hierarchy is mounted"
A=ckt-pk-f-a B=ckt-pk-f-b
ck_netns "$A"; ck_netns "$B"

# the v2 cgroup (scope-lib removes stale ones of the prefix), thawed before removal
sc_cgroup "$CK_PREFIX-v2"
V2=$SC_CG
ck_on_exit "echo 0 > '$V2/cgroup.freeze'"
[ -f "$V2/cgroup.freeze" ] || ck_skip "the cgroup v2 hierarchy has no cgroup.freeze (kernel < 5.2)"
# the v1 freezer cgroup: thawed first, then emptied and removed
v1_remove() {
	[ -d "$1" ] || return 0
	echo THAWED >"$1/freezer.state" 2>/dev/null || true
	sc_cgroup_remove "$1"
}
for stale in "$V1_ROOT/$CK_PREFIX"-*; do v1_remove "$stale"; done
V1=$V1_ROOT/$CK_PREFIX-v1
mkdir "$V1"
ck_on_exit "v1_remove '$V1'"

pk_counter "$A" "$V2/cgroup.procs" C2 "$CK_TMP/count.v2" ckt-pk-v2-counter
pk_counter "$A" "$V1/cgroup.procs" C1 "$CK_TMP/count.v1" ckt-pk-v1-counter
v2_frozen() { [ "$(cat "$V2/cgroup.freeze")" = 1 ] && grep -qx 'frozen 1' "$V2/cgroup.events" && pk_stuck "$CK_TMP/count.v2"; }
v2_thawed() { [ "$(cat "$V2/cgroup.freeze")" = 0 ] && grep -qx 'frozen 0' "$V2/cgroup.events" && pk_progresses "$CK_TMP/count.v2"; }
v1_frozen() { [ "$(cat "$V1/freezer.state")" = FROZEN ] && pk_stuck "$CK_TMP/count.v1"; }
v1_thawed() { [ "$(cat "$V1/freezer.state")" = THAWED ] && pk_progresses "$CK_TMP/count.v1"; }
ck_check "before: v2 thawed" v2_thawed
ck_check "before: v1 thawed" v1_thawed
P2="{\"processes\": {\"cgroup\": \"$V2\"}}"
P1="{\"processes\": {\"cgroup\": \"$V1\"}, \"method\": \"freezer\"}"

pk_agent "$A" "$CK_TMP/agent.log"

# --- v2, method auto: DELETE ---------------------------------------------------------------
sc_apply process-pause "$P2" || ck_die "process-pause refused: $SC_RESP"
ck_expect_eq "v2: method" freezer "$(ckagt_json stats.method <<<"${SC_RESP#* }")"
ck_expect_eq "v2: interface" cgroup.freeze "$(ckagt_json stats.interface <<<"${SC_RESP#* }")"
ck_expect_eq "v2: processes_frozen" 1 "$(ckagt_json stats.processes_frozen <<<"${SC_RESP#* }")"
ck_check "v2: cgroup.freeze 1, cgroup.events frozen 1, the counter stands still" v2_frozen
ck_check "v2: the v1 cgroup's counter moves on" pk_progresses "$CK_TMP/count.v1"
ck_check "v2: the state file names the cgroup" grep -q "\"cgroup\":\"${V2//\//\\\\/}\"" "$PK_STATE/freezer/$SC_ID.json"
sc_revert
ck_check "v2 delete: cgroup.freeze 0, frozen 0, the counter moves" ck_wait_for 2 v2_thawed
ck_check "v2 delete: nothing left in the state dir" pk_no_leftovers

# --- v1: DELETE ----------------------------------------------------------------------------
sc_apply process-pause "$P1" || ck_die "process-pause refused: $SC_RESP"
ck_expect_eq "v1: interface" freezer.state "$(ckagt_json stats.interface <<<"${SC_RESP#* }")"
ck_check "v1: freezer.state FROZEN, the counter stands still" v1_frozen
ck_check "v1: the v2 counter moves on" pk_progresses "$CK_TMP/count.v2"
sc_revert
ck_check "v1 delete: THAWED, the counter moves" ck_wait_for 2 v1_thawed
ck_check "v1 delete: nothing left in the state dir" pk_no_leftovers

# --- both frozen, kill -9 of the agent: the guardian thaws both at once --------------------------
sc_apply process-pause "$P2" || ck_die "process-pause refused: $SC_RESP"
sc_apply process-pause "$P1" || ck_die "process-pause refused: $SC_RESP"
ck_check "crash: v2 frozen" v2_frozen
ck_check "crash: v1 frozen" v1_frozen
kill -9 "$CKAGT_PID"
T0=$(ckagt_now_ms)
ckagt_wait_exit "$CKAGT_PID"
thawed_files() { [ "$(cat "$V2/cgroup.freeze")" = 0 ] && [ "$(cat "$V1/freezer.state")" = THAWED ]; }
ck_check "crash: the guardian thawed both cgroups" ck_wait_for 2 thawed_files
ck_log "crash: both thawed $(( $(ckagt_now_ms) - T0 )) ms after kill -9 (test polling included)"
ck_check "crash: v2 counter moves" v2_thawed
ck_check "crash: v1 counter moves" v1_thawed
ck_check "crash: nothing left in the state dir" ck_wait_for 2 pk_no_leftovers

# --- without a guardian: frozen until the agent restarts ------------------------------------------
pk_agent "$A" "$CK_TMP/agent.log.2" "guardian = false;"
sc_apply process-pause "$P2" || ck_die "process-pause refused: $SC_RESP"
sc_apply process-pause "$P1" || ck_die "process-pause refused: $SC_RESP"
kill -9 "$CKAGT_PID"
ckagt_wait_exit "$CKAGT_PID"
sleep 0.5
ck_check "no guardian: v2 still frozen with the agent dead" v2_frozen
ck_check "no guardian: v1 still frozen with the agent dead" v1_frozen
pk_agent "$A" "$CK_TMP/agent.log.3" "guardian = false;"
ck_expect_eq "no guardian: the restarted agent recovered both faults" 2 "$(grep -c 'journal: recovered' "$CK_TMP/agent.log.3")"
ck_check "no guardian: v2 thawed" ck_wait_for 2 v2_thawed
ck_check "no guardian: v1 thawed" ck_wait_for 2 v1_thawed
ck_check "no guardian: nothing left in the state dir" pk_no_leftovers

# --- frozen by someone else: refused and left as it was -----------------------------------------------
echo 1 >"$V2/cgroup.freeze"
sc_apply process-pause "$P2" && ck_die "a frozen cgroup was paused again"
ck_check "frozen already: refused with the reason" grep -q 'frozen already' <<<"$SC_RESP"
ck_expect_eq "frozen already: cgroup.freeze still 1" 1 "$(cat "$V2/cgroup.freeze")"
echo 0 >"$V2/cgroup.freeze"
ck_check "frozen already: thawed by hand, counts" ck_wait_for 2 v2_thawed

# --- a process of another namespace in the cgroup: refused ------------------------------------------------
pk_counter "$B" "$V2/cgroup.procs" CB "$CK_TMP/count.b" ckt-pk-b-counter
sc_apply process-pause "$P2" && ck_die "a cgroup with a process of namespace B was frozen"
ck_check "other namespace: refused with the reason" grep -q "outside this agent's network namespace" <<<"$SC_RESP"
ck_expect_eq "other namespace: cgroup.freeze still 0" 0 "$(cat "$V2/cgroup.freeze")"
ck_check "other namespace: B's counter moves" pk_progresses "$CK_TMP/count.b"
kill -9 "$CB"

# --- the freezer family's sweep: a state file no journal entry owns -------------------------------------
kill -TERM "$CKAGT_PID"; ckagt_wait_exit "$CKAGT_PID"
ck_expect_eq "stop: the agent exits 0" 0 "$CKAGT_RC"
echo FROZEN >"$V1/freezer.state"
ck_check "sweep: frozen by hand" ck_wait_for 2 v1_frozen
mkdir -p "$PK_STATE/freezer"
echo "{\"cgroup\":\"$V1\",\"file\":\"freezer.state\",\"restore\":\"THAWED\"}" >"$PK_STATE/freezer/f-ckt-pk-crash.json"
pk_agent "$A" "$CK_TMP/agent.log.4" "guardian = false;"
ck_check "sweep: the agent's start thawed it" ck_wait_for 2 v1_thawed
ck_check "sweep: logged" grep -q "sweep: family freezer removed 1 leftover" "$CK_TMP/agent.log.4"
ck_check "sweep: nothing left in the state dir" pk_no_leftovers
ck_finish
