#!/usr/bin/env bash
# The dependency matrix (experiments/dc-matrix.cfg) on the 9-host lab: a host outage of dc1, dc2
# and dc3 in turn. Talk survives every one of them (failover); login and talk's /send deviate for
# dc1 only and recover each time: /send, which runs in every DC, depends on dc1.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
e2e_require
e2e_require_gameday

e2e_lab_up ckt-e2e8 9
e2e_kernel_state >"$CK_TMP/kernel-before.txt"
RUN_JOURNAL=$CK_TMP/matrix.journal.json RUN_LOG=$CK_TMP/matrix.log RUN_RC=0
"$CK_CHAOS" --netns "$LAB_CTL" matrix "$CK_EXPERIMENTS/dc-matrix.cfg" --inventory "$LAB_INVENTORY" \
	--journal "$RUN_JOURNAL" --junit "$CK_TMP/matrix.junit.xml" >"$RUN_LOG" 2>&1 || RUN_RC=$?
sed 's/^/  | /' "$RUN_LOG"

ck_expect_eq "chaos matrix exits 0 (every outage ran to completion)" 0 "$RUN_RC"
ck_expect_eq "the matrix has the domains dc1 dc2 dc3, in order" "dc1 dc2 dc3" \
	"$(python3 "$CK_REPORT" matrix-domains "$RUN_JOURNAL" 2>&1)"
ck_expect_eq "cells: talk held for every DC; login and /send deviated (and recovered) for dc1 only" \
	"talk answers|ok|ok|ok
login answers|DEVIATED|ok|ok
talk /send works|DEVIATED|ok|ok" "$(python3 "$CK_REPORT" matrix "$RUN_JOURNAL" 2>&1)"
ck_expect_eq "the matrix journal holds one run per domain, each on that domain's hosts" \
	"host-outage dc1 h1,h4,h7|host-outage dc2 h2,h5,h8|host-outage dc3 h3,h6,h9|" \
	"$(python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["runs"]:
    for s in r["steps"]: print(s["kind"], s["target"], ",".join(s["hosts"]), end="|")' "$RUN_JOURNAL" 2>&1)"
ck_check "the table printed by chaos matrix shows /send DEVIATED detect->recover under dc1" \
	grep -qE '^talk /send works +DEVIATED [0-9.]+m?s->[0-9.]+m?s +ok +ok' "$RUN_LOG"
ck_check "the JUnit report exists" test -s "$CK_TMP/matrix.junit.xml"

e2e_check_no_faults_left
e2e_check_kernel_restored "$CK_TMP/kernel-before.txt"
e2e_lab_down
ck_finish
