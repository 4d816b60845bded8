#!/usr/bin/env bash
# host-outage through the kind API (packet-driver) in namespace B of two joined by veth:
# traffic cut both ways with the control port kept (or not: blackout), the demo service
# in B frozen while its twin in A (same name, other namespace) runs on, everything back
# and the kernel state identical after revert; after SIGKILL of the driver the victim
# stays frozen until recover() (journal record) or the sweep (state file, crash before
# the record) resumes it, and never a process whose starttime differs; kill and signal;
# names that match nothing; the driver and its ancestors are never frozen; a failing
# apply leaves nothing behind. Only processes this test started, inside its namespaces,
# can ever match.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-out1
. "$CK_SOURCE_DIR/tests/faults/packet-lib.sh"
pk_require
DEMO="$CK_BUILD_DIR/lab/chaos-demo-service"
[ -x "$DEMO" ] || ck_die "$DEMO not built"
pk_setup
STATE_DIR="$CK_TMP/state"
mkdir -p "$STATE_DIR"
STATE_FILE="$STATE_DIR/processes/f-0000000001.json"

gone() { case "$(ck_proc_state "$1")" in ''|Z|X) return 0 ;; *) return 1 ;; esac; }
starttime() { sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20; }
pings() { ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1; }
http_ok() { # NS URL
	ip netns exec "$1" python3 -c 'import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=1).status == 200 else 1)' "$2" 2>/dev/null
}
# A reply over a veth takes microseconds: half a second without one is a cut.
no_reply() { ! ip netns exec "$1" ping -c1 -W0.5 "$2" >/dev/null 2>&1; }
both_cut() { no_reply "$PK_A" 10.99.0.2 && no_reply "$PK_B" 10.99.0.1; }
both_flow() { pings "$PK_A" 10.99.0.2 && pings "$PK_B" 10.99.0.1 && http_ok "$PK_A" http://10.99.0.2:8080/health; }
state() { ck_kernel_state "$PK_A"; ck_kernel_state "$PK_B"; "$PK_DRIVER" --netns "$PK_B" --tcx-state; }
same_state() {
	local now; now=$(state)
	[ "$now" = "$BEFORE" ] || { diff <(echo "$BEFORE") <(echo "$now") >&2; return 1; }
}
outage() { pk_start "$PK_B" auto host-outage "$1" --control-port 7070 --state-dir "$STATE_DIR"; }
killed_driver() { kill -9 "$PK_PID"; wait "$PK_PID" 2>/dev/null || true; }
json_get() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d = d[int(k)] if isinstance(d, list) else d[k]
print(d)' "$1" "$2"; }
applied_ms() { sed -n 's/^applied in \([0-9.]*\) ms/\1/p' "$PK_OUT"; }
reverted_ms() { sed -n 's/^reverted in \([0-9.]*\) ms/\1/p' "$PK_OUT"; }

ck_spawn "$PK_B" VICTIM "$DEMO" --listen 10.99.0.2:8080 --name b
ck_spawn "$PK_A" TWIN "$DEMO" --listen 10.99.0.1:8080 --name a
ck_spawn "$PK_B" SLEEPER sleep 600
ck_spawn "$PK_A" SLEEPER_A sleep 600
pk_tcp_listen "$PK_B" 7070
ck_wait_for 10 http_ok "$PK_A" http://10.99.0.2:8080/health || ck_die "demo service in B does not answer"
ck_wait_for 10 http_ok "$PK_B" http://10.99.0.1:8080/health || ck_die "demo service in A does not answer"
ck_wait_for 5 both_flow || ck_die "no traffic between the namespaces before any fault"
BEFORE=$(state)

# --- freeze, revert -----------------------------------------------------------------
outage '{"freeze": ["chaos-demo-service"]}'
ck_check "freeze: traffic A->B and B->A cut" both_cut
ck_check "freeze: the control port still connects" pk_tcp_connects "$PK_A" 10.99.0.2 7070
ck_check "freeze: the victim is stopped (T)" ck_proc_stopped "$VICTIM"
ck_check "freeze: the same program in the other namespace runs on" ck_proc_running "$TWIN"
ck_check "freeze: a process not named is untouched" ck_proc_running "$SLEEPER"
ck_check "freeze: the twin still serves in its namespace" http_ok "$PK_A" http://10.99.0.1:8080/health
ck_expect_eq "freeze: record names the victim" "$VICTIM" "$(json_get "$PK_RECORD" frozen.0.pid)"
ck_expect_eq "freeze: record has its starttime" "$(starttime "$VICTIM")" "$(json_get "$PK_RECORD" frozen.0.starttime)"
ck_expect_eq "freeze: record names one process" 1 "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["frozen"]))' "$PK_RECORD")"
ck_check "freeze: state file written" test -s "$STATE_FILE"
APPLY_MS=$(applied_ms)
pk_stop
ck_log "apply $APPLY_MS ms, revert $(reverted_ms) ms (freeze of 1 process, $(pk_stat backend))"
ck_expect_eq "freeze: stats processes_frozen" 1 "$(pk_stat processes_frozen)"
ck_expect_eq "freeze: stats processes_killed" 0 "$(pk_stat processes_killed)"
ck_check "freeze: stats packets_dropped > 0" test "$(pk_stat packets_dropped)" -gt 0
ck_check "revert: the victim runs again" ck_wait_for 2 ck_proc_running "$VICTIM"
ck_check "revert: traffic and the service are back" ck_wait_for 5 both_flow
ck_check "revert: kernel state equals before" same_state
ck_check "revert: state file removed" test ! -e "$STATE_FILE"

# --- blackout -----------------------------------------------------------------------
outage '{"keep_control_path": false}'
ck_check "blackout: traffic cut" both_cut
ck_check "blackout: the control port is cut too" pk_not pk_tcp_connects "$PK_A" 10.99.0.2 7070
pk_stop
ck_expect_eq "blackout: nothing frozen" 0 "$(pk_stat processes_frozen)"
ck_check "blackout: kernel state equals before" same_state

# --- the driver (agent) is SIGKILLed ----------------------------------------------------
recover() { "$PK_DRIVER" --netns "$PK_B" --kind host-outage --state-dir "$STATE_DIR" --recover "$1" >/dev/null; }
outage '{"freeze": ["chaos-demo-service"]}'
cp "$PK_RECORD" "$CK_TMP/journal.json"
killed_driver
ck_check "crash: the victim stays frozen when the agent dies" ck_proc_stopped "$VICTIM"
ck_check "crash: the state file survives" test -s "$STATE_FILE"
# The journal record alone must do: the state file is set aside for this step.
mv "$STATE_FILE" "$CK_TMP/state.json"
recover "$CK_TMP/journal.json"
ck_check "crash: recover() resumes the victim from the journal record" ck_wait_for 2 ck_proc_running "$VICTIM"
ck_check "crash: traffic flows after recover" ck_wait_for 5 both_flow
ck_check "crash: kernel state equals before" same_state
rm -f "$CK_TMP/state.json"

# The crash came before the record was journaled: the agent recovers an empty record,
# and the state file written before the freeze names the victim.
outage '{"freeze": ["chaos-demo-service"]}'
killed_driver
echo '{}' >"$CK_TMP/empty.json"
recover "$CK_TMP/empty.json"
ck_check "crash before the record: recovery (recover + sweep) resumes it from the state file" ck_wait_for 2 ck_proc_running "$VICTIM"
ck_check "crash before the record: state file removed" test ! -e "$STATE_FILE"
ck_check "crash before the record: kernel state equals before" same_state

# clsact: the network cut outlives the agent too; recover() removes it from the record's
# "network" part and resumes the victim.
if pk_backend_supported clsact; then
	pk_start "$PK_B" clsact host-outage '{"freeze": ["chaos-demo-service"]}' --state-dir "$STATE_DIR"
	cp "$PK_RECORD" "$CK_TMP/journal-clsact.json"
	killed_driver
	ck_check "clsact crash: traffic stays cut" both_cut
	ck_check "clsact crash: the victim stays frozen" ck_proc_stopped "$VICTIM"
	ck_expect_eq "clsact crash: record has the blackhole's backend" clsact "$(json_get "$CK_TMP/journal-clsact.json" network.backend)"
	recover "$CK_TMP/journal-clsact.json"
	ck_check "clsact crash: recover() resumes the victim" ck_wait_for 2 ck_proc_running "$VICTIM"
	ck_check "clsact crash: traffic flows after recover" ck_wait_for 5 both_flow
	ck_check "clsact crash: kernel state equals before" same_state
else
	ck_log "clsact unsupported here: its crash case is skipped"
fi

# A record whose starttime differs names another process that got the pid: left alone.
# Then the sweep (no journal entry at all) resumes it from the state file.
outage '{"freeze": ["chaos-demo-service"]}'
killed_driver
mv "$STATE_FILE" "$CK_TMP/state.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["frozen"][0]["starttime"] += 1
json.dump(d, open(sys.argv[2], "w"))' "$PK_RECORD" "$CK_TMP/reused.json"
recover "$CK_TMP/reused.json"
sleep 0.2
ck_check "reused pid: a process with another starttime is not resumed" ck_proc_stopped "$VICTIM"
mv "$CK_TMP/state.json" "$STATE_FILE"
# Without a journal entry at all, the process family's sweep finds the state file.
"$PK_DRIVER" --netns "$PK_B" --state-dir "$STATE_DIR" --sweep >/dev/null
ck_check "sweep: the state file alone resumes the victim" ck_wait_for 2 ck_proc_running "$VICTIM"
ck_check "sweep: state file removed" test ! -e "$STATE_FILE"
ck_check "sweep: kernel state equals before" same_state

# --- kill ---------------------------------------------------------------------------
outage '{"kill": ["sleep"]}'
ck_check "kill: the sleeper in B is gone" gone "$SLEEPER"
ck_check "kill: the sleeper in A runs on" ck_proc_running "$SLEEPER_A"
ck_check "kill: the demo service is untouched" ck_proc_running "$VICTIM"
ck_expect_eq "kill: record names the sleeper" "$SLEEPER" "$(json_get "$PK_RECORD" killed.0.pid)"
pk_stop
ck_expect_eq "kill: stats processes_killed" 1 "$(pk_stat processes_killed)"
wait "$SLEEPER" 2>/dev/null && status=0 || status=$?
ck_expect_eq "kill: died of SIGKILL (the default)" 137 "$status"
ck_check "kill: stays dead after revert" gone "$SLEEPER"
ck_spawn "$PK_B" SLEEPER sleep 600
outage '{"kill": ["sleep"], "signal": "SIGTERM"}'
pk_stop
wait "$SLEEPER" 2>/dev/null && status=0 || status=$?
ck_expect_eq "kill: signal SIGTERM is sent" 143 "$status"
ck_check "kill: kernel state equals before" same_state

# --- names that match nothing; the agent and its ancestors --------------------------------
outage '{"freeze": ["no-such-program"]}'
pk_stop
ck_expect_eq "unmatched: applies, nothing frozen" 0 "$(pk_stat processes_frozen)"
ck_check "unmatched: a warning names it" grep -q 'freeze "no-such-program" matches no process' "$PK_OUT"

# The driver runs under a bash inside B: neither it nor its parent may be frozen.
out=$(ip netns exec "$PK_B" bash -c '"$1" --netns "$2" --kind host-outage --state-dir "$3" --timeout 0.3 \
	--params "{\"freeze\": [\"bash\", \"packet-driver\"]}" 2>&1; echo "exit $?"' _ "$PK_DRIVER" "$PK_B" "$STATE_DIR")
ck_check "self: applied and reverted" grep -q '^exit 0' <<<"$out"
ck_check "self: neither the agent nor its parent is frozen" grep -q '"processes_frozen":0' <<<"$out"

# --- all or nothing -----------------------------------------------------------------
out=$("$PK_DRIVER" --netns "$PK_B" --kind host-outage --state-dir "$CK_TMP/no/such/dir" \
	--params '{"freeze": ["chaos-demo-service"]}' 2>&1 || true)
ck_check "failing freeze: reported by key" grep -q 'apply: \[freeze\] cannot record' <<<"$out"
ck_check "failing freeze: the victim runs" ck_proc_running "$VICTIM"
ck_check "failing freeze: the blackhole was removed" same_state
out=$("$PK_DRIVER" --netns "$PK_B" --kind host-outage --state-dir "$STATE_DIR" \
	--params '{"freeze": ["chaos-demo-service"], "interfaces": ["v0", "nope"]}' 2>&1 || true)
ck_check "missing interface: reported by key" grep -q 'apply: \[interfaces\[1\]\] no interface "nope"' <<<"$out"
ck_check "missing interface: nothing frozen" ck_proc_running "$VICTIM"
ck_check "missing interface: kernel state equals before" same_state
ck_check "traffic flows at the end" both_flow
ck_finish
