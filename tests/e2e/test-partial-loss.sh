#!/usr/bin/env bash
# experiments/lab-partial-loss.cfg: 30% loss on h2's answers from port 8080 really drops
# packets (the agent's counters, and a burst of requests that gets slow), a retrying client still
# gets its answers, so the hypothesis holds (exit 0); the fault ends on h2 only.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
e2e_require
e2e_lab_up ckt-e2e4 3

e2e_kernel_state >"$CK_TMP/kernel-before.txt"
e2e_run_start loss "$CK_EXPERIMENTS/lab-partial-loss.cfg"
if ck_wait_for 10 e2e_faults_are 2 1; then
	# 20 fresh connections without retries: with 30% of h2's packets dropped, some must stall
	# on a retransmission (the chance that none of ~100 packets is dropped is about 1e-15).
	slow=0
	for _ in $(seq 20); do
		t0=$(date +%s%N)
		ip netns exec "$LAB_CTL" curl -s -o /dev/null --max-time 1 http://10.77.0.12:8080/health || true
		[ $(( ($(date +%s%N) - t0) / 1000000 )) -ge 150 ] && slow=$((slow + 1))
	done
	ck_log "$slow of 20 requests to h2 took >= 150 ms during the loss"
	ck_check "some requests to h2 stall on retransmissions during the loss" test "$slow" -ge 1
	ck_expect_eq "h1 holds no fault" 0 "$(e2e_active_faults 1)"
else
	ck_expect_eq "h2's agent reports the packet loss while the run goes on" 1 "$(e2e_active_faults 2)"
fi
e2e_run_wait

e2e_expect_held
e2e_expect_faults "the journal has the packet loss applied and reverted on h2, nowhere else" \
	"applied h2 packet-loss|reverted h2 packet-loss ok ended|"
matched=$(python3 "$CK_REPORT" stat "$RUN_JOURNAL" h2 packets_matched)
dropped=$(python3 "$CK_REPORT" stat "$RUN_JOURNAL" h2 packets_dropped)
ck_log "h2 fault: $dropped of $matched matched packets dropped"
ck_check "the fault dropped packets on h2 ($dropped of $matched)" test "$dropped" -gt 0
# 30% requested; binomial noise on a few hundred packets stays well inside 10%..60%.
ck_check "the share dropped is roughly 30% ($dropped of $matched)" \
	test "$matched" -gt 0 -a $((dropped * 100)) -ge $((matched * 10)) -a $((dropped * 100)) -le $((matched * 60))
e2e_check_junit_matches_journal 0
e2e_check_no_faults_left
e2e_check_kernel_restored "$CK_TMP/kernel-before.txt"
e2e_lab_down
ck_finish
