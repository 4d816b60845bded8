# Shared by the dns integration tests. Source after tests/lib.sh, ck_init and
# tests/faults/packet-lib.sh: namespace A is the client, B the resolver.
DNS_TOOL="$CK_SOURCE_DIR/tests/faults/dns-tool.py"

# dns_server NS ADDR: a DNS server (UDP and TCP, port 53) on ADDR in NS.
dns_server() {
	local out="$CK_TMP/dns-server.$RANDOM"
	ip netns exec "$1" python3 "$DNS_TOOL" serve "$2" 53 >"$out" 2>&1 &
	ck_on_exit "kill -9 $!"
	ck_wait_for 5 grep -q listening "$out" || ck_die "DNS server on $2 in $1 did not start: $(cat "$out")"
}

# dns_query SERVER NAME COUNT [query options]: queries from namespace A; sets
# DNS_RESULT to the tool's line ("sent=3 noerror=0 nxdomain=3 ... max_ms=0.2").
dns_query() {
	local server=$1 name=$2 count=$3; shift 3
	DNS_RESULT=$(ip netns exec "$PK_A" python3 "$DNS_TOOL" query "$server" 53 "$name" "$count" "$@")
}
# dns_field NAME: a field of DNS_RESULT.
dns_field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$DNS_RESULT"; }
# dns_expect WHAT FIELD SERVER NAME COUNT [options]: every one of COUNT queries ends as FIELD.
dns_expect() {
	local what=$1 field=$2; shift 2
	dns_query "$@"
	ck_log "$what: $DNS_RESULT"
	ck_expect_eq "$what" "$3 $3" "$(dns_field sent) $(dns_field "$field")"
}
# dns_fast MAX_MS: the slowest answer of the last dns_query came within MAX_MS.
dns_fast() { awk -v m="$(dns_field max_ms)" -v lim="$1" 'BEGIN { exit !(m < lim) }'; }
