#!/usr/bin/env bash
# experiments/lab-cut-host.cfg on the lab: h1 is really cut off (seen from outside while the run
# goes on), h2 and h3 keep answering, the hypothesis holds (exit 0), the fault is applied and
# reverted on h1 only, the reports say so, and every namespace ends as it began.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
e2e_require
e2e_lab_up ckt-e2e2 3

e2e_kernel_state >"$CK_TMP/kernel-before.txt"
e2e_run_start cut "$CK_EXPERIMENTS/lab-cut-host.cfg"

# While the blackhole is on (the agent says so), look at the lab from the control namespace.
if ck_wait_for 10 e2e_faults_are 1 1; then
	ck_check "during the fault h1's web service does not answer" bash -c "! ip netns exec $LAB_CTL curl -sf --max-time 1 http://10.77.0.11:8080/health"
	ck_check "during the fault h1 cannot reach h2 either (direction both)" \
		bash -c "! ip netns exec $LAB_PREFIX-h1 curl -sf --max-time 1 http://10.77.0.12:8080/health"
	ck_expect_eq "during the fault h2 answers" ok "$(e2e_curl_ctl http://10.77.0.12:8080/health || true)"
	ck_expect_eq "during the fault h3 answers" ok "$(e2e_curl_ctl http://10.77.0.13:8080/health || true)"
	ck_expect_eq "h2 holds no fault" 0 "$(e2e_active_faults 2)"
	ck_expect_eq "h3 holds no fault" 0 "$(e2e_active_faults 3)"
else
	ck_expect_eq "h1's agent reports the blackhole while the run goes on" 1 "$(e2e_active_faults 1)"
fi
e2e_run_wait

e2e_expect_held
e2e_expect_faults "the journal has the blackhole applied and reverted on h1, nowhere else" \
	"applied h1 blackhole|reverted h1 blackhole ok ended|"
ck_expect_eq "no probe failed" "" "$(python3 "$CK_REPORT" probes "$RUN_JOURNAL" | grep failed || true)"
ck_check "the probes of h2 and h3 ran during the fault" \
	test "$(python3 "$CK_REPORT" probes "$RUN_JOURNAL" | grep -c -E '^during (h2|h3) web answers ok$')" -ge 4
e2e_check_junit_matches_journal 0
e2e_check_no_faults_left
ck_expect_eq "after the run h1 answers again" ok "$(e2e_curl_ctl http://10.77.0.11:8080/health || true)"
e2e_check_kernel_restored "$CK_TMP/kernel-before.txt"
e2e_lab_down
ck_finish
