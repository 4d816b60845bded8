#!/usr/bin/env bash
# chaos run DIR/ against real agents in namespaces: every *.cfg in name order (an include
# file left out, a matrix file run as chaos matrix), one JUnit file with a testcase per
# experiment, the summary line, exit code = worst run, a journal and an HTML report per
# experiment into directories; the page of a real run in Chromium. More in suite_more.sh.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/scheduler/sched_lib.sh"
sch_setup ckt-rep-s 2
SUITE=$CK_SOURCE_DIR/tests/reports/suite

# ---- the whole directory: held, deviated, aborted, invalid, matrix -> exit 3 (the worst)
sch_chaos run "$SUITE/" --inventory "$INV" --junit "$CK_TMP/suite.xml" --journal "$CK_TMP/journals/" --html "$CK_TMP/html/"
ck_expect_eq "suite: exit 3 (invalid beats aborted beats deviated)" 3 "$RC"
ck_check "suite: the include file is left out" grep -q 'hosts.cfg is no experiment' <<<"$OUT"
ck_expect_eq "suite: experiments in name order with their verdicts" \
	"10-held.cfg: held (exit 0)|20-deviated.cfg: deviated (exit 1)|30-unsteady.cfg: aborted (exit 2)|40-invalid.cfg: invalid (exit 3)|50-matrix.cfg: completed (exit 0)|" \
	"$(grep -o '^suite: \[[0-9]/5\] [^ ]*: [a-z]* (exit [0-9])' <<<"$OUT" | sed 's/^suite: \[[0-9]\/5\] //' | tr '\n' '|')"
ck_check "suite: summary line" \
	grep -qE "^suite $SUITE/: 5 experiment\(s\) in [0-9.]+s: 2 held, 1 deviated, 1 aborted, 1 invalid \(exit 3\)$" <<<"$OUT"
ck_check "suite: the invalid file's problem with file:line on the way" grep -q '40-invalid.cfg:5: unknown fault kind "explode"' <<<"$OUT"
ck_check "suite: the matrix table was printed" grep -q 'h1 serves' <<<"$(grep -A4 -i 'matrix' <<<"$OUT")"
ck_expect_eq "suite: JUnit testcases, outcomes and types" \
	"10-held.cfg:pass|20-deviated.cfg:failure/deviated|30-unsteady.cfg:error/aborted|40-invalid.cfg:error/invalid|50-matrix.cfg:pass|" \
	"$(python3 - "$CK_TMP/suite.xml" <<'EOF'
import sys, xml.etree.ElementTree as E
out = ""
for tc in E.parse(sys.argv[1]).getroot().iter("testcase"):
    bad = [c for c in tc if c.tag in ("failure", "error", "skipped")]
    out += "%s:%s|" % (tc.get("name"), "%s/%s" % (bad[0].tag, bad[0].get("type")) if bad else "pass")
print(out)
EOF
)"
ck_expect_eq "suite: JUnit totals" 'tests="5" failures="1" errors="2" skipped="0"' \
	"$(grep -o 'tests="[0-9]*" failures="[0-9]*" errors="[0-9]*" skipped="[0-9]*"' "$CK_TMP/suite.xml" | head -1)"
ck_check "suite: the deviation is explained in the failure" \
	grep -q 'probe &quot;h1 serves&quot; (expected ok): deviated, detected after' "$CK_TMP/suite.xml"
ck_check "suite: the abort is explained in the error" grep -q 'message="aborted: the steady state does not hold before' "$CK_TMP/suite.xml"
ck_check "suite: the invalid file's line is in the error" grep -q '40-invalid.cfg:5: unknown fault kind' "$CK_TMP/suite.xml"
ck_expect_eq "suite: a journal per experiment that ran" "10-held.json 20-deviated.json 30-unsteady.json 50-matrix.json" \
	"$(cd "$CK_TMP/journals" && echo *)"
ck_expect_eq "suite: an HTML report per experiment that ran" "10-held.html 20-deviated.html 30-unsteady.html 50-matrix.html" \
	"$(cd "$CK_TMP/html" && echo *)"
ck_expect_eq "suite: journal verdicts" "held deviated aborted" \
	"$(for f in 10-held 20-deviated 30-unsteady; do sch_json "$CK_TMP/journals/$f.json" 'j["verdict"]'; done | tr '\n' ' ' | sed 's/ $//')"
ck_expect_eq "suite: the matrix journal has a run per domain" 2 "$(sch_json "$CK_TMP/journals/50-matrix.json" 'len(j["runs"])')"
for i in 1 2; do ck_expect_eq "suite: no fault left on h$i" 0 "$(sch_faults "$i")"; done

# ---- the report of a real run, in Chromium (when installed)
CHROMIUM=$(command -v chromium || true)
if [ -n "$CHROMIUM" ]; then
	dom() {
		local profile
		profile=$(mktemp -d "$CK_TMP/profile.XXXXXX")
		timeout 40 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
			--disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
			--dump-dom "file://$1" 2>/dev/null
	}
	dom "$CK_TMP/html/20-deviated.html" >"$CK_TMP/dev.dom"
	q() { python3 "$CK_SOURCE_DIR/tests/reports/dom_query.py" "$CK_TMP/dev.dom" "$@"; }
	J=$CK_TMP/journals/20-deviated.json
	ck_expect_eq "real run: verdict shown" deviated "$(q attr verdict data-verdict | head -1)"
	ck_expect_eq "real run: one fault bar on h1" "1 h1" "$(q count fault-bar) $(q attr fault-bar data-hosts)"
	ck_expect_eq "real run: a mark per sample" "$(sch_json "$J" 'len(j["samples"])')" "$(q count mark.sample)"
	ck_expect_eq "real run: deviated marks = failed samples" "$(sch_json "$J" 'sum(not s["ok"] for s in j["samples"])')" \
		"$(q count mark.sample.deviated)"
	ck_check "real run: some samples failed during the cut" test "$(q count mark.sample.deviated)" -gt 0
	ck_expect_eq "real run: detection and recovery marks" "1 1" "$(q count mark-detect) $(q count mark-recover)"
	ck_expect_eq "real run: recovery table" 1 "$(q rows recovery)"
else
	ck_log "chromium is not installed: the real run's report is not rendered"
fi

# CK_REPORTS_OUT=DIR keeps the pages of this run for a look
if [ -n "${CK_REPORTS_OUT:-}" ]; then mkdir -p "$CK_REPORTS_OUT" && cp "$CK_TMP"/html/*.html "$CK_REPORTS_OUT/"; fi

# ---- usage errors
mkdir -p "$CK_TMP/empty"
sch_chaos run "$CK_TMP/empty" --inventory "$INV"
ck_expect_eq "an empty directory: exit 3" 3 "$RC"
ck_check "an empty directory: says so" grep -q 'holds no experiment file' <<<"$OUT"
ck_finish
