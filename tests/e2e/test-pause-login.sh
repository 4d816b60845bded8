#!/usr/bin/env bash
# experiments/lab-pause-login.cfg: process-pause freezes exactly h1's login service (state T while
# the fault is on; h1's talk service and every other process keep running), login and /send
# deviate and recover after the resume, talk holds, exit 0, and the login process is the same
# process afterwards (same pid, running).
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
e2e_require
e2e_require_kind process-pause
e2e_lab_up ckt-e2epause 3

login_pid=$(cat "$LAB_DIR/h1/login.pid")
talk_pid=$(cat "$LAB_DIR/h1/demo.pid")
ck_expect_eq "login runs before the experiment" S "$(e2e_proc_state "$login_pid" | tr R S)"
e2e_run_start pause "$CK_EXPERIMENTS/lab-pause-login.cfg"
login_frozen() { [ "$(e2e_proc_state "$login_pid")" = T ]; }
ck_wait_for 20 login_frozen || { sed "s/^/  | /" "$RUN_LOG"; ck_die "login was never frozen"; }
ck_log "login (pid $login_pid) frozen"
ck_check "h1's talk service is not frozen" test "$(e2e_proc_state "$talk_pid")" != T
e2e_run_wait

e2e_expect_held
e2e_expect_faults "the journal has the pause applied and ended on h1 only" \
	"applied h1 process-pause|reverted h1 process-pause ok ended|"
frozen=$(python3 "$CK_REPORT" stat "$RUN_JOURNAL" h1 processes_frozen)
ck_expect_eq "exactly one process was frozen (the login service)" 1 "$frozen"
rec=$(python3 "$CK_REPORT" recovery "$RUN_JOURNAL")
echo "$rec" | sed 's/^/#   recovery: /'
ck_check "talk never deviated" grep -q '^talk answers|ok|deviated=no' <<<"$rec"
ck_check "login deviated and recovered" grep -q '^login answers|deviate|deviated=yes|recovered=yes' <<<"$rec"
ck_check "/send deviated and recovered" grep -q '^talk /send works|deviate|deviated=yes|recovered=yes' <<<"$rec"
ck_check "the login service runs again, same process" test "$(e2e_proc_state "$login_pid")" != T
login_answers() { e2e_curl_ctl "http://10.77.0.11:8081/health" >/dev/null; }
ck_check "the login service answers again" login_answers
e2e_check_junit_matches_journal 0
e2e_check_no_faults_left
e2e_lab_down
ck_finish
