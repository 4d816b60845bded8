#!/usr/bin/env bash
# process-kill through a real chaos-agent in namespace A (unix socket API). Victims are
# copies of sleep named ckt-pk-victim started by this test in A; a twin of the same name
# runs in namespace B and must never be touched (the agent only sees its namespace).
# SIGKILL by name, SIGTERM by cmdline regex, exe, count and percent picks, and interval
# rounds against a supervisor that restarts its victim.
. "$CK_TESTS_LIB"
ck_init ckt-pk-k
. "$CK_SOURCE_DIR/tests/faults/proc-lib.sh"
pk_require
A=ckt-pk-k-a B=ckt-pk-k-b
ck_netns "$A"; ck_netns "$B"
pk_victim_bin
pk_spawn "$B" TWIN "$PK_VICTIM" 600
pk_agent "$A" "$CK_TMP/agent.log"
ck_check "the agent lists process-kill" grep -q '"name": *"process-kill"' <(ckagt_req "$SC_SOCK" GET /v1/info)

# exit_status PID: how the child PID ended (128+signal), within 3 s.
exit_status() {
	local i
	for ((i = 0; i < 30; i++)); do pk_dead "$1" && break; sleep 0.1; done
	pk_dead "$1" || { echo running; return; }
	local rc=0
	wait "$1" 2>/dev/null || rc=$?
	echo "$rc"
}

# --- SIGKILL by name --------------------------------------------------------------------
pk_spawn "$A" V1 "$PK_VICTIM" 600
sc_apply process-kill '{"processes": {"name": "ckt-pk-victim"}}' || ck_die "process-kill refused: $SC_RESP"
ck_expect_eq "name: processes_signalled" 1 "$(ckagt_json stats.processes_signalled <<<"${SC_RESP#* }")"
ck_expect_eq "name: the victim died of SIGKILL" 137 "$(exit_status "$V1")"
ck_check "name: the twin in B lives" pk_alive "$TWIN"
ck_expect_eq "name: rounds" 1 "$(sc_stat rounds)"
ck_check "name: the journal record names the victim" grep -q "\"pid\":$V1" "$PK_STATE/journal/$SC_ID.json"
sc_revert

# --- SIGTERM by cmdline regex -------------------------------------------------------------
pk_spawn "$A" V1 "$PK_VICTIM" 601
pk_spawn "$A" V2 "$PK_VICTIM" 602
sc_apply process-kill '{"processes": {"cmdline": "ckt-pk-victim 60[1]$"}, "signal": "SIGTERM"}' ||
	ck_die "process-kill refused: $SC_RESP"
ck_expect_eq "cmdline: the matching victim died of SIGTERM" 143 "$(exit_status "$V1")"
ck_check "cmdline: the other one lives" pk_alive "$V2"
ck_check "cmdline: the twin in B lives" pk_alive "$TWIN"
sc_revert

# --- exe: every copy in A ---------------------------------------------------------------------
pk_spawn "$A" V3 "$PK_VICTIM" 603
sc_apply process-kill "{\"processes\": {\"exe\": \"$PK_VICTIM\"}}" || ck_die "process-kill refused: $SC_RESP"
ck_expect_eq "exe: processes_signalled" 2 "$(ckagt_json stats.processes_signalled <<<"${SC_RESP#* }")"
ck_expect_eq "exe: V2 died" 137 "$(exit_status "$V2")"
ck_expect_eq "exe: V3 died" 137 "$(exit_status "$V3")"
ck_check "exe: the twin in B (same executable) lives" pk_alive "$TWIN"
sc_revert

# --- nothing matches: refused with the reason ------------------------------------------------
sc_apply process-kill '{"processes": {"name": "ckt-pk-victim"}}' && ck_die "applied with no process to kill"
ck_check "no match: refused, naming processes" grep -q 'no process matches' <<<"$SC_RESP"
ck_expect_eq "no match: 422 not_applicable" 422 "${SC_RESP%% *}"
ck_check "no match: the twin in B lives" pk_alive "$TWIN"

# --- the agent's own guardian (a child, not an ancestor) is never a victim -----------------------------
GUARDIAN=$(pgrep -P "$CKAGT_PID" | head -1)
ck_check "guardian: the agent has its guardian child" test -n "$GUARDIAN"
sc_apply process-kill '{"processes": {"name": "chaos-agent"}}' && ck_die "the agent's guardian was killed"
ck_check "guardian: refused, only the agent's own helpers match" grep -q "but the agent's own helper processes" <<<"$SC_RESP"
ck_check "guardian: alive" pk_alive "$GUARDIAN"

# --- count and percent ----------------------------------------------------------------------
PIDS=()
for i in 1 2 3 4 5; do pk_spawn "$A" P "$PK_VICTIM" 61$i; PIDS+=("$P"); done
alive_of() { local n=0 p; for p in "${PIDS[@]}"; do pk_alive "$p" && n=$((n + 1)); done; echo $n; }
sc_apply process-kill '{"processes": {"name": "ckt-pk-victim", "count": 2}}' || ck_die "refused: $SC_RESP"
ck_expect_eq "count 2: processes_signalled" 2 "$(ckagt_json stats.processes_signalled <<<"${SC_RESP#* }")"
sleep 0.3
ck_expect_eq "count 2: 3 of 5 left" 3 "$(alive_of)"
sc_revert
# percent rounds up: 40% of 3 is 2
sc_apply process-kill '{"processes": {"name": "ckt-pk-victim", "percent": 40}}' || ck_die "refused: $SC_RESP"
ck_expect_eq "percent 40: processes_signalled" 2 "$(ckagt_json stats.processes_signalled <<<"${SC_RESP#* }")"
sleep 0.3
ck_expect_eq "percent 40: 1 of 5 left" 1 "$(alive_of)"
sc_revert
for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
ck_check "count/percent: the twin in B lives" pk_alive "$TWIN"

# --- interval: a supervisor restarts its victim, every round kills it again -----------------------
RESTARTS=$CK_TMP/restarts
: >"$RESTARTS"
pk_spawn "$A" SUP bash -c 'while :; do echo start >>"$1"; "$2" 620; done' sup "$RESTARTS" "$PK_VICTIM"
ck_wait_for 5 grep -q start "$RESTARTS" || ck_die "the supervisor did not start its victim"
T0=$(ckagt_now_ms)
sc_apply process-kill '{"processes": {"name": "ckt-pk-victim"}, "interval": "500ms"}' || ck_die "refused: $SC_RESP"
sleep 2.2
sc_revert
T1=$(ckagt_now_ms)
# the stats of an ended fault are kept: rounds at apply, +500, +1000, +1500, +2000 ms
r=$(ckagt_req "$SC_SOCK" GET "/v1/faults/$SC_ID")
ROUNDS=$(ckagt_json stats.rounds <<<"${r#* }")
KILLED=$(ckagt_json stats.processes_signalled <<<"${r#* }")
ck_log "interval: $ROUNDS rounds, $KILLED kills, $(grep -c start "$RESTARTS") starts in $((T1 - T0)) ms"
ck_check "interval: 4-6 rounds in 2.2 s" test "${ROUNDS:-0}" -ge 4 -a "${ROUNDS:-0}" -le 6
ck_check "interval: the victim was killed in every round" test "${KILLED:-0}" -ge 4 -a "${KILLED:-0}" -le "${ROUNDS:-0}"
ck_check "interval: the supervisor restarted it after each kill" test "$(grep -c start "$RESTARTS")" -ge "$((KILLED + 1))"
N=$(grep -c start "$RESTARTS")
sleep 1.2
ck_expect_eq "interval: no kill after the fault ended" "$N" "$(grep -c start "$RESTARTS")"
ck_check "interval: the supervisor itself (bash) lives" pk_alive "$SUP"
ck_check "interval: the twin in B lives" pk_alive "$TWIN"
ck_check "no journal entry left" pk_no_leftovers
# an interval fault still running when the agent stops: its thread ends, exit 0 (clean under ASan)
sc_apply process-kill '{"processes": {"name": "ckt-pk-victim"}, "interval": "300ms"}' || ck_die "refused: $SC_RESP"
kill -TERM "$CKAGT_PID"; ckagt_wait_exit "$CKAGT_PID"
ck_expect_eq "stop: the agent exits 0" 0 "$CKAGT_RC"
ck_finish
