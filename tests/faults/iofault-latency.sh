#!/usr/bin/env bash
# io-fault latency and probability: a 20 ms delay on fsync shows as a p50 between 20 and
# 25 ms over 50 calls while writes stay fast; probability 0.5 over 400 fsyncs faults a
# count within binomial bounds (200 +- 4.5 sigma = 155..245), and the agent's
# fsync_faulted agrees with what the program saw.
. "$CK_TESTS_LIB"
ck_init ckt-io-lat
. "$CK_SOURCE_DIR/tests/faults/iofault-lib.sh"
io_require
io_setup
io_agent "$CK_TMP/agent.log"
in_range() { python3 -c 'import sys; v, lo, hi = map(float, sys.argv[1:]); sys.exit(0 if lo <= v <= hi else 1)' "$@"; }

# --- 20 ms on fsync --------------------------------------------------------------------------
out=$(io_victim write-fsync "$IO_DATA/base.dat" 50)
base=$(io_field "$out" ms.fsync.p50)
ck_log "fsync p50 without the fault: $base ms"
io_apply '{"path": "'"$IO_DATA"'", "operations": ["fsync"], "latency": "20ms"}'
ck_expect_eq "delay: applied" 201 "$IO_CODE"
out=$(io_victim write-fsync "$IO_DATA/slow.dat" 50)
p50=$(io_field "$out" ms.fsync.p50)
ck_log "fsync p50 with 20ms: $p50 ms, p99 $(io_field "$out" ms.fsync.p99) ms"
ck_check "delay: fsync p50 $p50 ms within [20, 25]" in_range "$p50" 20 25
ck_expect_eq "delay: no fsync failed (latency only)" 50 "$(io_field "$out" tally.fsync.ok)"
ck_expect_eq "delay: stats count 50 delayed fsyncs" 50 "$(io_stat fsync_delayed)"
ck_expect_eq "delay: and none faulted" 0 "$(io_stat fsync_faulted)"
io_revert
ck_check "delay: no mount after DELETE" io_unmounted

# --- uniform jitter: 10 ms +- 5 ms ------------------------------------------------------------------
io_apply '{"path": "'"$IO_DATA"'", "operations": ["fsync"], "latency": "10ms", "jitter": "5ms"}'
ck_expect_eq "jitter: applied" 201 "$IO_CODE"
out=$(io_victim write-fsync "$IO_DATA/jitter.dat" 40)
lo=$(io_field "$out" ms.fsync.min) hi=$(io_field "$out" ms.fsync.max)
ck_log "jitter 10ms+-5ms: min $lo ms, p50 $(io_field "$out" ms.fsync.p50) ms, max $hi ms"
ck_check "jitter: no fsync took less than 5 ms ($lo)" in_range "$lo" 5 15
ck_check "jitter: the delays spread over more than 4 ms ($lo..$hi)" python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) > 4 else 1)' "$lo" "$hi"
io_revert

# --- probability 0.5 -----------------------------------------------------------------------------
io_apply '{"path": "'"$IO_DATA"'", "operations": ["fsync"], "errno": "EIO", "probability": 0.5}'
ck_expect_eq "probability: applied" 201 "$IO_CODE"
out=$(io_victim write-fsync "$IO_DATA/coin.dat" 400)
eio=$(io_field "$out" tally.fsync.EIO)
ck_log "probability 0.5: $eio of 400 fsyncs failed"
ck_check "probability: $eio EIO within [155, 245]" in_range "$eio" 155 245
ck_expect_eq "probability: the rest succeeded" $((400 - eio)) "$(io_field "$out" tally.fsync.ok)"
ck_expect_eq "probability: fsync_faulted matches the program's count" "$eio" "$(io_stat fsync_faulted)"
io_revert
ck_check "probability: no mount after DELETE" io_unmounted
ck_finish
