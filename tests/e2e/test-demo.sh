#!/usr/bin/env bash
# scripts/demo.sh (the README's first command) end to end, on its own prefix and dirs: it brings
# the lab up, runs lab-cut-host.cfg, prints the held verdict, leaves the reports and tears the
# lab down, exiting with the run's code.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
e2e_require
ck_init ckt-e2e6
LAB_PREFIX=ckt-e2e6 LAB_DIR=$CK_TMP/lab
ck_on_exit "'$CK_LAB' down --prefix '$LAB_PREFIX' --dir '$LAB_DIR'"

rc=0
CHAOSKIT_BUILD=$CK_BUILD_DIR CHAOSKIT_LAB_PREFIX=$LAB_PREFIX CHAOSKIT_LAB_DIR=$LAB_DIR \
	CHAOSKIT_DEMO_REPORTS=$CK_TMP/reports CHAOSKIT_NO_INSTALL=1 \
	"$CK_SOURCE_DIR/scripts/demo.sh" >"$CK_TMP/demo.log" 2>&1 || rc=$?
sed 's/^/  | /' "$CK_TMP/demo.log"

ck_expect_eq "demo.sh exits 0 (the run's exit code: held)" 0 "$rc"
ck_check "demo.sh prints the verdict" grep -q "verdict: the hypothesis HELD" "$CK_TMP/demo.log"
ck_check "demo.sh shows the run live (the probes during the fault)" grep -q "check: h2 web answers: ok" "$CK_TMP/demo.log"
ck_check "demo.sh names where the reports are" grep -q "$CK_TMP/reports/journal.json" "$CK_TMP/demo.log"
ck_expect_eq "the journal says held" "held 0" "$(python3 "$CK_REPORT" verdict "$CK_TMP/reports/journal.json" 2>&1)"
ck_check "the JUnit report exists" test -s "$CK_TMP/reports/junit.xml"
ck_expect_eq "the demo tore the lab down" "" "$(ip netns list | awk '{print $1}' | grep -E "^$LAB_PREFIX-" || true)"
ck_check "the demo removed the lab dir" test ! -e "$LAB_DIR"
ck_finish
