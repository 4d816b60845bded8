#!/usr/bin/env bash
# scripts/demo.sh (the README's first command) end to end, on its own prefix and dirs: it brings
# up the 9-host lab with Prometheus, runs the DC blackout game day (dc-blackout.cfg), prints the
# held verdict, the start skew and the recovery figures, leaves the reports (journal, JUnit, HTML)
# and tears the lab down, exiting with the run's code.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
e2e_require
e2e_require_gameday
ck_init ckt-e2e6
LAB_PREFIX=ckt-e2e6 LAB_DIR=$CK_TMP/lab
ck_on_exit "'$CK_LAB' down --prefix '$LAB_PREFIX' --dir '$LAB_DIR'"

rc=0 t0=$(date +%s)
CHAOSKIT_BUILD=$CK_BUILD_DIR CHAOSKIT_LAB_PREFIX=$LAB_PREFIX CHAOSKIT_LAB_DIR=$LAB_DIR \
	CHAOSKIT_DEMO_REPORTS=$CK_TMP/reports CHAOSKIT_NO_INSTALL=1 \
	"$CK_SOURCE_DIR/scripts/demo.sh" >"$CK_TMP/demo.log" 2>&1 || rc=$?
sed 's/^/  | /' "$CK_TMP/demo.log"
ck_log "demo.sh took $(( $(date +%s) - t0 )) s"

ck_expect_eq "demo.sh exits 0 (the run's exit code: held)" 0 "$rc"
ck_check "demo.sh brought up 9 hosts" grep -q "chaoskit lab is up: 9 hosts" "$CK_TMP/demo.log"
ck_check "demo.sh prints the verdict" grep -q "verdict: the hypothesis HELD" "$CK_TMP/demo.log"
ck_check "demo.sh shows the outage step with its start skew" \
	grep -qE "^=== step 1: host-outage on dc1 \(h1, h4, h7\) for 15.0s, start skew across the agents [0-9]+ ms" "$CK_TMP/demo.log"
ck_check "demo.sh shows that talk held" grep -qE "^ +talk answers +ok +no +- +- +held$" "$CK_TMP/demo.log"
ck_check "demo.sh shows login's detection and recovery times" \
	grep -qE "^ +login answers +deviate +yes +[0-9.]+s +[0-9.]+s +deviated as documented, recovered$" "$CK_TMP/demo.log"
ck_check "demo.sh shows /send's detection and recovery times" \
	grep -qE "^ +talk /send works +deviate +yes +[0-9.]+s +[0-9.]+s +deviated as documented, recovered$" "$CK_TMP/demo.log"
ck_check "demo.sh names where the reports are" grep -q "$CK_TMP/reports/journal.json" "$CK_TMP/demo.log"
ck_expect_eq "the journal says held" "held 0" "$(python3 "$CK_REPORT" verdict "$CK_TMP/reports/journal.json" 2>&1)"
ck_check "the JUnit report exists" test -s "$CK_TMP/reports/junit.xml"
ck_check "the HTML report exists and embeds the run" grep -q "dc-blackout" "$CK_TMP/reports/report.html"
ck_expect_eq "the demo tore the lab down" "" "$(ip netns list | awk '{print $1}' | grep -E "^$LAB_PREFIX-" || true)"
ck_check "the demo removed the lab dir" test ! -e "$LAB_DIR"
ck_finish
