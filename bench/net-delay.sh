#!/usr/bin/env bash
# Delay accuracy and packet rate of each backend of the `delay` kind (docs/performance.md
# "Network faults"), on one veth pair: a UDP echo server in namespace B, where a chaos-agent
# applies `delay` to B's replies (direction egress; match udp for the delay line, all of eth0
# for netem, which shapes whole interfaces) through its API; the client
# in A measures round-trip times (requested delay vs observed p50/p99 above the no-fault
# RTT) and the highest probe rate that crosses the delay with < 1 % loss.
# usage: sudo bench/net-delay.sh --build BUILD_DIR [--latency 20ms] [--count 2000]
#                                [--rates 1000,2000,...] [--seconds 2]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/net-lib.sh"
nb_parse_build "$@"
LATENCY=20ms COUNT=2000 RATES=1000,5000,10000,20000,30000,40000,50000,60000,80000,100000,160000 RATE_SECONDS=2
set -- "${NB_ARGS[@]+"${NB_ARGS[@]}"}"
while [ $# -gt 0 ]; do
	case "$1" in
	--latency) LATENCY=$2; shift 2 ;;
	--count) COUNT=$2; shift 2 ;;
	--rates) RATES=$2; shift 2 ;;
	--seconds) RATE_SECONDS=$2; shift 2 ;;
	*) nb_die "unknown option $1" ;;
	esac
done
# The C tool when built (less latency and a higher rate of its own), else the Python one.
if [ -x "$NB_BUILD/bench/net-udpecho" ]; then
	ECHO=("$NB_BUILD/bench/net-udpecho")
	rtt_args() { echo "$NB_ADDR_B $PORT $COUNT 200"; }
	rate_args() { echo "$NB_ADDR_B $PORT $RATES $RATE_SECONDS"; }
else
	ECHO=(python3 "$NB_SRC/bench/net-udpecho.py")
	rtt_args() { echo "$NB_ADDR_B $PORT --count $COUNT --rate 200"; }
	rate_args() { echo "$NB_ADDR_B $PORT --rates $RATES --seconds $RATE_SECONDS"; }
fi
PORT=7000

nb_machine
[ -x "$NB_BUILD/agent/chaos-agent" ] || nb_die "chaos-agent not built in $NB_BUILD"
if ! grep -q '^delay ' <<<"$("$NB_BUILD/agent/chaos-agent" --list-kinds)"; then
	echo "delay kind not available in this build"
	exit 0
fi
"$NB_BUILD/agent/chaos-agent" --list-kinds | grep '^delay ' || true

nb_setup
nb_agent delay 'packet_backend = "auto";'
SOCK=$NB_SOCK
ip netns exec "$NB_B" "${ECHO[@]}" server $PORT >"$NB_TMP/echo.log" 2>&1 &
NB_PIDS+=($!)
for _ in $(seq 50); do grep -q listening "$NB_TMP/echo.log" && break; sleep 0.1; done

# shellcheck disable=SC2046 # the argument lists are plain words
rtt() { ip netns exec "$NB_A" "${ECHO[@]}" rtt $(rtt_args); }
# shellcheck disable=SC2046
rate() { ip netns exec "$NB_A" "${ECHO[@]}" rate $(rate_args); }
field() { sed -n "s/.* $1 \([0-9.]*\).*/\1/p" <<<"$2"; }

# apply BACKEND PARAMS_JSON_EXTRA: applies delay; sets FAULT_ID or prints why not and returns 1.
apply() {
	local body r
	# netem shapes a whole interface (no packet match); the delay line takes the udp match.
	local match=',"match":{"protocol":"udp"}'
	[ "$1" = netem ] && match=',"interfaces":["eth0"]'
	body="{\"kind\":\"delay\",\"duration\":\"10m\",\"params\":{\"latency\":\"$LATENCY\",\"backend\":\"$1\"$match$2}}"
	r=$(ckagt_req "$SOCK" POST /v1/faults "$body")
	if [ "${r%% *}" != 201 ]; then
		APPLY_ERROR=$(python3 -c 'import json,sys
try:
    e = json.loads(sys.argv[1])["error"]
    print(e.get("message") or e.get("reason") or sys.argv[1])
except Exception:
    print(sys.argv[1])' "${r#* }")
		return 1
	fi
	FAULT_ID=$(ckagt_json id <<<"${r#* }")
	FAULT_BACKEND=$(ckagt_req "$SOCK" GET "/v1/faults/$FAULT_ID" | sed -n 's/.*"backend": *"\([^"]*\)".*/\1/p')
}
revert() {
	local r
	r=$(ckagt_req "$SOCK" DELETE "/v1/faults/$FAULT_ID")
	[ "${r%% *}" = 200 ] || nb_die "revert: $r"
}

echo
echo "== delay accuracy and packet rate per backend (requested $LATENCY on B's replies) =="
base=$(rtt)
echo "probe tool: ${ECHO[*]}; $COUNT probes at 200/s per RTT line; rate steps of ${RATE_SECONDS}s"
echo "no fault:        $base"
BASE50=$(field p50 "$base")
echo "no fault rates:"
rate | sed 's/^/  /'

req_ms=$(python3 -c 'import sys; v=sys.argv[1]; print(float(v[:-2]) if v.endswith("ms") else float(v[:-1])*1000)' "$LATENCY")
for backend in netem delay-line; do
	# label | extra params | delays crossed per round trip | uniform jitter (ms)
	for variant in "egress|,\"direction\":\"egress\"|1|0" "both|,\"direction\":\"both\"|2|0" \
		"egress, jitter 5ms uniform|,\"direction\":\"egress\",\"jitter\":\"5ms\"|1|5"; do
		IFS='|' read -r label extra times jitter <<<"$variant"
		if ! apply "$backend" "$extra"; then
			echo "$backend: unavailable ($APPLY_ERROR)"
			continue 2
		fi
		out=$(rtt)
		echo "$backend ($FAULT_BACKEND) $label: $out"
		python3 - "$out" "$BASE50" "$req_ms" "$times" "$jitter" <<'EOF'
import re, sys
out, base, req, times, jitter = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
f = {k: float(v) for k, v in re.findall(r"(p50|p99|min|max) ([0-9.]+)", out)}
# Expected percentiles above the no-fault RTT: latency (x directions), plus for uniform jitter
# the quantile of U(-j, +j): p50 +0, p99 +0.98 j.
want50, want99 = req * times, req * times + 0.98 * jitter
print("    expected above no-fault p50: p50 +%.1f, p99 +%.1f ms; observed p50 +%.3f (error %+.3f), p99 +%.3f ms (error %+.3f)"
      % (want50, want99, f["p50"] - base, f["p50"] - base - want50, f["p99"] - base, f["p99"] - base - want99))
EOF
		if [ "$label" = egress ]; then
			echo "  $backend rates:"
			rate | sed 's/^/    /'
		fi
		revert
	done
done
