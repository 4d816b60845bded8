#!/usr/bin/env bash
# Builds chaoskit twice (plain, and with ASan+UBSan) and runs every test suite in both builds:
# unit (cmocka), integration (network namespaces) and e2e (the netns lab). Needs root.
# The last line is the summary "N passed, N failed, N skipped", counted from meson's test logs.
set -uo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: run as root: the integration and e2e suites create network namespaces" >&2
	exit 1
fi
scripts/install-deps.sh || exit 1

# Under sanitizers any report is a failure, and a leak is a report.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0

builds=(build build-asan)
declare -A setup_args=(
	[build]=""
	[build-asan]="-Db_sanitize=address,undefined -Db_lundef=false"
)

overall=0
for b in "${builds[@]}"; do
	echo "=== $b: configure and build"
	if [ ! -f "$b/build.ninja" ]; then
		# shellcheck disable=SC2086
		meson setup "$b" ${setup_args[$b]} >/dev/null || { echo "meson setup $b failed"; overall=1; continue; }
	fi
	ninja -C "$b" || { echo "build $b failed"; overall=1; continue; }
done

# The sanitized build runs every unit and integration test but only the end-to-end tests that
# drive the most agent and scheduler code (the game day with its abort, the delay line in nine
# agents, halt, the lab's own lifecycle): the other e2e tests repeat those code paths with other
# experiment files, and running all of them twice would add minutes to every CI run.
asan_e2e="e2e-lab-lifecycle e2e-halt e2e-game-day e2e-slow-dc"
tests_of() { # BUILD: the names of the tests to run in it
	meson introspect "$1" --tests | python3 -c 'import json, sys
keep = set(sys.argv[2].split()) if sys.argv[1] == "build-asan" else None
for t in json.load(sys.stdin):
    if keep is None or "e2e" not in t["suite"][0] or t["name"] in keep:
        print(t["name"])' "$1" "$asan_e2e"
}

for b in "${builds[@]}"; do
	[ -f "$b/build.ninja" ] || continue
	rm -f "$b/meson-logs/testlog.json"
	echo "=== $b: tests"
	mapfile -t names < <(tests_of "$b")
	meson test -C "$b" --print-errorlogs --timeout-multiplier 3 "${names[@]}" || overall=1
done

python3 - "${builds[@]}" <<'PY'
import json, sys, os
passed = failed = skipped = 0
for b in sys.argv[1:]:
    path = os.path.join(b, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        failed += 1  # a build that could not even run its tests
        continue
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)["result"]
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
summary_rc=$?
[ $overall -eq 0 ] && [ $summary_rc -eq 0 ]
