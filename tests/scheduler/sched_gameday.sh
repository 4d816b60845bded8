#!/usr/bin/env bash
# Game-day engine against real agents: a DC outage on two agents at once (start skew),
# continuous samples with detection and recovery figures, expect = "deviate", a
# partition between two hosts (each side drops the other, the control side reaches
# both), an abort condition reverting everything (exit 2), and chaos matrix.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/scheduler/sched_lib.sh"
sch_setup ckt-eng-g 3
EXP=$CK_SOURCE_DIR/tests/scheduler/integration
export ENG_H2=${CK_PREFIX}-h2

# hosts reach each other through the control namespace (for the partition)
ip netns exec "$SCH_CTL" sysctl -qw net.ipv4.ip_forward=1
for i in 1 2 3; do ip -n "${CK_PREFIX}-h$i" route add default via "10.201.$i.1"; done
ck_check "h2 reaches h1 before any fault" ip netns exec "$ENG_H2" curl -sf --max-time 1 http://10.201.1.2:8080/health

# the inventory as a directory of files, with addresses; dc1 = h1 + h3 (unix + TLS)
INV=$CK_TMP/inventory.d
mkdir -p "$INV"
cat >"$INV/10-tls.cfg" <<EOF
tls = { ca = "../tls/ca.pem"; cert = "../tls/client.pem"; key = "../tls/client-key.pem"; };
hosts = (
  { name = "h1"; agent = "unix:$CK_TMP/h1/agent.sock"; addresses = ["10.201.1.2"]; labels = { dc = "dc1"; }; }
);
EOF
cat >"$INV/20-more.cfg" <<EOF
hosts = (
  { name = "h2"; agent = "unix:$CK_TMP/h2/agent.sock"; addresses = ["10.201.2.2"]; labels = { dc = "dc2"; }; },
  { name = "h3"; agent = "https://10.201.3.2:7070"; labels = { dc = "dc1"; }; }
);
EOF

sch_chaos status --inventory "$INV" --select 'dc = "dc1"'
ck_expect_eq "status over a directory inventory and a quoted selector: exit 0" 0 "$RC"
ck_check "status: h1 and h3 (dc1) answer" bash -c 'grep -q "^h1" <<<"$1" && grep -q "^h3" <<<"$1" && ! grep -q "^h2" <<<"$1"' _ "$OUT"

sch_chaos plan "$EXP/gameday-outage.cfg" --inventory "$INV"
ck_expect_eq "plan: exit 0" 0 "$RC"
ck_check "plan: dc1 is h1 and h3 (quoted selector, directory inventory)" grep -q 'dc1: select "dc = dc1" matches 2 host(s); all -> h1, h3' <<<"$OUT"
ck_check "plan: failover urls" grep -q '(ok if any answers)' <<<"$OUT"

# 1. outage on dc1: the failover probe holds, h1's own probe deviates as expected
sch_chaos run "$EXP/gameday-outage.cfg" --inventory "$INV" --journal "$CK_TMP/outage.json"
ck_expect_eq "outage: exit 0 (held)" 0 "$RC"
ck_check "outage: recovery table printed" grep -qE '^  h1 direct +deviate +YES +[0-9.]+s +[0-9.]+s +deviated as expected' <<<"$OUT"
ck_check "outage: failover row held" grep -qE '^  web failover +ok +no +- +- +held' <<<"$OUT"
J=$CK_TMP/outage.json
ck_expect_eq "outage: one step on h1 and h3" "blackhole dc1 ['h1', 'h3']" \
	"$(sch_json "$J" '"%s %s %s" % (j["steps"][0]["kind"], j["steps"][0]["target"], sorted(j["steps"][0]["hosts"]))')"
skew=$(sch_json "$J" 'j["steps"][0]["skew_ms"]')
ck_log "start skew across h1 (unix) and h3 (TLS): ${skew} ms"
ck_check "outage: skew is a number of ms below 1s" test "$skew" -ge 0 -a "$skew" -lt 1000
ck_expect_eq "outage: phases in order" "True" \
	"$(sch_json "$J" 'j["phases"]["injected_at_ms"] < j["phases"]["reverted_at_ms"] <= j["phases"]["ended_at_ms"]')"
ck_expect_eq "outage: h1 direct deviated and recovered" "deviate True True" \
	"$(sch_json "$J" '" ".join(str(x) for r in j["recovery"] if r["probe"] == "h1 direct" for x in (r["expect"], r["deviated"], r["recovered"]))')"
det=$(sch_json "$J" '[r["detected_after_ms"] for r in j["recovery"] if r["probe"] == "h1 direct"][0]')
rec=$(sch_json "$J" '[r["recovered_after_ms"] for r in j["recovery"] if r["probe"] == "h1 direct"][0]')
ck_log "h1 direct: detected after ${det} ms, recovered after ${rec} ms (samples every 300ms, timeout 500ms)"
ck_check "outage: detected within 3s of the injection (the outage lasts 3.5s)" test "$det" -lt 3000
ck_check "outage: recovered within 3s of the revert" test "$rec" -lt 3000
ck_expect_eq "outage: failover never deviated" "False None None True" \
	"$(sch_json "$J" '" ".join(str(x) for r in j["recovery"] if r["probe"] == "web failover" for x in (r["deviated"], r["detected_after_ms"], r["recovered_after_ms"], r["recovered"]))')"
# each failover sample waits out two dead replicas (2 x 500ms): it only delays itself
n_direct=$(sch_json "$J" 'len([s for s in j["samples"] if s["probe"] == "h1 direct" and s["phase"] == "sample" and j["phases"]["injected_at_ms"] <= s["t_ms"] < j["phases"]["reverted_at_ms"]])')
n_failover=$(sch_json "$J" 'len([s for s in j["samples"] if s["probe"] == "web failover" and s["phase"] == "sample" and j["phases"]["injected_at_ms"] <= s["t_ms"] < j["phases"]["reverted_at_ms"]])')
ck_log "samples during the 3.5s outage: h1 direct ${n_direct}, web failover ${n_failover}"
ck_check "outage: h1 direct sampled at least 4 times during the outage" test "$n_direct" -ge 4
ck_check "outage: the slow failover probe sampled too" test "$n_failover" -ge 2
ck_check "outage: failover samples name the replica that answered" \
	test "$(sch_json "$J" 'len([s for s in j["samples"] if s["probe"] == "web failover" and "10.201.2.2" in s["reason"]])')" -ge 1
ck_expect_eq "outage: aborted_by is null" "None" "$(sch_json "$J" 'j["aborted_by"]')"
for i in 1 2 3; do ck_expect_eq "outage: no fault left on h$i" 0 "$(sch_faults "$i")"; done

# 2. the samples alone make the verdict: exit 1 without any check step
sch_chaos run "$EXP/gameday-sampled-deviation.cfg" --inventory "$INV" --journal "$CK_TMP/sampled.json"
ck_expect_eq "sampled deviation: exit 1" 1 "$RC"
ck_expect_eq "sampled deviation: deviated, recovered" "True True" \
	"$(sch_json "$CK_TMP/sampled.json" '" ".join(str(r[k]) for r in j["recovery"] for k in ("deviated", "recovered"))')"

# 3. partition h1 | h2: each side drops the other; the control namespace reaches both
sch_chaos run "$EXP/gameday-partition.cfg" --inventory "$INV" --journal "$CK_TMP/part.json"
ck_expect_eq "partition: exit 0" 0 "$RC"
J=$CK_TMP/part.json
ck_expect_eq "partition: blackholes on h1 and h2 with the other side as peers" \
	"h1 ['10.201.2.2/32'] both|h2 ['10.201.1.2/32'] both|" \
	"$(sch_json "$J" '"".join("%s %s %s|" % (e["host"], e["params"]["match"]["peers"], e["params"]["direction"]) for e in sorted((e for e in j["events"] if e["type"] == "fault_applied"), key=lambda e: e["host"]))')"
ck_expect_eq "partition: step record" "partition ['left', 'right'] ['h1', 'h2']" \
	"$(sch_json "$J" '"%s %s %s" % (j["steps"][0]["kind"], j["steps"][0]["partition"], sorted(j["steps"][0]["hosts"]))')"
ck_expect_eq "partition: h2 lost h1 (expected), control kept both" "h2 reaches h1 True|ctl reaches h1 False|ctl reaches h2 False|" \
	"$(sch_json "$J" '"".join("%s %s|" % (r["probe"], r["deviated"]) for r in sorted(j["recovery"], key=lambda r: not r["deviated"]))')"
ck_check "h2 reaches h1 again after the partition" ip netns exec "$ENG_H2" curl -sf --max-time 1 http://10.201.1.2:8080/health

# 4. an abort condition fails: everything reverted at once, exit 2, long before the 30s
t0=$(date +%s%N)
sch_chaos run "$EXP/gameday-abort.cfg" --inventory "$INV" --journal "$CK_TMP/abort.json"
took=$(( ($(date +%s%N) - t0) / 1000000 ))
ck_log "abort run took ${took} ms (method planned 30s)"
ck_expect_eq "abort: exit 2" 2 "$RC"
ck_check "abort: said so" grep -q '^aborted by: h2 reaches h1' <<<"$OUT"
ck_check "abort: well before the faults' 30s" test "$took" -lt 15000
ck_expect_eq "abort: journal" "aborted 2 h2 reaches h1" \
	"$(sch_json "$CK_TMP/abort.json" '"%s %s %s" % (j["verdict"], j["exit_code"], j["aborted_by"])')"
ck_expect_eq "abort: both sides reverted" "h1 True|h2 True|" \
	"$(sch_json "$CK_TMP/abort.json" '"".join("%s %s|" % (e["host"], e["ok"]) for e in sorted((e for e in j["events"] if e["type"] == "fault_reverted"), key=lambda e: e["host"]))')"
for i in 1 2; do ck_expect_eq "abort: no fault left on h$i" 0 "$(sch_faults "$i")"; done

# 5. a datacenter power loss with host-outage (network cut, services frozen), when chaos has it
if ck_output_has '^host-outage ' "$CK_CHAOS" kinds; then
	sch_chaos run "$EXP/gameday-host-outage.cfg" --inventory "$INV" --journal "$CK_TMP/power.json"
	ck_expect_eq "host-outage: exit 0 (failover held)" 0 "$RC"
	J=$CK_TMP/power.json
	ck_expect_eq "host-outage: the service was frozen on h1 and on h3" "h1 1|h3 1|" \
		"$(sch_json "$J" '"".join("%s %s|" % (e["host"], min(e["stats"].get("processes_frozen", 0), 1)) for e in sorted((e for e in j["events"] if e["type"] == "fault_reverted"), key=lambda e: e["host"]))')"
	ck_log "host-outage on dc1: start skew $(sch_json "$J" 'j["steps"][0]["skew_ms"]') ms; h1 direct detected after $(sch_json "$J" '[r["detected_after_ms"] for r in j["recovery"] if r["probe"] == "h1 direct"][0]') ms, recovered after $(sch_json "$J" '[r["recovered_after_ms"] for r in j["recovery"] if r["probe"] == "h1 direct"][0]') ms"
	ck_expect_eq "host-outage: h1 direct deviated and recovered" "True True" \
		"$(sch_json "$J" '" ".join(str(r[k]) for r in j["recovery"] if r["probe"] == "h1 direct" for k in ("deviated", "recovered"))')"
	ck_check "host-outage: h3's service answers again (resumed)" \
		ip netns exec "$SCH_CTL" curl -sf --max-time 2 http://10.201.3.2:8080/health
else
	ck_log "this chaos has no host-outage kind: the power-loss part is skipped"
fi

# 6. chaos matrix: which probe depends on which DC
html=()
[ -e "$CK_SOURCE_DIR/scheduler/html_report.h" ] && html=(--html "$CK_TMP/matrix.html")
sch_chaos matrix "$EXP/gameday-matrix.cfg" --inventory "$INV" --journal "$CK_TMP/matrix.json" \
	--junit "$CK_TMP/matrix.xml" "${html[@]}"
ck_expect_eq "matrix: exit 0" 0 "$RC"
ck_check "matrix: table row for h1" grep -qE '^h1 direct +DEVIATED [0-9.]+s->[0-9.]+s +ok' <<<"$OUT"
ck_check "matrix: table row for h2" grep -qE '^h2 direct +ok +DEVIATED [0-9.]+s->[0-9.]+s' <<<"$OUT"
ck_check "matrix: table row for failover" grep -qE '^failover +ok +ok *$' <<<"$OUT"
M=$CK_TMP/matrix.json
ck_expect_eq "matrix: JSON cells" "[[True, False], [False, True], [False, False]]" \
	"$(sch_json "$M" '[[c["deviated"] for c in row] for row in j["matrix"]["cells"]]')"
ck_expect_eq "matrix: domains, probes, one run each" "['dc1', 'dc2'] ['h1 direct', 'h2 direct', 'failover'] 2" \
	"$(sch_json "$M" '"%s %s %d" % (j["matrix"]["domains"], j["matrix"]["probes"], len(j["runs"]))')"
ck_expect_eq "matrix: dc1's run hit h1 and h3" "['h1', 'h3']" "$(sch_json "$M" 'sorted(j["runs"][0]["steps"][0]["hosts"])')"
ck_expect_eq "matrix: JUnit (6 cells, 2 deviated)" 'tests="6" failures="2"' \
	"$(grep -o 'tests="[0-9]*" failures="[0-9]*"' "$CK_TMP/matrix.xml")"
ck_check "matrix: JUnit is well-formed XML" python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$CK_TMP/matrix.xml"
if [ ${#html[@]} -gt 0 ]; then
	ck_check "matrix: HTML report written" test -s "$CK_TMP/matrix.html"
fi
sch_chaos run "$EXP/gameday-matrix.cfg" --inventory "$INV"
ck_expect_eq "chaos run refuses a matrix file: exit 3" 3 "$RC"
for i in 1 2 3; do ck_expect_eq "matrix: no fault left on h$i" 0 "$(sch_faults "$i")"; done
ck_finish
