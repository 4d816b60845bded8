#!/usr/bin/env bash
# experiments/lab-cut-host-deviates.cfg: the probe of h1's own service fails while h1 is cut off,
# so the hypothesis deviates (exit 1); the fault is still reverted and the reports show the failure.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
e2e_require
e2e_lab_up ckt-e2e3 3

e2e_kernel_state >"$CK_TMP/kernel-before.txt"
e2e_run dev "$CK_EXPERIMENTS/lab-cut-host-deviates.cfg"

ck_expect_eq "chaos run exits 1 (hypothesis deviated)" 1 "$RUN_RC"
ck_expect_eq "the journal's verdict is deviated, exit code 1" "deviated 1" "$(python3 "$CK_REPORT" verdict "$RUN_JOURNAL" 2>&1)"
e2e_expect_faults "the journal has the blackhole applied and reverted on h1, nowhere else" \
	"applied h1 blackhole|reverted h1 blackhole ok ended|"
probes=$(python3 "$CK_REPORT" probes "$RUN_JOURNAL")
ck_expect_eq "the only failed probe is h1's, during the fault" "during h1 web answers failed" \
	"$(echo "$probes" | grep failed || true)"
ck_check "h1's probe passed before the fault" grep -qx "before h1 web answers ok" <<<"$probes"
ck_check "h1's probe passed again after the revert" grep -qx "after h1 web answers ok" <<<"$probes"
ck_check "h2's probe passed during the fault" grep -qx "during h2 web answers ok" <<<"$probes"
# Two failures: the during-check of h1's probe, and its recovery case (a probe that must stay ok deviated).
e2e_check_junit_matches_journal 2
ck_check "the JUnit failure names the failed probe" grep -q 'h1 web answers' "$RUN_JUNIT"
e2e_check_no_faults_left
e2e_check_kernel_restored "$CK_TMP/kernel-before.txt"
e2e_lab_down
ck_finish
