#!/usr/bin/env bash
# experiments/nightly/ as a nightly suite (chaos run DIR/) on the lab: both experiments run in name
# order and hold, one JUnit file has a test case per experiment with no failure, one journal and
# one HTML page per experiment land in the output directory, and no fault is left anywhere.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
e2e_require
e2e_lab_up ckt-e2e10 3

e2e_kernel_state >"$CK_TMP/kernel-before.txt"
OUT=$CK_TMP/nightly-out/
rc=0
"$CK_CHAOS" --netns "$LAB_CTL" run "$CK_EXPERIMENTS/nightly/" --inventory "$LAB_INVENTORY" \
	--junit "$CK_TMP/nightly.xml" --journal "$OUT" --html "$OUT" >"$CK_TMP/nightly.log" 2>&1 || rc=$?
sed 's/^/  | /' "$CK_TMP/nightly.log"

ck_expect_eq "the suite exits 0 (every experiment held)" 0 "$rc"
ck_expect_eq "JUnit: one test case per experiment, none failed" \
	"tests=2 failures=0 cases=2 failure_elements=0" "$(python3 "$CK_REPORT" junit "$CK_TMP/nightly.xml" 2>&1)"
ck_expect_eq "JUnit test cases are the experiments, in name order" "10-cut-host|20-partial-loss|" \
	"$(python3 -c '
import sys, xml.etree.ElementTree as ET
print("".join(c.get("name").split(".cfg")[0].split("/")[-1] + "|" for c in ET.parse(sys.argv[1]).iter("testcase")))' "$CK_TMP/nightly.xml")"
for exp in 10-cut-host 20-partial-loss; do
	ck_expect_eq "$exp: journal verdict held" "held 0" "$(python3 "$CK_REPORT" verdict "$OUT/$exp.json" 2>&1)"
	ck_check "$exp: an HTML report was written" test -s "$OUT/$exp.html"
done
e2e_check_no_faults_left
e2e_check_kernel_restored "$CK_TMP/kernel-before.txt"
e2e_lab_down
ck_finish
