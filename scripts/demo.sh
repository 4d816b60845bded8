#!/usr/bin/env bash
# The README demo: a datacenter blackout game day, in about a minute.
#
# Installs what is missing, builds, brings up the netns lab (9 hosts in 3 datacenters, each with a
# chaos-agent and the "talk" service; the "login" service only in dc1; Prometheus scraping it all),
# runs experiments/dc-blackout.cfg (every dc1 host loses its network and has its services frozen
# for 15 s while probes sample every second), prints the verdict and the measured detection and
# recovery times, says where the reports are, and tears the lab down again, also on Ctrl-C or
# failure.
# Exit code: the run's (0 hypothesis held, 1 deviated, 2 aborted, 3 invalid input).
# Usage: sudo scripts/demo.sh [EXPERIMENT]   (default experiments/dc-blackout.cfg)
# Environment: CHAOSKIT_BUILD (build dir, default build), CHAOSKIT_LAB_PREFIX (ckl),
# CHAOSKIT_LAB_DIR (/run/chaoskit-lab), CHAOSKIT_DEMO_REPORTS (./demo-reports),
# CHAOSKIT_NO_INSTALL=1 (skip scripts/install-deps.sh).
set -uo pipefail
cd "$(dirname "$(readlink -f "$0")")/.." || exit 1
repo=$PWD

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root: the lab creates network namespaces and the agents attach eBPF programs" >&2
	exit 1
fi

experiment=${1:-experiments/dc-blackout.cfg}
build=${CHAOSKIT_BUILD:-build}
prefix=${CHAOSKIT_LAB_PREFIX:-ckl}
lab_dir=${CHAOSKIT_LAB_DIR:-/run/chaoskit-lab}
reports=${CHAOSKIT_DEMO_REPORTS:-$repo/demo-reports}

# The e2e test of this script sets CHAOSKIT_NO_INSTALL=1: tests never install packages.
if [ "${CHAOSKIT_NO_INSTALL:-0}" != 1 ]; then
	scripts/install-deps.sh || exit 1
fi
for tool in prometheus python3; do
	command -v "$tool" >/dev/null || {
		echo "demo.sh: $tool is not installed (the game day's lab runs Prometheus; scripts/install-deps.sh installs both)" >&2
		exit 1
	}
done

echo "=== build ($build)"
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" >/dev/null || { echo "demo.sh: meson setup failed" >&2; exit 1; }
fi
# Only what the demo runs, so that a broken test elsewhere in the tree cannot stop it.
ninja -C "$build" agent/chaos-agent scheduler/chaos lab/chaos-demo-service ||
	{ echo "demo.sh: the build failed" >&2; exit 1; }

lab_down() {
	echo "=== tearing the lab down"
	lab/lab.sh down --prefix "$prefix" --dir "$lab_dir" || echo "demo.sh: lab.sh down reported a problem" >&2
}
trap lab_down EXIT
# Ctrl-C during the run reaches chaos too, which reverts and exits 2; then the demo reports
# that like any other verdict. Before the run there is nothing to wait for.
running=0
on_interrupt() {
	echo; echo "demo.sh: interrupted"
	[ "$running" -eq 1 ] || exit 130
}
trap on_interrupt INT TERM

echo "=== bringing the lab up: 3 datacenters x 3 hosts, Prometheus"
lab/lab.sh up --prometheus --prefix "$prefix" --dir "$lab_dir" --build "$build" || exit 1

mkdir -p "$reports"
journal=$reports/journal.json junit=$reports/junit.xml html=$reports/report.html
rm -f "$journal" "$junit" "$html"

echo
echo "=== game day: chaos run $experiment"
rc=0
running=1
"$build/scheduler/chaos" --netns "$prefix-ctl" run --inventory "$lab_dir/inventory.cfg" "$experiment" \
	--journal "$journal" --junit "$junit" --html "$html" || rc=$?
running=0

echo
case $rc in
0) echo "=== verdict: the hypothesis HELD (exit 0)" ;;
1) echo "=== verdict: the hypothesis DEVIATED (exit 1)" ;;
2) echo "=== verdict: the run was ABORTED or could not inject; everything was reverted (exit 2)" ;;
3) echo "=== verdict: INVALID input, nothing was applied (exit 3)" ;;
*) echo "=== verdict: chaos ended with exit code $rc" ;;
esac

# The figures a game day is for, straight from the journal.
if [ -s "$journal" ]; then
	python3 - "$journal" <<'EOF' || echo "demo.sh: could not read the figures from $journal" >&2
import json, sys

j = json.load(open(sys.argv[1]))

def secs(ms):
    return "-" if ms is None else f"{ms / 1000:.1f}s"

for s in j.get("steps") or []:
    skew = s.get("skew_ms")
    print(f"=== step {s.get('step')}: {s.get('kind')} on {s.get('target')} ({', '.join(s.get('hosts') or [])})"
          f" for {secs(s.get('duration_ms'))}, start skew across the agents "
          f"{'unknown' if skew is None else str(skew) + ' ms'}")
if j.get("aborted_by"):
    print(f"=== aborted by: {j['aborted_by']}")
rows = j.get("recovery") or []
if rows:
    print("=== recovery figures (detect: after the injection; recover: after the revert)")
    print(f"    {'probe':34} {'expected':9} {'deviated':9} {'detect':8} {'recover':8} outcome")
    for r in rows:
        if not r.get("deviated"):
            outcome = "held" if r.get("expect") == "ok" else "did not deviate (dependency not seen)"
        elif not r.get("recovered"):
            outcome = "NOT RECOVERED within the window"
        elif r.get("expect") == "deviate":
            outcome = "deviated as documented, recovered"
        else:
            outcome = "DEVIATED (refutes the hypothesis)"
        print(f"    {r.get('probe', '?'):34} {r.get('expect', '?'):9} {'yes' if r.get('deviated') else 'no':9} "
              f"{secs(r.get('detected_after_ms')):8} {secs(r.get('recovered_after_ms')):8} {outcome}")
EOF
fi
echo "=== reports:"
for f in "$journal" "$junit" "$html"; do
	[ -e "$f" ] && echo "    $f"
done
[ -e "$html" ] && echo "    (open $html in a browser: timeline, probes over time, detection and recovery marks)"
exit "$rc"
