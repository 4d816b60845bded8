#!/usr/bin/env bash
# experiments/lab-slow-dc.cfg: 300 ms (normal jitter 30 ms) on everything h2's web service sends
# really slows its answers (the probe's latencies during the fault, the agent's delay counters),
# the 1.5 s SLO holds, the 200 ms expectation deviates and recovers, the hypothesis holds (exit 0),
# and nothing is left in any namespace afterwards (no TAP device, no tc program).
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
e2e_require
e2e_require_kind delay
e2e_lab_up ckt-e2eslow 3

e2e_kernel_state >"$CK_TMP/kernel-before.txt"
e2e_run_start slow "$CK_EXPERIMENTS/lab-slow-dc.cfg"
e2e_run_wait

e2e_expect_held
e2e_expect_faults "the journal has the delay applied and reverted on h2 (dc2), nowhere else" \
	"applied h2 delay|reverted h2 delay ok ended|"
backend=$(python3 "$CK_REPORT" stat-text "$RUN_JOURNAL" h2 backend)
delayed=$(python3 "$CK_REPORT" stat "$RUN_JOURNAL" h2 packets_delayed)
ck_log "h2 delay: backend $backend, $delayed packets delayed"
ck_check "the fault says which backend it used ($backend)" test -n "$backend"
ck_check "the fault delayed packets on h2 ($delayed)" test "${delayed:-0}" -gt 0

# Two delayed packets (SYN-ACK, answer) per request: samples during the fault take >= 500 ms,
# samples long after it (recovery window) are back under 200 ms.
python3 "$CK_REPORT" latencies "$RUN_JOURNAL" "h2 talk within the 1.5 s SLO" >"$CK_TMP/lat.txt"
sed 's/^/#   sample t_ms latency_ms: /' "$CK_TMP/lat.txt"
slow=$(awk '$2 >= 500 && $2 <= 1500' "$CK_TMP/lat.txt" | wc -l)
fast=$(awk '$2 < 200' "$CK_TMP/lat.txt" | wc -l)
ck_check "at least 4 samples took 500..1500 ms during the delay ($slow)" test "$slow" -ge 4
ck_check "samples after the revert are fast again ($fast under 200 ms)" test "$fast" -ge 2
rec=$(python3 "$CK_REPORT" recovery "$RUN_JOURNAL")
echo "$rec" | sed 's/^/#   recovery: /'
ck_check "the 1.5 s SLO never deviated" grep -q '^h2 talk within the 1.5 s SLO|ok|deviated=no' <<<"$rec"
ck_check "the 200 ms expectation deviated and recovered" \
	grep -q '^h2 talk within 200 ms|deviate|deviated=yes|recovered=yes' <<<"$rec"
e2e_check_junit_matches_journal 0
e2e_check_no_faults_left
ck_expect_eq "no delay-line TAP device left in any lab namespace" "" \
	"$(for ns in $(ip netns list | awk '{print $1}' | grep "^$LAB_PREFIX-"); do ip -n "$ns" -o link show | grep -o ' ckd[^:@]*'; done)"
e2e_check_kernel_restored "$CK_TMP/kernel-before.txt"
e2e_lab_down
ck_finish
