#!/usr/bin/env bash
# chaos run DIR/ against real agents, continued: results into one suite journal and page
# (exit 2 beats 1), chaos run FILE --html, an interrupted suite, --parallel.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/scheduler/sched_lib.sh"
sch_setup ckt-rep-m 2
SUITE=$CK_SOURCE_DIR/tests/reports/suite
CHROMIUM=$(command -v chromium || true)
dom() {
	local profile
	profile=$(mktemp -d "$CK_TMP/profile.XXXXXX")
	timeout 40 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
		--dump-dom "file://$1" 2>/dev/null
}

# ---- a subset into single files: deviated + aborted -> exit 2; one suite journal and page
mkdir -p "$CK_TMP/sub"
cp "$SUITE/20-deviated.cfg" "$SUITE/30-unsteady.cfg" "$CK_TMP/sub/"
sch_chaos run "$CK_TMP/sub" --inventory "$INV" --quiet --journal "$CK_TMP/sub.json" --html "$CK_TMP/sub.html" --junit "$CK_TMP/sub.xml"
ck_expect_eq "subset: exit 2 (aborted beats deviated)" 2 "$RC"
ck_check "subset: --quiet keeps the verdict and summary lines only" \
	test "$(grep -vc -e '^verdict: ' -e '^suite' <<<"$OUT")" -eq 0
ck_expect_eq "subset: one suite journal with both runs" "aborted 2 2 deviated,aborted" \
	"$(sch_json "$CK_TMP/sub.json" '"%s %d %d %s" % (j["verdict"], j["exit_code"], len(j["runs"]), ",".join(r["verdict"] for r in j["suite"]["results"]))')"
ck_check "subset: one HTML page carrying the suite journal" grep -q '<script type="application/json" id="journal">{"title":"suite ' "$CK_TMP/sub.html"
ck_check "subset: JUnit is well-formed" python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$CK_TMP/sub.xml"
if [ -n "$CHROMIUM" ]; then
	dom "$CK_TMP/sub.html" >"$CK_TMP/sub.dom"
	qs() { python3 "$CK_SOURCE_DIR/tests/reports/dom_query.py" "$CK_TMP/sub.dom" "$@"; }
	ck_expect_eq "subset page: worst verdict, a row per experiment, a section per run" "aborted 2 2" \
		"$(qs attr verdict data-verdict | head -1) $(qs rows suite) $(qs count run)"
fi

# ---- a single run with --html (no --journal): exit 0, the page carries its journal
sch_chaos run "$SUITE/10-held.cfg" --inventory "$INV" --quiet --html "$CK_TMP/held.html"
ck_expect_eq "single run --html: exit 0" 0 "$RC"
ck_check "single run --html: the page carries the run's journal" \
	grep -q '"title":"Cutting h2 off leaves h1 serving","file":' "$CK_TMP/held.html"
ck_check "single run --html: with its samples" grep -q '"samples":\[{"probe":"h1 serves"' "$CK_TMP/held.html"
ck_check "single run: no temporary journal left behind" test -z "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'chaos-matrix-*' -newer "$INV" 2>/dev/null)"

# ---- interrupted: the running experiment reverts and ends aborted, the rest is not run
mkdir -p "$CK_TMP/intr"
cp "$SUITE/10-held.cfg" "$SUITE/20-deviated.cfg" "$CK_TMP/intr/"
"$CK_CHAOS" --netns "$SCH_CTL" run "$CK_TMP/intr" --inventory "$INV" --junit "$CK_TMP/intr.xml" >"$CK_TMP/intr.log" 2>&1 &
run_pid=$!
ck_on_exit "kill -INT $run_pid"
ck_check "interrupted: the first experiment's fault is active on h2" ck_wait_for 5 sch_faults_are 2 1
kill -INT "$run_pid"
rc=0; wait "$run_pid" || rc=$?
sed 's/^/  | /' "$CK_TMP/intr.log"
ck_expect_eq "interrupted: exit 2" 2 "$rc"
ck_expect_eq "interrupted: the fault was reverted" 0 "$(sch_faults 2)"
ck_expect_eq "interrupted: JUnit: the running one aborted, the next one skipped" "10-held.cfg:error|20-deviated.cfg:skipped|" \
	"$(python3 -c '
import sys, xml.etree.ElementTree as E
print("".join("%s:%s|" % (t.get("name"), ([c.tag for c in t if c.tag in ("failure", "error", "skipped")] or ["pass"])[0])
              for t in E.parse(sys.argv[1]).getroot().iter("testcase")))' "$CK_TMP/intr.xml")"
ck_check "interrupted: the summary counts the skipped one" grep -q ', 1 skipped (exit 2)$' "$CK_TMP/intr.log"

# ---- --parallel: neighbours on disjoint hosts run at once; one sharing a host waits for them
mkdir -p "$CK_TMP/par"
# (their probes watch nothing the other faults touch: disjoint targets alone do not make
# experiments independent, see docs/nightly.md)
cut() { # NAME HOST
	cat >"$CK_TMP/par/$1.cfg" <<EOF
title = "cut $2 off";
targets = { victim = { select = "name = $2"; }; };
steady_state = { sample_every = "250ms"; recovery_window = "2s";
  probes = ( { name = "scheduler side"; command = { run = "true"; timeout = "1s"; }; } ); };
method = ( { fault = "blackhole"; target = "victim"; duration = "1500ms"; params = { direction = "both"; }; } );
safety = { lease_ttl = "3s"; };
EOF
}
cut 10-h2 h2
cut 20-h1 h1
cut 30-h2-again h2
sch_chaos run "$CK_TMP/par" --inventory "$INV" --parallel --journal "$CK_TMP/parj/" --junit "$CK_TMP/par.xml"
ck_expect_eq "parallel: exit 0" 0 "$RC"
ck_expect_eq "parallel: results in name order" "10-h2.cfg: held|20-h1.cfg: held|30-h2-again.cfg: held|" \
	"$(grep -o '^suite: \[[0-9]/3\] [^ ]*: [a-z]*' <<<"$OUT" | sed 's/^suite: \[[0-9]\/3\] //' | tr '\n' '|')"
ck_expect_eq "parallel: h2 and h1 overlapped, h2 again came after both" "overlap after" "$(python3 - "$CK_TMP/parj" <<'EOF2'
import datetime, json, sys
def span(name):
    j = json.load(open("%s/%s.json" % (sys.argv[1], name)))
    f = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    return f(j["started_at"]), f(j["ended_at"])
a, b, c = span("10-h2"), span("20-h1"), span("30-h2-again")
print("overlap" if a[0] < b[1] and b[0] < a[1] else "sequential", "after" if c[0] >= max(a[1], b[1]) else "during")
EOF2
)"
ck_expect_eq "parallel: JUnit has the three" 'tests="3" failures="0"' \
	"$(grep -o 'tests="[0-9]*" failures="[0-9]*"' "$CK_TMP/par.xml" | head -1)"
for i in 1 2; do ck_expect_eq "parallel: no fault left on h$i" 0 "$(sch_faults "$i")"; done
sch_chaos run "$SUITE/10-held.cfg" --inventory "$INV" --parallel
ck_expect_eq "--parallel with a single file: usage error" 3 "$RC"

ck_finish
