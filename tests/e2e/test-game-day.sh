#!/usr/bin/env bash
# The DC blackout game day (experiments/dc-blackout.cfg) on the 9-host lab with Prometheus:
# every dc1 host (h1, h4, h7) loses its network and has its demo services frozen for 15 s, all
# three at once. Talk holds through failover; login (dc1 only) and talk's /send deviate as the
# documented dependency and recover; the journal carries the start skew and the recovery figures;
# the frozen services run again afterwards and every namespace's kernel state is as before.
# Then the game day gone wrong (gameday-abort.cfg): every DC dark, the abort condition fires,
# everything is reverted at once and the run ends as aborted.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
e2e_require
e2e_require_gameday

e2e_lab_up ckt-e2e7 9 --prometheus
e2e_kernel_state >"$CK_TMP/kernel-before.txt"
e2e_demo_pids >"$CK_TMP/demo-pids.txt"
login_pid=$(awk '$2 == "login" {print $3}' "$CK_TMP/demo-pids.txt")
dc1_talk_pids=$(awk '$2 == "talk" && ($1 == "h1" || $1 == "h4" || $1 == "h7") {print $3}' "$CK_TMP/demo-pids.txt")
other_talk_pids=$(awk '$2 == "talk" && $1 != "h1" && $1 != "h4" && $1 != "h7" {print $3}' "$CK_TMP/demo-pids.txt")

e2e_run_start game-day "$CK_EXPERIMENTS/dc-blackout.cfg"

# --- during the outage: the dc1 services are frozen, the others run, the network of dc1 is cut
all_stopped() { local p; for p in "$@"; do [ "$(e2e_proc_state "$p")" = T ] || return 1; done; }
# shellcheck disable=SC2086 # the pid lists are meant to split
ck_check "during the outage the login service and the talk services of h1, h4, h7 are frozen (state T)" \
	ck_wait_for 10 all_stopped "$login_pid" $dc1_talk_pids
frozen_elsewhere=""
for p in $other_talk_pids; do [ "$(e2e_proc_state "$p")" = T ] && frozen_elsewhere="$frozen_elsewhere $p"; done
ck_expect_eq "no talk service outside dc1 is frozen" "" "$frozen_elsewhere"
ck_check "during the outage h4 cannot be reached from the ctl namespace" \
	bash -c "! ip netns exec $LAB_CTL curl -sf --max-time 1 http://10.77.0.14:8080/health"
ck_expect_eq "during the outage h5 (dc2) still talks" "talk from h5" "$(e2e_curl_ctl http://10.77.0.15:8080/talk || true)"
ck_expect_eq "during the outage h5's /send fails: login is unreachable (503)" 503 \
	"$(ip netns exec "$LAB_CTL" curl -s -o /dev/null -w '%{http_code}' --max-time 3 http://10.77.0.15:8080/send || true)"

e2e_run_wait

# --- the verdict and the journal
ck_expect_eq "chaos run exits 0: the hypothesis held" 0 "$RUN_RC"
ck_expect_eq "the journal says held" "held 0" "$(python3 "$CK_REPORT" verdict "$RUN_JOURNAL" 2>&1)"
ck_expect_eq "no abort condition fired" null "$(python3 "$CK_REPORT" key "$RUN_JOURNAL" aborted_by 2>&1)"
python3 "$CK_REPORT" recovery "$RUN_JOURNAL" >"$CK_TMP/recovery.txt" 2>&1 || true
sed 's/^/  # /' "$CK_TMP/recovery.txt"
ck_check "talk held: it never deviated" grep -qx 'talk answers|ok|deviated=no|recovered=yes|detect=null|recover=null' "$CK_TMP/recovery.txt"
ck_check "login deviated as documented, was detected and recovered within the window" \
	grep -qE '^login answers\|deviate\|deviated=yes\|recovered=yes\|detect=[0-9]+\|recover=[0-9]+$' "$CK_TMP/recovery.txt"
ck_check "talk's /send deviated with login, was detected and recovered" \
	grep -qE '^talk /send works\|deviate\|deviated=yes\|recovered=yes\|detect=[0-9]+\|recover=[0-9]+$' "$CK_TMP/recovery.txt"
ck_check "the Prometheus probe held" \
	grep -qx 'talk up in 2+ DCs (Prometheus)|ok|deviated=no|recovered=yes|detect=null|recover=null' "$CK_TMP/recovery.txt"
# Sampled every second (about 2 s per sample with the 1 s timeouts); 15 s of outage: detection
# comes within a few samples, well before the outage ends (generous for a loaded machine).
detect=$(sed -nE 's/^login answers\|.*\|detect=([0-9]+)\|.*/\1/p' "$CK_TMP/recovery.txt")
ck_check "login's deviation was detected within 10 s of the injection (got ${detect:-none} ms)" \
	test "${detect:-99999}" -le 10000
ck_check "the Prometheus probe saw talk up in exactly 2 DCs while dc1 was dark (a sample with value 2)" \
	grep -q ' ok value 2$' <(python3 "$CK_REPORT" samples "$RUN_JOURNAL" "talk up in 2+ DCs (Prometheus)")
steps=$(python3 "$CK_REPORT" steps "$RUN_JOURNAL" 2>&1)
ck_log "steps: $steps"
ck_check "one step: host-outage on dc1 = h1, h4, h7, with the start skew across agents reported" \
	grep -qE '^host-outage dc1 h1,h4,h7 skew=[0-9]+$' <<<"$steps"
skew=$(sed -nE 's/.*skew=([0-9]+)$/\1/p' <<<"$steps")
ck_check "the start skew is below 2 s: the three agents went dark together (got ${skew:-none} ms)" \
	test "${skew:-99999}" -lt 2000
ck_expect_eq "the journal lists 3 host-outage applications and 3 reverts" \
	"applied=3 reverted=3" \
	"applied=$(python3 "$CK_REPORT" faults "$RUN_JOURNAL" | grep -c '^applied .* host-outage') reverted=$(python3 "$CK_REPORT" faults "$RUN_JOURNAL" | grep -c '^reverted .* host-outage ok')"
ck_expect_eq "h1's agent froze 2 processes (talk and login)" 2 "$(python3 "$CK_REPORT" stat "$RUN_JOURNAL" h1 processes_frozen)"
ck_expect_eq "h4's agent froze 1 process (talk)" 1 "$(python3 "$CK_REPORT" stat "$RUN_JOURNAL" h4 processes_frozen)"
ck_check "chaos run prints the recovery table (probe, expected, deviated, detect, recover)" \
	grep -qE '^ *login answers +deviate +YES +[0-9.]+m?s +[0-9.]+m?s' "$RUN_LOG"

# --- the game day gone wrong: every DC dark; the abort condition reverts everything at once
t0=$(date +%s%N)
e2e_run abort "$CK_SOURCE_DIR/tests/e2e/gameday-abort.cfg"
abort_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ck_expect_eq "blacking out every DC ends the run as aborted (exit 2)" 2 "$RUN_RC"
ck_expect_eq "the journal names the abort condition that fired" '"some talk replica answers"' \
	"$(python3 "$CK_REPORT" key "$RUN_JOURNAL" aborted_by 2>&1)"
ck_check "the abort reverted long before the 60 s outage would have ended (run took ${abort_ms} ms)" \
	test "$abort_ms" -lt 30000
ck_expect_eq "all 9 outages were applied and reverted" "applied=9 reverted=9" \
	"applied=$(python3 "$CK_REPORT" faults "$RUN_JOURNAL" | grep -c '^applied .* host-outage') reverted=$(python3 "$CK_REPORT" faults "$RUN_JOURNAL" | grep -c '^reverted .* host-outage ok')"

# --- afterwards (both runs): everything as it was
not_running=""
while read -r host what pid; do
	state=$(e2e_proc_state "$pid")
	case $state in S|R) ;; *) not_running="$not_running $host/$what:$state" ;; esac
done <"$CK_TMP/demo-pids.txt"
ck_expect_eq "every demo service runs again (none frozen, none gone)" "" "$not_running"
ck_expect_eq "h1 talks again" "talk from h1" "$(e2e_curl_ctl http://10.77.0.11:8080/talk || true)"
ck_expect_eq "h7's /send works again (login is back)" "sent by h7" "$(e2e_curl_ctl http://10.77.0.17:8080/send || true)"
e2e_check_no_faults_left
e2e_check_kernel_restored "$CK_TMP/kernel-before.txt"
e2e_lab_down
ck_finish
