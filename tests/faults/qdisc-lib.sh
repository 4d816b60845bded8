# Shared by the qdisc-*.sh tests (netem / tbf backend, faults/qdisc_shape.c): two
# namespaces joined by a veth pair, the driver, and the TCP rate tool. Source after ck_init.
QD_DRIVER="$CK_BUILD_DIR/tests/faults/qdisc-driver"
QD_RATE="$CK_SOURCE_DIR/tests/faults/qdisc-tcp-rate.py"

qd_require() {
	ck_require_root
	ck_require_tools tc python3
	[ -x "$QD_DRIVER" ] || ck_die "qdisc-driver not built ($QD_DRIVER)"
}

# qd_setup: namespaces $QD_A (10.77.0.1, qa0) and $QD_B (10.77.0.2, qb0).
qd_setup() {
	QD_A="${CK_PREFIX}-a"
	QD_B="${CK_PREFIX}-b"
	ck_netns "$QD_A"
	ck_netns "$QD_B"
	ck_link "$QD_A" qa0 10.77.0.1/24 "$QD_B" qb0 10.77.0.2/24
	# Settled (carrier, IPv6 link-local past DAD) so that before/after states compare.
	ck_wait_for 10 qd_settled || ck_die "veth pair did not come up"
}
# qd_begin BACKEND KIND PROBE_ARGS...: qd_require and qd_setup, then exits 77 unless
# the driver can apply KIND with PROBE_ARGS here (BACKEND names it in the message).
qd_begin() {
	local backend=$1 kind=$2 reason; shift 2
	qd_require
	qd_setup
	reason=$("$QD_DRIVER" --netns "$QD_A" --probe --kind "$kind" "$@") ||
		ck_skip "$backend backend unavailable: ${reason#unsupported: }"
}
qd_settled() {
	local ns
	for ns in "$QD_A" "$QD_B"; do
		local links addrs
		links=$(ip -n "$ns" link show); addrs=$(ip -n "$ns" addr show)
		grep -q NO-CARRIER <<<"$links" && return 1
		grep -q tentative <<<"$addrs" && return 1
		grep -q 'inet6 fe80' <<<"$addrs" || return 1
	done
}

qd_state() { ck_kernel_state "$QD_A"; ck_kernel_state "$QD_B"; }

# qd_start ARGS...: runs the driver's --apply in the background (pid QD_PID, output
# $CK_TMP/driver.out) and waits until it applied; returns 1 if it did not.
qd_start() {
	: >"$CK_TMP/driver.out"
	"$QD_DRIVER" --apply --timeout 50 "$@" >"$CK_TMP/driver.out" 2>>"$CK_TMP/driver.err" &
	QD_PID=$!
	ck_on_exit "kill -9 $QD_PID"
	ck_wait_for 10 grep -q '^applied\|^error' "$CK_TMP/driver.out" || return 1
	grep -q '^applied' "$CK_TMP/driver.out"
}
# qd_stop: SIGTERM, wait; the driver prints stats and reverts.
qd_stop() {
	kill -TERM "$QD_PID" 2>/dev/null || true
	wait "$QD_PID" 2>/dev/null || true
}
qd_kill9() {
	kill -9 "$QD_PID" 2>/dev/null || true
	wait "$QD_PID" 2>/dev/null || true
}

# qd_rate SERVER_NS SERVER_ADDR CLIENT_NS SECONDS: sets QD_BPS to the measured goodput.
qd_rate() {
	local sns=$1 addr=$2 cns=$3 secs=$4 port=$((5100 + RANDOM % 500))
	ip netns exec "$sns" python3 "$QD_RATE" server "$addr" "$port" >"$CK_TMP/rate.out" 2>&1 &
	local spid=$!
	ck_wait_for 5 grep -q listening "$CK_TMP/rate.out" || { kill -9 $spid; return 1; }
	ip netns exec "$cns" python3 "$QD_RATE" client "$addr" "$port" "$secs" || true
	wait $spid || true
	QD_BPS=$(awk '/^rate/ {print $2}' "$CK_TMP/rate.out")
	QD_BPS=${QD_BPS:-0}
}

# within PERCENT EXPECTED ACTUAL
qd_within() { awk -v p="$1" -v e="$2" -v a="$3" 'BEGIN { d = a - e; if (d < 0) d = -d; exit !(d <= e * p / 100) }'; }
qd_not() { ! "$@"; }
