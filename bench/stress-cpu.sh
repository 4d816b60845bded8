#!/usr/bin/env bash
# CPU stress accuracy: chaoskit's cpu-stress (through a real agent in a namespace)
# against `stress-ng --cpu 1 --cpu-load L`, one worker each, for L in 25 50 75 (one
# after the other, never together). For each run the stressor process's utime+stime
# (/proc/PID/stat) and run time (/proc/PID/schedstat) are sampled every 50 ms for
# DURATION seconds and reported as:
#   measured  utime+stime (/proc/PID/stat) over wall time for the whole run, % of one CPU
#   ratio     measured / requested
#   settle    time from the start request to the start of the first 1 s window from
#             which every window (sliding, 50 ms steps) stays within 5 % of the
#             request (|window - L| <= 0.05 L) until the run ends ("-": never);
#             windows use schedstat's run time (ns), exact where 10 ms ticks are not
#   win_sd    standard deviation of those 1 s windows (percentage points)
# then the chaos/stress-ng ratios per L.
#
#   sudo bench/stress-cpu.sh [--build BUILD_DIR] [--duration SECONDS] [--loads "25 50 75"] [--repeat N]
# Each (tool, load) runs REPEAT times (default 3), the tools alternating; the summary gives medians.
# Root: the agent runs in network namespace ckt-st-bench (removed on exit).
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$SRC/build
DURATION=8
LOADS="25 50 75"
REPEAT=3
while [ $# -gt 0 ]; do
	case "$1" in
	--build) BUILD=$(cd "$2" && pwd); shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--loads) LOADS=$2; shift 2 ;;
	--repeat) REPEAT=$2; shift 2 ;;
	*) echo "usage: $0 [--build DIR] [--duration SECONDS] [--loads \"25 50 75\"] [--repeat N]" >&2; exit 2 ;;
	esac
done
AGENT=$BUILD/agent/chaos-agent
[ "$(id -u)" -eq 0 ] || { echo "stress-cpu: needs root (a network namespace for the agent)" >&2; exit 1; }
[ -x "$AGENT" ] || { echo "stress-cpu: $AGENT is not built" >&2; exit 1; }
command -v stress-ng >/dev/null || { echo "stress-cpu: stress-ng is not installed (scripts/install-deps.sh)" >&2; exit 1; }

NS=ckt-st-bench
CK_TMP=$(mktemp -d /tmp/ckt-st-bench.XXXXXX)
. "$SRC/tests/agent/agent_lib.sh"
AGENT_PID= SNG_PID=
cleanup() {
	if [ -n "$SNG_PID" ]; then kill -TERM "$SNG_PID" 2>/dev/null || true; fi
	if [ -n "$AGENT_PID" ]; then kill -TERM "$AGENT_PID" 2>/dev/null || true; wait "$AGENT_PID" 2>/dev/null || true; fi
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$CK_TMP"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
SOCK=$CK_TMP/run/agent.sock
ckagt_config "$CK_TMP/agent.cfg" "$NS" "$SOCK" "$CK_TMP/state"
nsenter --net="/run/netns/$NS" -- "$AGENT" --config "$CK_TMP/agent.cfg" --log-level warn >"$CK_TMP/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { cat "$CK_TMP/agent.log" >&2; echo "stress-cpu: the agent did not start" >&2; exit 1; }

SAMPLER=$CK_TMP/sample.py
cat >"$SAMPLER" <<'PY'
import os, sys, time, statistics
pid, secs, req, t0 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
tck = os.sysconf("SC_CLK_TCK")
WINDOW = 1.0
def read():
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/schedstat") as f:
        run_ns = int(f.read().split()[0])
    return (int(rest[11]) + int(rest[12])) / tck, run_ns / 1e9
def now():
    return (time.clock_gettime_ns(time.CLOCK_BOOTTIME) - t0) / 1e9
with open(f"/proc/{pid}/stat") as f:
    started = int(f.read().rsplit(")", 1)[1].split()[19]) / tck  # boot time, ticks
# The process's start as the first sample (no CPU used yet): the first window starts
# there even though sampling starts a little later.
samples = [(started - t0 / 1e9, 0.0, 0.0)]  # (s since t0, cpu s from stat, cpu s from schedstat)
end = time.monotonic() + secs
while time.monotonic() < end:
    stat_s, sched_s = read()
    samples.append((now(), stat_s, sched_s))
    time.sleep(0.05)
first, last = samples[1], samples[-1]
measured = 100 * (last[1] - first[1]) / (last[0] - first[0])
windows = []  # (start, load): from each sample to the first sample WINDOW s or more later
j = 0
for t, _, c in samples:
    while j < len(samples) and samples[j][0] < t + WINDOW:
        j += 1
    if j == len(samples):
        break
    windows.append((t, 100 * (samples[j][2] - c) / (samples[j][0] - t)))
settle = None
for k in range(len(windows)):
    if all(abs(w - req) <= 0.05 * req for _, w in windows[k:]):
        settle = windows[k][0]
        break
sd = statistics.pstdev([w for _, w in windows]) if windows else float("nan")
print(f"{measured:.2f} {'-' if settle is None else int(settle * 1000)} {sd:.2f}")
PY
boot_ns() { python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_BOOTTIME))'; }

# run_chaos L / run_stressng L: print "measured settle_ms win_sd".
run_chaos() {
	local t0 resp id pid
	t0=$(boot_ns)
	resp=$(ckagt_req "$SOCK" POST /v1/faults "{\"kind\":\"cpu-stress\",\"duration\":\"5m\",\"params\":{\"workers\":1,\"load\":$1}}")
	[ "${resp%% *}" = 201 ] || { echo "stress-cpu: apply: $resp" >&2; exit 1; }
	id=$(ckagt_json id <<<"${resp#* }")
	pid=$(pgrep -P "$AGENT_PID" -x chaos-cpustress)
	python3 "$SAMPLER" "$pid" "$DURATION" "$1" "$t0"
	ckagt_req "$SOCK" DELETE "/v1/faults/$id" >/dev/null
}
run_stressng() {
	local t0 pid=
	t0=$(boot_ns)
	stress-ng --cpu 1 --cpu-load "$1" -t $((DURATION + 5)) >/dev/null 2>&1 &
	SNG_PID=$!
	for _ in $(seq 200); do pid=$(pgrep -P "$SNG_PID" -x stress-ng-cpu || true); [ -n "$pid" ] && break; sleep 0.01; done
	[ -n "$pid" ] || { echo "stress-cpu: stress-ng started no worker" >&2; exit 1; }
	python3 "$SAMPLER" "$pid" "$DURATION" "$1" "$t0"
	kill -TERM "$SNG_PID" 2>/dev/null || true
	wait "$SNG_PID" 2>/dev/null || true
	SNG_PID=
}

echo "# $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r)," \
	"$(stress-ng --version | awk '{ print $1, $3 }' | tr -d ,), ${DURATION} s per run; loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %4s %3s %9s %6s %10s %7s\n' tool load run measured ratio settle_ms win_sd
declare -A RES
for L in $LOADS; do
	for ((rep = 1; rep <= REPEAT; rep++)); do
		# alternating, so that both tools see the same background load on average
		for tool in chaos stress-ng; do
			if [ "$tool" = chaos ]; then out=$(run_chaos "$L"); else out=$(run_stressng "$L"); fi
			read -r m s sd <<<"$out"
			RES[$tool.$L]+="$m $s;"
			printf '%-10s %4d %3d %9s %6s %10s %7s\n' "$tool" "$L" "$rep" "$m" \
				"$(awk -v m="$m" -v l="$L" 'BEGIN { printf "%.3f", m / l }')" "$s" "$sd"
			sleep 1
		done
	done
done
echo "# medians over $REPEAT run(s): accuracy = measured / requested; settled = runs that settled within 5 %"
for L in $LOADS; do
	python3 - "$L" "${RES[chaos.$L]}" "${RES[stress-ng.$L]}" <<'PY'
import statistics, sys
load = float(sys.argv[1])
def parse(text):
    runs = [r.split() for r in text.strip(";").split(";")]
    measured = statistics.median(float(m) for m, _ in runs)
    settles = [int(s) for _, s in runs if s != "-"]
    settle = f"{statistics.median(settles):.0f} ms" if settles else "never"
    return measured, settle, f"{len(settles)}/{len(runs)}"
c, n = parse(sys.argv[2]), parse(sys.argv[3])
print(f"load {load:3.0f}: accuracy chaos {c[0] / load:.3f} stress-ng {n[0] / load:.3f}; "
      f"measured chaos/stress-ng {c[0] / n[0]:.3f}; settle (median of settled) chaos {c[1]} ({c[2]} settled), "
      f"stress-ng {n[1]} ({n[2]} settled)")
PY
done
echo "# loadavg at the end $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine competes with both tools alike)"
