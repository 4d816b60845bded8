#!/usr/bin/env bash
# dns: a real client in namespace A asks a real server in namespace B (IPv4, IPv6,
# UDP, TCP) and a stub resolver on A's loopback. Matching names get the configured
# answer at once from the resolver's address (or none: timeout), other names the
# server's own answer; the share follows the probability; after revert all is normal.
. "$CK_TESTS_LIB"
ck_require_root
ck_init ckt-dns
. "$CK_SOURCE_DIR/tests/faults/packet-lib.sh"
. "$CK_SOURCE_DIR/tests/faults/dns-lib.sh"
pk_require
pk_setup
dns_server "$PK_B" ::
dns_server "$PK_A" 127.0.0.53
V4=10.99.0.2 V6=fd99::2
NAMES='"names": ["db.internal", "*.example.com"]'

dns_expect "no fault: www.example.com answered by the server" noerror $V4 www.example.com 3
dns_expect "no fault: over TCP too" noerror $V6 www.example.com 2 --tcp

tested=0
for backend in tcx clsact; do
	if ! pk_backend_supported "$backend"; then
		ck_log "backend $backend unsupported here"
		continue
	fi
	tested=1
	pk_start "$PK_A" "$backend" dns "{$NAMES, \"action\": \"nxdomain\"}"
	dns_expect "$backend: www.example.com gets NXDOMAIN" nxdomain $V4 www.example.com 5
	ck_check "$backend: the answer comes at once (max $(dns_field max_ms) ms < 100)" dns_fast 100
	dns_expect "$backend: case does not matter, the question is echoed as asked" nxdomain $V4 WwW.ExAmple.COM 3
	dns_expect "$backend: IPv6 resolver, exact name" nxdomain $V6 db.internal 3
	dns_expect "$backend: a query with EDNS (OPT record)" nxdomain $V6 a.b.example.com 3 --edns
	dns_expect "$backend: example.com itself is not a subdomain" noerror $V4 example.com 3
	dns_expect "$backend: x.db.internal is not db.internal" noerror $V6 x.db.internal 3
	dns_expect "$backend: TCP queries pass for answer actions" noerror $V4 www.example.com 2 --tcp
	pk_stop
	ck_log "$backend stats: $PK_STATS"
	ck_expect_eq "$backend: queries_seen" 22 "$(pk_stat queries_seen)"
	ck_expect_eq "$backend: queries_matched" 16 "$(pk_stat queries_matched)"
	ck_expect_eq "$backend: queries_answered" 14 "$(pk_stat queries_answered)"
	ck_expect_eq "$backend: queries_passed (TCP)" 2 "$(pk_stat queries_passed)"
	ck_expect_eq "$backend: backend in stats" "$backend" "$(pk_stat backend)"
	dns_expect "$backend: after revert the server answers again" noerror $V4 www.example.com 3
done
[ "$tested" = 1 ] || ck_skip "neither tcx nor clsact works here"

pk_start "$PK_A" auto dns "{$NAMES, \"action\": \"refuse\"}"
dns_expect "refuse: REFUSED" refused $V4 db.internal 3
pk_stop
pk_start "$PK_A" auto dns "{$NAMES, \"action\": \"servfail\"}"
dns_expect "servfail: SERVFAIL over IPv6" servfail $V6 www.example.com 3
pk_stop

pk_start "$PK_A" auto dns "{$NAMES}"
dns_expect "timeout (default action): no answer over UDP" timeout $V4 www.example.com 3 --timeout 0.4
dns_expect "timeout: no answer over TCP" timeout $V6 db.internal 1 --timeout 0.6 --tcp
dns_expect "timeout: other names answered" noerror $V4 www.example.org 3
pk_stop
ck_expect_eq "timeout: queries_dropped counts the UDP queries and the TCP query's segments" 1 \
	"$(( $(pk_stat queries_dropped) >= 4 ))"

# match.dst limits the fault to some resolvers.
pk_start "$PK_A" auto dns "{$NAMES, \"action\": \"nxdomain\", \"match\": {\"dst\": [\"fd99::2\"]}}"
dns_expect "match.dst fd99::2: that resolver is faulted" nxdomain $V6 www.example.com 3
dns_expect "match.dst fd99::2: 10.99.0.2 is not" noerror $V4 www.example.com 3
pk_stop

# A local stub resolver is reached over lo: the fault covers it when interfaces names lo.
pk_start "$PK_A" auto dns "{$NAMES, \"action\": \"servfail\", \"interfaces\": [\"lo\"]}"
dns_expect "interfaces [lo]: the stub on 127.0.0.53 answers SERVFAIL" servfail 127.0.0.53 www.example.com 3
ck_check "interfaces [lo]: at once (max $(dns_field max_ms) ms < 100)" dns_fast 100
dns_expect "interfaces [lo]: the resolver behind v0 is untouched" noerror $V4 www.example.com 3
pk_stop
pk_start "$PK_A" auto dns "{$NAMES, \"action\": \"servfail\"}"
dns_expect "default interfaces: the stub on lo is not covered" noerror 127.0.0.53 www.example.com 3
pk_stop

# probability 0.5 over 200 queries: Binomial(200, 0.5) has sigma 7.1; +-4.5 sigma = 68..132.
pk_start "$PK_A" auto dns "{$NAMES, \"action\": \"nxdomain\", \"probability\": 0.5}"
dns_query $V4 www.example.com 200
pk_stop
ck_log "probability 0.5: $DNS_RESULT; stats $PK_STATS"
nx=$(dns_field nxdomain)
ck_check "probability 0.5: $nx of 200 NXDOMAIN within [68, 132]" pk_within 68 132 "$nx"
ck_expect_eq "probability 0.5: the rest answered by the server" 200 "$((nx + $(dns_field noerror)))"
ck_expect_eq "probability 0.5: queries_answered equals the NXDOMAIN seen" "$nx" "$(pk_stat queries_answered)"
ck_finish
