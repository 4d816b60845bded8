#!/usr/bin/env bash
# memory-stress through a real agent:
# 1. size 64 MiB, system-wide: the stressor's VmRSS reaches >= 60 MiB, the stats say
#    so, oom_score_adj is 1000; after DELETE the stressor is gone;
# 2. percent 50 of a v1 memory cgroup limited to 128 MiB, placed there by cgroup: the
#    cgroup's usage rises by >= 60 MiB and falls back after DELETE (memory freed);
# 3. more than the cgroup allows (200 MiB in 128 MiB) next to a victim in the same
#    cgroup: the OOM killer takes the stressor (oom_score_adj 1000), never the victim.
. "$CK_TESTS_LIB"
ck_init ckt-st-mem
. "$CK_SOURCE_DIR/tests/faults/stress-lib.sh"
st_require
st_setup
st_agent "$CK_TMP/agent.log"
MiB=$((1024 * 1024))
st_rss() { awk '/^VmRSS/ { print $2 * 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
st_rss_at_least() { [ "$(st_rss "$1")" -ge "$2" ]; }

# --- 1 -------------------------------------------------------------------------------
sc_apply memory-stress '{"size": "64MiB"}' || ck_die "apply: $SC_RESP"
st_wait_stressors 1
pid=$ST_PIDS
ck_check "64MiB: VmRSS reaches 60 MiB" ck_wait_for 10 st_rss_at_least "$pid" $((60 * MiB))
ck_log "64MiB: VmRSS $(( $(st_rss "$pid") / 1024 )) KiB"
ck_expect_eq "64MiB: stats bytes_requested" $((64 * MiB)) "$(sc_stat bytes_requested)"
r=$(sc_stat bytes_resident)
ck_check "64MiB: stats bytes_resident >= 60 MiB ($r)" test "$r" -ge $((60 * MiB))
ck_expect_eq "64MiB: oom_score_adj" 1000 "$(cat "/proc/$pid/oom_score_adj")"
ck_expect_eq "64MiB: comm" chaos-memstress "$(cat "/proc/$pid/comm")"
sc_revert
ck_check "64MiB: DELETE: the stressor is gone within 1 s" st_gone_within 1 "$pid"

sc_apply memory-stress '{"size": "64TiB"}' && ck_die "applied a size above MemTotal"
ck_expect_eq "64TiB: refused (not_applicable)" 422 "${SC_RESP%% *}"
ck_check "64TiB: the error names the host's memory" grep -q "more than this host's memory" <<<"$SC_RESP"
ck_check "64TiB: no stressor" test -z "$(st_stressors)"

# --- 2 -------------------------------------------------------------------------------
st_v1_cgroup memory "$CK_PREFIX-limit"
LIMIT_CG=$ST_CG
echo $((128 * MiB)) >"$LIMIT_CG/memory.limit_in_bytes"
use0=$(cat "$LIMIT_CG/memory.usage_in_bytes")
sc_apply memory-stress "{\"percent\": 50, \"cgroup\": \"$LIMIT_CG\"}" || ck_die "apply: $SC_RESP"
st_wait_stressors 1
pid=$ST_PIDS
ck_check "percent: the stressor is in the memory cgroup" st_in_cgroup "$pid" "$LIMIT_CG"
ck_expect_eq "percent: 50 % of the cgroup's 128 MiB limit" $((64 * MiB)) "$(sc_stat bytes_requested)"
grown() { [ $(( $(cat "$LIMIT_CG/memory.usage_in_bytes") - use0 )) -ge $((60 * MiB)) ]; }
ck_check "percent: the cgroup's usage grew by >= 60 MiB" ck_wait_for 10 grown
ck_log "percent: cgroup usage $(( $(cat "$LIMIT_CG/memory.usage_in_bytes") / MiB )) MiB"
sc_revert
ck_check "percent: DELETE: the stressor is gone" st_gone_within 1 "$pid"
freed() { [ "$(cat "$LIMIT_CG/memory.usage_in_bytes")" -lt $((8 * MiB)) ]; }
ck_check "percent: DELETE: the cgroup's memory is freed (< 8 MiB)" ck_wait_for 5 freed
ck_log "percent: after DELETE cgroup usage $(( $(cat "$LIMIT_CG/memory.usage_in_bytes") / 1024 )) KiB"

# --- 3 -------------------------------------------------------------------------------
nsenter --net="/run/netns/$ST_NS" sh -c 'echo $$ > "$1/cgroup.procs"; exec sleep 600' sh "$LIMIT_CG" &
VICTIM=$!
ck_on_exit "kill -9 $VICTIM"
ck_wait_for 5 bash -c "grep -q sleep /proc/$VICTIM/comm" || ck_die "the victim did not start"
sc_apply memory-stress "{\"size\": \"200MiB\", \"processes\": {\"pid\": $VICTIM}}" || ck_die "apply: $SC_RESP"
st_wait_stressors 1
pid=$ST_PIDS
ck_check "over the limit: the OOM killer took the stressor" ck_wait_for 10 st_none_alive "$pid"
ck_expect_eq "over the limit: one OOM kill, in the victim's cgroup (so the stressor was in it)" 1 \
	"$(awk '/^oom_kill / { print $2 }' "$LIMIT_CG/memory.oom_control")"
ck_check "over the limit: the victim lives" ck_proc_running "$VICTIM"
ck_expect_eq "over the limit: stats workers_running" 0 "$(sc_stat workers_running)"
sc_revert
ck_finish
