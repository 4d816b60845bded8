#!/usr/bin/env bash
# dns through a real agent and its life: scope limited to one cgroup (only the
# victim's queries fail), revert and kill -9 of the agent leave the kernel state as
# before; a clsact fault whose process died stays until recover() removes it.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-dns
. "$CK_SOURCE_DIR/tests/faults/packet-lib.sh"
. "$CK_SOURCE_DIR/tests/faults/dns-lib.sh"
. "$CK_SOURCE_DIR/tests/faults/scope-lib.sh"
pk_require
sc_require
pk_setup
dns_server "$PK_B" ::
V4=10.99.0.2 V6=fd99::2
NAMES='"names": ["*.example.com"]'

state() { ck_kernel_state "$PK_A"; "$PK_DRIVER" --netns "$PK_A" --tcx-state; }
same_state() {
	local now; now=$(state)
	[ "$now" = "$BEFORE" ] || { diff <(echo "$BEFORE") <(echo "$now") >&2; return 1; }
}
# victim_query SERVER NAME COUNT: the same as dns_query, from inside the victim cgroup.
victim_query() {
	DNS_RESULT=$(sc_run "$VICTIM" "$PK_A" python3 "$DNS_TOOL" query "$1" 53 "$2" "$3")
}

dns_expect "no fault: answered" noerror $V4 www.example.com 3
BEFORE=$(state)

# --- clsact: a dead process leaves its filter; recover() removes it ----------------------
if pk_backend_supported clsact; then
	pk_start "$PK_A" clsact dns "{$NAMES, \"action\": \"refuse\"}"
	cp "$PK_RECORD" "$CK_TMP/journal.json"
	kill -9 "$PK_PID"; wait "$PK_PID" 2>/dev/null || true
	dns_expect "clsact: the filter outlives SIGKILL" refused $V4 www.example.com 2
	ck_check "clsact: the record holds the attach set" grep -q '"tc":{"backend":"clsact"' "$CK_TMP/journal.json"
	"$PK_DRIVER" --netns "$PK_A" --kind dns --recover "$CK_TMP/journal.json" >/dev/null
	ck_check "clsact: recover() restores the state" same_state
	dns_expect "clsact: answered after recover" noerror $V4 www.example.com 2
fi

# --- through the agent, scoped to a cgroup --------------------------------------------------
sc_cgroup ckt-dns-victim
VICTIM=$SC_CG
sc_agent "$PK_A"
BEFORE=$(state)
sc_apply dns "{$NAMES, \"action\": \"nxdomain\", \"scope\": {\"cgroup\": \"ckt-dns-victim\"}}" ||
	ck_die "dns with scope refused: $SC_RESP"
victim_query $V4 www.example.com 4
ck_log "scoped, victim: $DNS_RESULT"
ck_expect_eq "scope: the victim's queries get NXDOMAIN" "4 4" "$(dns_field sent) $(dns_field nxdomain)"
victim_query $V6 www.example.com 2
ck_expect_eq "scope: over IPv6 too" "2 2" "$(dns_field sent) $(dns_field nxdomain)"
dns_expect "scope: a process outside the cgroup is answered normally" noerror $V4 www.example.com 4
ck_expect_eq "scope: queries_answered counts the victim's queries only" 6 "$(sc_stat queries_answered)"
ck_expect_eq "scope: backend in the API's stats" tcx "$(sc_stat backend)"
sc_revert
ck_check "revert through the API: state as before" same_state
victim_query $V4 www.example.com 2
ck_expect_eq "after revert: the victim is answered" "2 2" "$(dns_field sent) $(dns_field noerror)"

# --- kill -9 of the agent -------------------------------------------------------------------
sc_apply dns "{$NAMES, \"action\": \"timeout\"}" || ck_die "dns refused: $SC_RESP"
dns_expect "agent fault: timeout" timeout $V4 www.example.com 2 --timeout 0.3
kill -9 "$CKAGT_PID"; wait "$CKAGT_PID" 2>/dev/null || true
ck_wait_for 5 same_state 2>/dev/null || true
ck_check "kill -9 of the agent: state as before" same_state
dns_expect "kill -9 of the agent: answered again" noerror $V4 www.example.com 3
ck_finish
