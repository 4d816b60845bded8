# Fleet for the scheduler's integration tests: a control namespace (where chaos and its probes
# run) linked to N host namespaces, each with a real chaos-agent and a small HTTP service.
# Source after tests/lib.sh. Host i: namespace ${CK_PREFIX}-hI, address 10.201.I.2 (eth0),
# control side 10.201.I.1; agent on a unix socket (host 3 also on TLS at 10.201.3.2:7070);
# HTTP on port 8080 serving /health -> "ok\n".

sch_require() {
	ck_require_root
	[ -x "$CK_AGENT" ] || ck_skip "chaos-agent is not built ($CK_AGENT)"
	[ -x "$CK_CHAOS" ] || ck_skip "chaos is not built ($CK_CHAOS)"
	command -v python3 >/dev/null || ck_skip "python3 is needed for the test HTTP service"
	command -v openssl >/dev/null || ck_skip "openssl is needed for the TLS agent"
	command -v curl >/dev/null || ck_skip "curl is needed to look at the agents"
}

sch_certs() {
	local d=$CK_TMP/tls
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=ckt-sch-ca" \
		-keyout "$d/ca-key.pem" -out "$d/ca.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	local name ip
	for name in agent client; do
		ip=10.201.3.2
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
			-keyout "$d/$name-key.pem" -out "$d/$name.csr" 2>/dev/null
		printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$ip" >"$d/$name.ext"
		openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial \
			-days 2 -extfile "$d/$name.ext" -out "$d/$name.pem" 2>/dev/null
	done
}

# sch_fleet N: builds the namespaces, agents, services and $CK_TMP/inventory.cfg.
sch_fleet() {
	local n=$1 i ns dir
	SCH_CTL=${CK_PREFIX}-ctl
	SCH_N=$n
	ck_netns "$SCH_CTL"
	sch_certs
	mkdir -p "$CK_TMP/www"
	printf 'ok\n' >"$CK_TMP/www/health"
	{
		echo "inventory = {"
		echo "  tls = { ca = \"tls/ca.pem\"; cert = \"tls/client.pem\"; key = \"tls/client-key.pem\"; };"
		echo "  hosts = ("
	} >"$CK_TMP/inventory.cfg"
	for ((i = 1; i <= n; i++)); do
		ns=${CK_PREFIX}-h$i
		dir=$CK_TMP/h$i
		mkdir -p "$dir/state"
		ck_netns "$ns"
		# created inside the namespaces: names never exist in the root namespace
		ip -n "$SCH_CTL" link add "c$i" type veth peer name eth0 netns "$ns"
		ip -n "$SCH_CTL" addr add "10.201.$i.1/24" dev "c$i"
		ip -n "$ns" addr add "10.201.$i.2/24" dev eth0
		ip -n "$SCH_CTL" link set "c$i" up
		ip -n "$ns" link set eth0 up
		{
			printf 'name = "h%d";\nlabels = { dc = "dc%d"; role = "web"; };\n' "$i" "$(( (i - 1) % 2 + 1 ))"
			printf 'listen_unix = "%s/agent.sock";\nstate_dir = "%s/state";\nmax_fault_duration = "5m";\n' "$dir" "$dir"
			if [ "$i" -eq 3 ]; then
				printf 'listen_tls = "10.201.3.2:7070";\n'
				printf 'tls = { ca = "%s/tls/ca.pem"; cert = "%s/tls/agent.pem"; key = "%s/tls/agent-key.pem"; };\n' \
					"$CK_TMP" "$CK_TMP" "$CK_TMP"
			fi
		} >"$dir/agent.cfg"
		ip netns exec "$ns" "$CK_AGENT" --config "$dir/agent.cfg" --log-level info >"$dir/agent.log" 2>&1 &
		echo $! >"$dir/agent.pid"
		ck_on_exit "sch_stop_agent $i"
		ip netns exec "$ns" python3 -m http.server 8080 --bind "10.201.$i.2" --directory "$CK_TMP/www" \
			>"$dir/http.log" 2>&1 &
		ck_on_exit "kill $!"
		local agent="unix:$dir/agent.sock"
		[ "$i" -eq 3 ] && agent="https://10.201.3.2:7070"
		printf '    { name = "h%d"; agent = "%s"; labels = { dc = "dc%d"; role = "web"; }; }%s\n' \
			"$i" "$agent" "$(( (i - 1) % 2 + 1 ))" "$([ "$i" -lt "$n" ] && echo ,)" >>"$CK_TMP/inventory.cfg"
	done
	echo "  );" >>"$CK_TMP/inventory.cfg"
	echo "};" >>"$CK_TMP/inventory.cfg"
	for ((i = 1; i <= n; i++)); do
		ck_wait_for 10 grep -q ready "$CK_TMP/h$i/agent.log" || { cat "$CK_TMP/h$i/agent.log"; ck_die "agent h$i not ready"; }
		ck_wait_for 10 ip netns exec "$SCH_CTL" curl -sf --max-time 1 "http://10.201.$i.2:8080/health" ||
			ck_die "HTTP service on h$i not answering"
	done
}

# sch_setup PREFIX N: the usual start of a test: requirements, ck_init PREFIX, a fleet of N
# hosts, INV naming its inventory.
sch_setup() {
	sch_require
	ck_init "$1"
	sch_fleet "$2"
	INV=$CK_TMP/inventory.cfg
}

# SIGTERM lets the agent revert its faults; the namespaces go right after anyway.
sch_stop_agent() {
	local pid
	pid=$(cat "$CK_TMP/h$1/agent.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
}

# sch_agent I METHOD PATH: the agent of host I, straight over its unix socket.
sch_agent() {
	curl -s --max-time 5 --unix-socket "$CK_TMP/h$1/agent.sock" -X "$2" "http://localhost$3"
}
# Active faults on host I.
sch_faults() { sch_agent "$1" GET /v1/faults | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["faults"]))'; }
sch_faults_are() { [ "$(sch_faults "$1" 2>/dev/null)" = "$2" ]; }

# sch_chaos ARGS...: chaos inside the control namespace (via --netns); sets RC, output in OUT.
sch_chaos() {
	RC=0
	OUT=$("$CK_CHAOS" --netns "$SCH_CTL" "$@" 2>&1) || RC=$?
	printf '%s\n' "$OUT" | sed 's/^/  | /'
	# sanitizer builds report and go on: a report is a failure all the same
	if grep -qE 'runtime error:|ERROR: (Address|Leak)Sanitizer' <<<"$OUT"; then
		ck_check "chaos $1: no sanitizer report" false
	fi
}

# sch_chaos_interrupted HOST LOG WHAT ARGS...: chaos ARGS... in the control namespace in the
# background (output in LOG), SIGINT once host HOST has a fault (at the latest after 5 s); sets RC
# to its exit code, logs "WHAT: N ms" (SIGINT to exit) and shows LOG.
sch_chaos_interrupted() {
	local host=$1 log=$2 what=$3 pid t0
	shift 3
	"$CK_CHAOS" --netns "$SCH_CTL" "$@" >"$log" 2>&1 &
	pid=$!
	ck_on_exit "kill -INT $pid"
	ck_wait_for 5 sch_faults_are "$host" 1 || true
	t0=$(date +%s%N)
	kill -INT "$pid"
	RC=0; wait "$pid" || RC=$?
	ck_log "$what: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	sed 's/^/  | /' "$log"
}

# sch_json FILE EXPR: evaluates a python expression over the JSON document `j`.
sch_json() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
