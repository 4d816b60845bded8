# Shared by the shaping tests (delay line). Source after tests/lib.sh and ck_init;
# uses packet-lib.sh (namespaces a=10.99.0.1 / b=10.99.0.2 on v0, the packet driver).
. "$CK_SOURCE_DIR/tests/faults/packet-lib.sh"
DL_PROBE="$CK_SOURCE_DIR/tests/faults/shape-probe.py"

dl_require() {
	pk_require
	[ -c /dev/net/tun ] || ck_skip "no /dev/net/tun (CONFIG_TUN): the delay line needs a TAP device"
	pk_setup
	pk_backend_supported auto || ck_skip "neither tcx nor clsact works here"
}

# dl_echo NS PORT: a UDP echo in NS for the rest of the test.
dl_echo() {
	local out="$CK_TMP/echo.$2"
	ip netns exec "$1" python3 "$DL_PROBE" echo "$2" 55 >"$out" 2>&1 &
	ck_on_exit "kill -9 $!"
	ck_wait_for 5 grep -q listening "$out" || ck_die "UDP echo did not start in $1"
}

# dl_udp FROM_NS ADDR PORT COUNT GAP_MS: DL_JSON gets shape-probe.py's measurements.
dl_udp() {
	DL_JSON=$(ip netns exec "$1" python3 "$DL_PROBE" udp "$2" "$3" "$4" "$5")
}

# dl_get PATH [JSON]: a value from DL_JSON (or JSON), e.g. dl_get forward.p50
dl_get() {
	python3 -c 'import json,sys
v = json.loads(sys.argv[2])
for k in sys.argv[1].split("."): v = v[k]
print(v)' "$1" "${2:-$DL_JSON}"
}

# dl_between LOW HIGH VALUE: LOW <= VALUE <= HIGH for decimal numbers.
dl_between() { python3 -c 'import sys; l, h, v = map(float, sys.argv[1:4]); sys.exit(0 if l <= v <= h else 1)' "$@"; }

# dl_taps NS: the delay line's TAP devices in NS.
dl_taps() { ip -n "$1" -o link show | awk -F': ' '{print $2}' | grep '^ckd' || true; }
