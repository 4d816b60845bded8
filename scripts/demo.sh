#!/usr/bin/env bash
# The five-minute demo: installs what is missing, builds, brings up the netns lab (3 hosts, each
# with a chaos-agent and a web service), runs experiments/lab-cut-host.cfg (h1 is cut off for
# 6 s while probes check that h2 and h3 keep answering), prints the verdict and where the
# reports are, and tears the lab down again, also on Ctrl-C or failure.
# Exit code: the run's (0 hypothesis held, 1 deviated, 2 aborted, 3 invalid input).
# Usage: sudo scripts/demo.sh [EXPERIMENT]   (default experiments/lab-cut-host.cfg)
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

experiment=${1:-experiments/lab-cut-host.cfg}
build=${CHAOSKIT_BUILD:-build}
prefix=${CHAOSKIT_LAB_PREFIX:-ckl}
lab_dir=${CHAOSKIT_LAB_DIR:-/run/chaoskit-lab}
reports=${CHAOSKIT_DEMO_REPORTS:-$repo/demo-reports}

# The e2e test of this script sets CHAOSKIT_NO_INSTALL=1: tests never install packages.
if [ "${CHAOSKIT_NO_INSTALL:-0}" != 1 ]; then
	scripts/install-deps.sh || exit 1
fi

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

echo "=== bringing the lab up"
lab/lab.sh up --prefix "$prefix" --dir "$lab_dir" --build "$build" || exit 1

mkdir -p "$reports"
journal=$reports/journal.json junit=$reports/junit.xml
rm -f "$journal" "$junit"
extra=()
# The HTML report comes with schedulers that know --html.
if "$build/scheduler/chaos" run --help 2>&1 | grep -q -- '--html'; then
	extra=(--html "$reports/report.html")
fi

echo
echo "=== chaos run $experiment"
rc=0
running=1
"$build/scheduler/chaos" --netns "$prefix-ctl" run --inventory "$lab_dir/inventory.cfg" "$experiment" \
	--journal "$journal" --junit "$junit" "${extra[@]}" || rc=$?
running=0

echo
case $rc in
0) echo "=== verdict: the hypothesis HELD (exit 0)" ;;
1) echo "=== verdict: the hypothesis DEVIATED (exit 1)" ;;
2) echo "=== verdict: the run was ABORTED or could not inject; everything was reverted (exit 2)" ;;
3) echo "=== verdict: INVALID input, nothing was applied (exit 3)" ;;
*) echo "=== verdict: chaos ended with exit code $rc" ;;
esac
echo "reports:"
for f in "$journal" "$junit" "$reports/report.html"; do
	[ -e "$f" ] && echo "  $f"
done
exit "$rc"
