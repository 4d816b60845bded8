#!/usr/bin/env bash
# chaos run of small experiments against real agents: held (0), deviated (1), not steady
# before (2, nothing applied), invalid (3), interrupted (2, everything reverted), with the
# JSON journal and JUnit report checked.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/scheduler/sched_lib.sh"
sch_setup ckt-sch-r 3
EXP=$CK_SOURCE_DIR/tests/scheduler/integration

# held: h2 is cut off, h1 keeps serving. Traffic to h2 during the fault feeds its counters.
sch_chaos plan "$EXP/held.cfg" --inventory "$INV"
ck_expect_eq "plan exits 0" 0 "$RC"
ck_check "plan resolves the target to h2" grep -q 'victim: select "name = h2" matches 1 host(s); all -> h2' <<<"$OUT"
ck_check "plan shows the filled-in params" grep -q '"direction":"both"' <<<"$OUT"
ck_expect_eq "no agent was contacted by plan" 0 "$(sch_faults 2)"

"$CK_CHAOS" --netns "$SCH_CTL" run "$EXP/held.cfg" --inventory "$INV" --journal "$CK_TMP/held.json" \
	--junit "$CK_TMP/held.xml" >"$CK_TMP/held.log" 2>&1 &
run_pid=$!
ck_on_exit "kill -INT $run_pid"
if ck_wait_for 5 sch_faults_are 2 1; then
	ck_check "during the run h2 is cut off" \
		bash -c "! ip netns exec $SCH_CTL curl -sf --max-time 1 http://10.201.2.2:8080/health"
fi
rc=0; wait "$run_pid" || rc=$?
sed 's/^/  | /' "$CK_TMP/held.log"
ck_expect_eq "held: exit 0" 0 "$rc"
ck_check "held: verdict line" grep -q '^verdict: held (exit 0)' "$CK_TMP/held.log"
ck_check "held: progress lines with elapsed time" grep -qE '^\[ +[0-9]+\.[0-9]s\] applied blackhole on h2 \(f-[0-9a-f]+\), until \+[0-9.]+s' "$CK_TMP/held.log"
ck_expect_eq "held: journal verdict and exit code" "held 0" "$(sch_json "$CK_TMP/held.json" 'j["verdict"], j["exit_code"]' | tr -d "(),'")"
ck_expect_eq "held: journal probe results in order" \
	"before h1 serves True|before h1 port True|during h1 serves True|during h1 port True|after h1 serves True|after h1 port True|" \
	"$(sch_json "$CK_TMP/held.json" '"".join("%s %s %s|" % (e["phase"], e["probe"], e["ok"]) for e in j["events"] if e["type"] == "probe")')"
ck_expect_eq "held: fault applied and reverted on h2 only" "fault_applied h2|fault_reverted h2|" \
	"$(sch_json "$CK_TMP/held.json" '"".join("%s %s|" % (e["type"], e["host"]) for e in j["events"] if e["type"].startswith("fault"))')"
ck_check "held: the fault's counters were fetched (packets dropped on h2)" \
	test "$(sch_json "$CK_TMP/held.json" 'sum(e["stats"].get("packets_dropped", 0) for e in j["events"] if e["type"] == "fault_reverted")')" -gt 0
ck_expect_eq "held: the rollback ran" "True" "$(sch_json "$CK_TMP/held.json" '[e["ok"] for e in j["events"] if e["type"] == "rollback"][0]')"
ck_expect_eq "held: journal keys" "True" \
	"$(sch_json "$CK_TMP/held.json" 'all(k in j for k in ("title", "file", "started_at", "ended_at", "targets", "lease", "events"))')"
ck_expect_eq "held: JUnit counts (6 probes, 1 fault, 1 rollback, 2 recovery rows, no failure)" 'tests="10" failures="0"' \
	"$(grep -o 'tests="[0-9]*" failures="[0-9]*"' "$CK_TMP/held.xml")"
ck_check "held: JUnit is well-formed XML" python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$CK_TMP/held.xml"
for i in 1 2 3; do ck_expect_eq "held: no fault left on h$i" 0 "$(sch_faults "$i")"; done

# deviated: h1 itself is cut off, so its service check fails during the fault.
sch_chaos run "$EXP/deviated.cfg" --inventory "$INV" --journal "$CK_TMP/dev.json" --junit "$CK_TMP/dev.xml"
ck_expect_eq "deviated: exit 1" 1 "$RC"
ck_check "deviated: verdict line" grep -q '^verdict: deviated (exit 1)' <<<"$OUT"
ck_expect_eq "deviated: journal" "deviated 1" "$(sch_json "$CK_TMP/dev.json" 'j["verdict"], j["exit_code"]' | tr -d "(),'")"
ck_expect_eq "deviated: the during check failed, before and after held" "before True|during False|after True|" \
	"$(sch_json "$CK_TMP/dev.json" '"".join("%s %s|" % (e["phase"], e["ok"]) for e in j["events"] if e["type"] == "probe")')"
ck_expect_eq "deviated: JUnit fails the check and the probe's recovery row" 'tests="5" failures="2"' \
	"$(grep -o 'tests="[0-9]*" failures="[0-9]*"' "$CK_TMP/dev.xml")"
ck_expect_eq "deviated: no fault left on h1" 0 "$(sch_faults 1)"

# not steady before: aborted with nothing applied.
sch_chaos run "$EXP/unsteady.cfg" --inventory "$INV" --journal "$CK_TMP/unsteady.json" --junit "$CK_TMP/unsteady.xml"
ck_expect_eq "unsteady: exit 2" 2 "$RC"
ck_expect_eq "unsteady: journal verdict" "aborted 2" "$(sch_json "$CK_TMP/unsteady.json" 'j["verdict"], j["exit_code"]' | tr -d "(),'")"
ck_expect_eq "unsteady: nothing was applied" 0 \
	"$(sch_json "$CK_TMP/unsteady.json" 'len([e for e in j["events"] if e["type"].startswith("fault")])')"
ck_expect_eq "unsteady: no rollback ran (nothing to undo)" 0 \
	"$(sch_json "$CK_TMP/unsteady.json" 'len([e for e in j["events"] if e["type"] == "rollback"])')"
ck_check "unsteady: the JUnit report shows the failed before-check" grep -q '<failure message="connect to 10.201.1.2:9' "$CK_TMP/unsteady.xml"
for i in 1 2 3; do ck_expect_eq "unsteady: no fault on h$i" 0 "$(sch_faults "$i")"; done

# invalid: exit 3 with file:line, nothing applied, no journal.
sch_chaos run "$CK_SOURCE_DIR/tests/scheduler/bad/unknown-kind.cfg" --journal "$CK_TMP/invalid.json"
ck_expect_eq "invalid: exit 3" 3 "$RC"
ck_check "invalid: file:line on stderr" grep -q 'unknown-kind.cfg:7: unknown fault kind "explode"' <<<"$OUT"
ck_check "invalid: no journal written" test ! -e "$CK_TMP/invalid.json"
sch_chaos run "$EXP/held.cfg"
ck_expect_eq "run without an inventory: exit 3" 3 "$RC"

# apply fails on one host (its agent is down): what was applied elsewhere is reverted, exit 2.
sch_stop_agent 3
sch_chaos run "$EXP/apply-fails.cfg" --inventory "$INV" --journal "$CK_TMP/fail.json"
ck_expect_eq "apply failure: exit 2" 2 "$RC"
ck_expect_eq "apply failure: h1 and h2 applied, h3 failed, h1 and h2 reverted" \
	"fault_apply_failed h3|fault_applied h1|fault_applied h2|fault_reverted h1|fault_reverted h2|" \
	"$(sch_json "$CK_TMP/fail.json" '"".join("%s %s|" % (e["type"], e["host"]) for e in sorted((e for e in j["events"] if e["type"].startswith("fault")), key=lambda e: (e["type"] != "fault_apply_failed", e["type"], e["host"])))')"
for i in 1 2; do ck_expect_eq "apply failure: no fault left on h$i" 0 "$(sch_faults "$i")"; done

# SIGINT during the run: every fault reverted at once, exit 2.
sch_chaos_interrupted 2 "$CK_TMP/int.log" "SIGINT to exit with faults reverted" \
	run "$EXP/interrupted.cfg" --inventory "$INV" --journal "$CK_TMP/int.json"
ck_expect_eq "interrupted: exit 2" 2 "$RC"
ck_expect_eq "interrupted: journal verdict" "aborted 2" "$(sch_json "$CK_TMP/int.json" 'j["verdict"], j["exit_code"]' | tr -d "(),'")"
for i in 1 2; do ck_expect_eq "interrupted: no fault left on h$i" 0 "$(sch_faults "$i")"; done
ck_finish
