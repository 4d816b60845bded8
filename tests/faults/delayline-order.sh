#!/usr/bin/env bash
# Order on the delay-line backend: jitter much wider than the packet spacing
# reorders nothing unless asked; kind reorder (share 0.25) sends that share
# ahead, observed within binomial bounds.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-dl2
. "$CK_SOURCE_DIR/tests/faults/delayline-lib.sh"
dl_require
dl_echo "$PK_B" 6000
N=2000

# 1 ms apart, delays spread over 20 ms: a line that sorted by due time would
# reorder most of them.
pk_start "$PK_B" auto delay '{"latency": "20ms", "jitter": "10ms", "backend": "delay-line"}'
dl_udp "$PK_A" 10.99.0.2 6000 $N 1
pk_stop
ck_log "delay 20ms+-10ms both, $N packets 1 ms apart: $DL_JSON"
ck_log "stats: $PK_STATS"
ck_expect_eq "jitter: every echo came back" $N "$(dl_get received)"
ck_expect_eq "jitter: nothing overtook on the way there" 0 "$(dl_get forward_overtakers)"
ck_expect_eq "jitter: nothing overtook on the way back" 0 "$(dl_get reverse_overtakers)"
ck_check "jitter: the delay did apply (forward p50 $(dl_get forward.p50) >= 10)" dl_between 10 100 "$(dl_get forward.p50)"

# A packet sent at once overtakes the ones held 10 ms before it (10 of them at
# 1 ms spacing). Binomial(2000, 0.25): mean 500, sigma 19.4; +-5 sigma.
pk_start "$PK_A" auto reorder '{"share": 0.25, "gap": "10ms", "direction": "egress", "backend": "delay-line"}'
dl_udp "$PK_A" 10.99.0.2 6000 $N 1
pk_stop
ck_log "reorder 0.25 gap 10ms on a's egress: $DL_JSON"
ck_log "stats: $PK_STATS"
overtakers=$(dl_get forward_overtakers)
ck_expect_eq "reorder: every echo came back" $N "$(dl_get received)"
ck_check "reorder: $overtakers of $N overtook, within [403, 597]" pk_within 403 597 "$overtakers"
ck_check "reorder: no more than the line sent at once ($(pk_stat packets_reordered))" \
	test "$overtakers" -le "$(pk_stat packets_reordered)"
ck_expect_eq "reorder: the way back is untouched" 0 "$(dl_get reverse_overtakers)"
ck_check "reorder: held ones waited the gap (forward p99 $(dl_get forward.p99) within [10, 15])" \
	dl_between 10 15 "$(dl_get forward.p99)"
ck_finish
