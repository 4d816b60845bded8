#!/usr/bin/env bash
# The HTML report rendered in headless Chromium: for each fixture journal (tests/reports/*.json,
# written to contracts-3.md; one from before sampling existed; one a real run wrote), the DOM after the page's script
# ran shows the verdict, one fault bar per step, one mark per sample, the detection / recovery
# marks, the recovery, steps and matrix tables; a screenshot is a real picture; the file
# references nothing outside itself and carries the journal intact.
source "$CK_TESTS_LIB"
[ -x "$CK_CHAOS" ] || ck_skip "chaos is not built ($CK_CHAOS)"
command -v python3 >/dev/null || ck_skip "python3 is needed to read the DOM"
CK_TMP=$(mktemp -d /tmp/ckt-rep-render.XXXXXX)
ck_on_exit "rm -rf '$CK_TMP'"
FIX=$CK_SOURCE_DIR/tests/reports
for name in gameday-deviated issue2-deviated aborted-partition matrix real-abort; do
	"$CK_CHAOS" report "$FIX/$name.json" --html "$CK_TMP/$name.html" || ck_die "chaos report $name.json failed"
done

# ---- self-contained: nothing outside the file is referenced; the journal rides along intact
for name in gameday-deviated issue2-deviated aborted-partition matrix real-abort; do
	ck_check "$name: no external reference outside the embedded journal" python3 - "$CK_TMP/$name.html" <<'EOF'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
start = page.index('<script type="application/json" id="journal">')
end = page.index("</script>", start)
outside = page[:start] + page[end:]
bad = re.findall(r"(?i)(?:https?:|ftp:|wss?:)//|\b(?:src|href|action|srcset|xlink:href)\s*=|url\(|@import|<link\b|<iframe\b|<img\b|fetch\(|XMLHttpRequest|import\(", outside)
if bad:
    sys.exit("external references: %s" % bad)
EOF
	ck_check "$name: the embedded journal equals the file it came from" python3 - "$CK_TMP/$name.html" "$FIX/$name.json" <<'EOF'
import json, sys
page = open(sys.argv[1], encoding="utf-8").read()
start = page.index('<script type="application/json" id="journal">') + len('<script type="application/json" id="journal">')
data = page[start:page.index("</script>", start)]
assert "<" not in data and ">" not in data, "raw < or > inside the JSON element"
assert json.loads(data) == json.load(open(sys.argv[2])), "journal changed on the way"
EOF
done
ck_check "aborted: the journal's URLs are in the data (so the check above looked at the right part)" \
	grep -q 'http://10.77.0.11:8080/talk' "$CK_TMP/aborted-partition.html"

# ---- JUnit from journal files: the form follows the journal
"$CK_CHAOS" report "$FIX/issue2-deviated.json" --junit "$CK_TMP/run.xml"
ck_expect_eq "report --junit of a run: a testcase per check, fault and rollback" 'tests="8" failures="1"' \
	"$(grep -o 'tests="[0-9]*" failures="[0-9]*"' "$CK_TMP/run.xml")"
"$CK_CHAOS" report "$FIX/matrix.json" --junit "$CK_TMP/matrix.xml"
ck_expect_eq "report --junit of a matrix: a testcase per probe and outage, a failure per deviated cell" \
	'tests="9" failures="3"' "$(grep -o 'tests="[0-9]*" failures="[0-9]*"' "$CK_TMP/matrix.xml" | head -1)"

# ---- chaos report errors
rc=0; "$CK_CHAOS" report "$CK_TMP/missing.json" --html "$CK_TMP/x.html" 2>"$CK_TMP/err" || rc=$?
ck_expect_eq "report of a missing journal: exit 3" 3 "$rc"
printf '{"title": "x", "events": [' >"$CK_TMP/broken.json"
rc=0; "$CK_CHAOS" report "$CK_TMP/broken.json" --html "$CK_TMP/x.html" 2>"$CK_TMP/err" || rc=$?
ck_expect_eq "report of broken JSON: exit 3" 3 "$rc"
rc=0; "$CK_CHAOS" report "$FIX/matrix.json" 2>"$CK_TMP/err" || rc=$?
ck_expect_eq "report without an output: usage error" 3 "$rc"
# ---- in the browser
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
	[ "$CK_FAILS" -eq 0 ] || ck_finish
	ck_skip "chromium is not installed (Debian package chromium; scripts/install-deps.sh); the checks without a browser passed"
fi

# chromium ARGS... URL: headless, no network services, a throwaway profile.
chromium_run() {
	local profile
	profile=$(mktemp -d "$CK_TMP/profile.XXXXXX")
	timeout 40 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --hide-scrollbars \
		--user-data-dir="$profile" "$@" 2>"$CK_TMP/chromium.log"
}
render() { # NAME: NAME.html -> NAME.dom
	chromium_run --dump-dom "file://$CK_TMP/$1.html" >"$CK_TMP/$1.dom" || { cat "$CK_TMP/chromium.log"; ck_die "chromium failed on $1"; }
}
q() { python3 "$FIX/dom_query.py" "$CK_TMP/$1.dom" "${@:2}"; }
fx() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$FIX/$1.json"; }

# ---- a game day that deviated: every new journal field
render gameday-deviated
ck_expect_eq "gameday: the script ran" yes "$(q gameday-deviated attr verdict data-verdict >/dev/null; grep -o 'data-rendered="yes"' "$CK_TMP/gameday-deviated.dom" | head -1 | cut -d'"' -f2)"
ck_expect_eq "gameday: verdict" "DEVIATED the steady-state hypothesis did not hold (exit 1)" "$(q gameday-deviated text verdict)"
ck_expect_eq "gameday: title" "Datacenter dc1 burns: talk survives, login takes send down" "$(q gameday-deviated text title)"
ck_expect_eq "gameday: one fault bar per step" "$(fx gameday-deviated 'len(j["steps"])')" "$(q gameday-deviated count fault-bar)"
ck_expect_eq "gameday: the bar lists the step's hosts" "h1,h4,h7" "$(q gameday-deviated attr fault-bar data-hosts)"
ck_expect_eq "gameday: a mark per sample" "$(fx gameday-deviated 'len(j["samples"])')" "$(q gameday-deviated count mark.sample)"
ck_expect_eq "gameday: deviated marks = failed samples" "$(fx gameday-deviated 'sum(not s["ok"] for s in j["samples"])')" \
	"$(q gameday-deviated count mark.sample.deviated)"
ck_expect_eq "gameday: expected deviations drawn apart (login only)" \
	"$(fx gameday-deviated 'sum(not s["ok"] and s["probe"] == "login answers" for s in j["samples"])')" \
	"$(q gameday-deviated count mark.sample.expected)"
ck_expect_eq "gameday: a probe lane each" "talk answers login answers send answers" \
	"$(q gameday-deviated attr mark-detect data-probe | tr '\n' ' ' | sed 's/ $//')"
ck_expect_eq "gameday: detection marks" 3 "$(q gameday-deviated count mark-detect)"
ck_expect_eq "gameday: recovery marks" 3 "$(q gameday-deviated count mark-recover)"
ck_expect_eq "gameday: injection and revert lines" "1 1" \
	"$(q gameday-deviated count phase-line.inject) $(q gameday-deviated count phase-line.revert)"
ck_expect_eq "gameday: recovery table rows" "$(fx gameday-deviated 'len(j["recovery"])')" "$(q gameday-deviated rows recovery)"
ck_expect_eq "gameday: recovery table content" \
	"talk answers|ok|yes|2.00 s|0 ms|deviated
login answers|deviate (dependency)|yes|1.00 s|3.00 s|deviated as expected
send answers|ok|yes|2.04 s|5.04 s|deviated" "$(q gameday-deviated cells recovery)"
ck_expect_eq "gameday: start skew per step" "1|host-outage|dc1|h1, h4, h7|+1.2 s|20.0 s|14 ms" "$(q gameday-deviated cells steps)"
ck_expect_eq "gameday: faults per host" 3 "$(q gameday-deviated rows faults)"
ck_expect_eq "gameday: no abort box" 0 "$(q gameday-deviated count alert)"

# ---- a journal from before sampling (issue 2): verdict, faults and checks still show
render issue2-deviated
ck_expect_eq "issue2: verdict" DEVIATED "$(q issue2-deviated attr verdict data-verdict | tr a-z A-Z | head -1)"
ck_expect_eq "issue2: a title with </script> survives as text" \
	'Cutting h2 off leaves h1 serving </script><!-- not the end' "$(q issue2-deviated text title)"
ck_expect_eq "issue2: only the page's two scripts exist (journal text cannot add one)" 2 "$(q issue2-deviated tag script)"
ck_expect_eq "issue2: the fault bar comes from the events" "1 h2" \
	"$(q issue2-deviated count fault-bar) $(q issue2-deviated attr fault-bar data-hosts)"
ck_expect_eq "issue2: a mark per check" "$(fx issue2-deviated 'sum(e["type"] == "probe" for e in j["events"])')" \
	"$(q issue2-deviated count mark.sample)"
ck_expect_eq "issue2: one deviated mark" 1 "$(q issue2-deviated count mark.sample.deviated)"
ck_expect_eq "issue2: no recovery table, no detection marks" "0 0" \
	"$(q issue2-deviated rows recovery) $(q issue2-deviated count mark-detect)"
ck_expect_eq "issue2: checks table" 6 "$(q issue2-deviated rows checks)"
ck_check "issue2: the failed check's reason is shown as text" \
	grep -qF 'during|+1.6 s|h1 serves|DEVIATED|HTTP 503 (want 200) <script>alert(1)</script>|2 ms' <<<"$(q issue2-deviated cells checks)"

# ---- aborted by an abort condition during a partition
render aborted-partition
ck_expect_eq "aborted: verdict" ABORTED "$(q aborted-partition text verdict | cut -d' ' -f1)"
ck_check "aborted: the abort reason is shown" grep -q 'abort condition failed: some talk replica answers' <<<"$(q aborted-partition text abort)"
ck_expect_eq "aborted: an abort line" 1 "$(q aborted-partition count phase-line.abort)"
ck_expect_eq "aborted: not recovered within the window" 1 "$(q aborted-partition count mark-norecover)"
ck_expect_eq "aborted: the partition is one bar over both sides" "1 h1,h4,h7,h2,h5,h8" \
	"$(q aborted-partition count fault-bar) $(q aborted-partition attr fault-bar data-hosts)"
ck_check "aborted: the step names both sides" grep -q '^1|partition (blackhole both ways)|dc1 ⇄ dc2|' <<<"$(q aborted-partition cells steps)"

# ---- a journal a real run wrote (tests/scheduler/integration/gameday-abort.cfg: a partition,
# then the abort condition failed)
render real-abort
ck_expect_eq "real abort: verdict" aborted "$(q real-abort attr verdict data-verdict | head -1)"
ck_expect_eq "real abort: a mark per sample, abort condition included" "$(fx real-abort 'len(j["samples"])')" "$(q real-abort count mark.sample)"
ck_expect_eq "real abort: the abort condition's lane says what it is" "abort condition" \
	"$(grep -o '<text class="lane-sub"[^>]*>abort condition<' "$CK_TMP/real-abort.dom" | sed 's/.*>\(.*\)</\1/')"
ck_expect_eq "real abort: the partition bar, the abort line" "1 1" "$(q real-abort count fault-bar) $(q real-abort count phase-line.abort)"
ck_check "real abort: the reason" grep -q 'abort condition failed: h2 reaches h1' <<<"$(q real-abort text abort)"

# ---- a matrix journal: probe x domain table, then each outage's run
render matrix
ck_expect_eq "matrix: verdict" COMPLETED "$(q matrix text verdict | cut -d' ' -f1)"
ck_expect_eq "matrix: probe x domain table" \
	"talk answers|DEVIATED 2.0s→0.0s|ok|ok
login answers|DEVIATED 1.0s→3.0s|ok|ok
send answers|NOT RECOVERED|ok|ok" "$(q matrix cells matrix)"
ck_expect_eq "matrix: a section per run" "$(fx matrix 'len(j["runs"])')" "$(q matrix count run)"
ck_expect_eq "matrix: a fault bar per run" "$(fx matrix 'sum(len(r["steps"]) for r in j["runs"])')" "$(q matrix count fault-bar)"

# ---- the screenshot is a picture of the report, not a blank page
chromium_run --window-size=1280,1000 --screenshot="$CK_TMP/gameday.png" "file://$CK_TMP/gameday-deviated.html" >/dev/null ||
	{ cat "$CK_TMP/chromium.log"; ck_die "chromium --screenshot failed"; }
read -r w h colours red green purple < <(python3 "$FIX/png_check.py" "$CK_TMP/gameday.png" '#cf222e' '#1f883d' '#8250df')
ck_log "screenshot: ${w}x${h}, $(stat -c %s "$CK_TMP/gameday.png") bytes, $colours colours, verdict red $red px, ok green $green px, fault purple $purple px"
ck_expect_eq "screenshot: size" "1280x1000" "${w}x${h}"
ck_check "screenshot: many colours (text, marks, bars)" test "$colours" -gt 200
ck_check "screenshot: the big red verdict box" test "$red" -gt 20000
ck_check "screenshot: green ok marks" test "$green" -gt 500
ck_check "screenshot: the purple fault bar" test "$purple" -gt 2000

ck_finish
