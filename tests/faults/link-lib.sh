# Shared by the link fault tests (faults/link.c). Source after tests/lib.sh,
# tests/agent/agent_lib.sh and ck_init.
# Namespace A runs a chaos-agent (unix socket in $CK_TMP: its control path does not
# depend on the faulted link) and reaches B over the veth v0:
#   A v0 10.97.0.1/24 fd97::1/64  <->  B v0 10.97.0.2/24 fd97::2/64
# B also holds 10.55.0.1 and fd55::1 on lo, which A reaches only through its default
# routes via v0 (so a ping to them proves those routes exist), plus a table-100 route,
# a multipath route and an IPv6 route via B's link-local address in A.
LK_A="${CK_PREFIX}-a"
LK_B="${CK_PREFIX}-b"
LK_SOCK="$CK_TMP/run/agent.sock"
LK_STATE="$CK_TMP/state"

lk_require() {
	ck_require_root
	ck_require_tools curl ping python3
	[ -x "$CK_AGENT" ] || ck_skip "chaos-agent is not built"
}

lk_setup() {
	local ns
	ck_netns "$LK_A"; ck_netns "$LK_B"
	# no DAD: "tentative" flags would make two snapshots differ without any fault
	for ns in "$LK_A" "$LK_B"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	done
	ck_link "$LK_A" v0 10.97.0.1/24 "$LK_B" v0 10.97.0.2/24 fd97::1/64 fd97::2/64
	ip -n "$LK_B" addr add 10.55.0.1/32 dev lo
	ip -n "$LK_B" addr add fd55::1/128 dev lo
	ck_wait_for 5 lk_has_linklocal "$LK_B" || ck_die "no link-local address on v0 in $LK_B"
	local b_ll
	b_ll=$(ip -n "$LK_B" -6 -o addr show dev v0 scope link | awk '{print $4}' | cut -d/ -f1)
	ip -n "$LK_A" route add default via 10.97.0.2
	ip -n "$LK_A" -6 route add default via fd97::2
	ip -n "$LK_A" route add 10.50.0.0/16 via 10.97.0.2 table 100
	ip -n "$LK_A" route add table 101 10.60.0.0/16 nexthop via 10.97.0.2 dev v0 weight 1 \
		nexthop via 10.97.0.2 dev v0 weight 3
	ip -n "$LK_A" -6 route add 2001:db8::/32 via "$b_ll" dev v0 metric 50 table 102
	ip -n "$LK_A" link set v0 alias "uplink to b"
	ck_wait_for 5 lk_has_linklocal "$LK_A" || ck_die "no link-local address on v0 in $LK_A"
	ck_wait_for 5 lk_flows || ck_die "no traffic between the namespaces before any fault"
	LK_BEFORE=$(lk_state)
}
lk_has_linklocal() { ip -n "$1" -6 addr show dev v0 scope link | grep -q 'inet6 fe80'; }

# Routes, addresses, link details (alias, flags), qdiscs of A: ck_kernel_state plus the
# JSON views, normalised (sorted keys, stable order) so that a reordering is no diff.
lk_state() {
	ck_kernel_state "$LK_A"
	{ ip -n "$LK_A" -j addr show; echo; ip -n "$LK_A" -j route show table all; echo; ip -n "$LK_A" -6 -j route show table all; } |
		python3 -c 'import json,sys
for line in sys.stdin:
    line = line.strip()
    if line:
        print("\n".join(sorted(json.dumps(o, sort_keys=True) for o in json.loads(line))))'
}
lk_same_state() {
	local now; now=$(lk_state)
	[ "$now" = "$LK_BEFORE" ] && return 0
	diff <(printf '%s\n' "$LK_BEFORE") <(printf '%s\n' "$now") | sed 's/^/#   /' | head -40 >&2
	return 1
}
# ck_wait_for, but shows the difference when the state never settles.
lk_settles() { ck_wait_for "${1:-5}" lk_same_state 2>/dev/null || lk_same_state; }

lk_ping() { ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1; }
lk_no_reply() { ! ip netns exec "$1" ping -c1 -W0.5 "$2" >/dev/null 2>&1; }
# Connected v4/v6, both default routes, both directions.
lk_flows() {
	lk_ping "$LK_A" 10.97.0.2 && lk_ping "$LK_A" fd97::2 && lk_ping "$LK_A" 10.55.0.1 &&
		lk_ping "$LK_A" fd55::1 && lk_ping "$LK_B" 10.97.0.1 && lk_ping "$LK_B" fd97::1
}
lk_cut() {
	lk_no_reply "$LK_A" 10.97.0.2 && lk_no_reply "$LK_A" fd97::2 && lk_no_reply "$LK_A" 10.55.0.1 &&
		lk_no_reply "$LK_B" 10.97.0.1 && lk_no_reply "$LK_B" fd97::1
}
lk_admin_up() { ip -n "$LK_A" -o link show dev v0 | grep -q '[<,]UP[,>]'; }
lk_admin_down() { ! lk_admin_up; }

# lk_agent LOG [CONFIG LINES...]: starts the agent in A on the state dir.
lk_agent() {
	local log=$1; shift
	mkdir -p "$CK_TMP/run"
	ckagt_config "$CK_TMP/agent.cfg" link-host "$LK_SOCK" "$LK_STATE" "$@"
	ckagt_start "$LK_A" "$CK_TMP/agent.cfg" "$log"
}
# lk_apply KIND DURATION PARAMS: sets LK_CODE, LK_BODY, LK_ID.
lk_apply() {
	ckagt_apply "$LK_SOCK" "$1" "$2" "$3"
	LK_CODE=$CKAGT_CODE LK_BODY=$CKAGT_BODY LK_ID=$CKAGT_ID
}
lk_get() { local r; r=$(ckagt_req "$LK_SOCK" GET "/v1/faults/$LK_ID"); echo "${r#* }"; }
lk_journal_empty() { [ -z "$(find "$LK_STATE/journal" "$LK_STATE/links" -name '*.json' 2>/dev/null)" ]; }
