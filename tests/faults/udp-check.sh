# Shared by packet-duplicate.sh and packet-corrupt.sh (after packet-lib.sh):
# traffic whose every datagram and byte the receiver can check (udp-check.py).
UC_PY="$CK_SOURCE_DIR/tests/faults/udp-check.py"

# uc_udp ADDR COUNT [cork]: sends COUNT 200-byte datagrams from PK_A to PK_B port 5000.
# Sets UC_SENT, UC_RECEIVED, UC_DISTINCT, UC_TWICE, UC_MORE, UC_CHANGED and UC_CSUMERR
# (growth of the receiver namespace's UDP InCsumErrors, IPv4 and IPv6 summed).
uc_udp() {
	local addr=$1 count=$2 mode=${3:-}
	local rout="$CK_TMP/ucrecv.$RANDOM"
	ip netns exec "$PK_B" python3 "$UC_PY" recv 5000 50 >"$rout" &
	local rpid=$!
	ck_wait_for 5 grep -q listening "$rout" || ck_die "UDP receiver did not start"
	local e0; e0=$(uc_csum_errors)
	local sout
	sout=$(ip netns exec "$PK_A" python3 "$UC_PY" send "$addr" 5000 "$count" 0.2 200 $mode)
	sleep 0.5
	kill -TERM "$rpid"
	wait "$rpid" || true
	UC_CSUMERR=$(( $(uc_csum_errors) - e0 ))
	UC_SENT=$(echo "$sout" | awk '{print $2}')
	set -- $(grep '^received' "$rout")
	UC_RECEIVED=$2 UC_DISTINCT=$4 UC_TWICE=$6 UC_MORE=$8 UC_CHANGED=${10}
}

uc_csum_errors() {
	ip netns exec "$PK_B" python3 -c '
n = 0
lines = [l.split() for l in open("/proc/net/snmp") if l.startswith("Udp:")]
n += int(lines[1][lines[0].index("InCsumErrors")])
for l in open("/proc/net/snmp6"):
    if l.split()[0] == "Udp6InCsumErrors":
        n += int(l.split()[1])
print(n)'
}
