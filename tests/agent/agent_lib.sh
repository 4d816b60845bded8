# Helpers for the chaos-agent integration tests. Source after tests/lib.sh and ck_init.

# ckagt_make_ca DIR NAME: a CA (DIR/NAME.pem, DIR/NAME-key.pem).
ckagt_make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=$2" -keyout "$1/$2-key.pem" -out "$1/$2.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

# ckagt_make_cert DIR CA NAME IP: a certificate for NAME signed by CA, with IP as SAN.
ckagt_make_cert() {
	local dir=$1 ca=$2 name=$3 ip=$4
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
		-keyout "$dir/$name-key.pem" -out "$dir/$name.csr" 2>/dev/null
	printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$ip" > "$dir/$name.ext"
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.pem" -CAkey "$dir/$ca-key.pem" -CAcreateserial \
		-days 2 -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
}

# ckagt_config FILE NAME SOCKET STATE [EXTRA...]: writes an agent config.
ckagt_config() {
	local file=$1 name=$2 sock=$3 state=$4; shift 4
	{
		printf 'name = "%s";\nlabels = { dc = "dc1"; rack = "r1"; };\n' "$name"
		printf 'listen_unix = "%s";\nstate_dir = "%s";\nmax_fault_duration = "10m";\n' "$sock" "$state"
		local line
		for line in "$@"; do printf '%s\n' "$line"; done
	} > "$file"
}

# ckagt_start NS CONFIG LOG: starts an agent in NS, waits for "ready"; sets CKAGT_PID.
ckagt_start() {
	local ns=$1 cfg=$2 log=$3
	ip netns exec "$ns" "$CK_AGENT" --config "$cfg" --log-level info >>"$log" 2>&1 &
	CKAGT_PID=$!
	ck_on_exit "kill -9 $CKAGT_PID"
	ckagt_wait_ready "$ns" "$log"
}

# ckagt_start_net NS CONFIG LOG: as ckagt_start, but the agent enters only the network
# namespace (nsenter --net): it keeps the host's mounts (cgroup hierarchies, /sys,
# test tmpfs), which `ip netns exec` would replace with its own sysfs.
ckagt_start_net() {
	local ns=$1 cfg=$2 log=$3
	nsenter --net="/run/netns/$ns" -- "$CK_AGENT" --config "$cfg" --log-level info >>"$log" 2>&1 &
	CKAGT_PID=$!
	ck_on_exit "kill -9 $CKAGT_PID"
	ckagt_wait_ready "$ns" "$log"
}

# ckagt_wait_ready NS LOG: waits up to 5 s for "ready" in LOG of the agent $CKAGT_PID;
# dies with the log if it exits first or does not get ready.
ckagt_wait_ready() {
	local ns=$1 log=$2 i
	for ((i = 0; i < 100; i++)); do
		if grep -q "ready" "$log" 2>/dev/null; then return 0; fi
		kill -0 "$CKAGT_PID" 2>/dev/null || { cat "$log" >&2; ck_die "agent in $ns exited before ready"; }
		sleep 0.05
	done
	cat "$log" >&2
	ck_die "agent in $ns not ready after 5 s"
}

# ckagt_wait_exit PID: waits up to 10 s for PID (a child of this shell) to exit and
# sets CKAGT_RC to its exit code (124 if it did not exit). Not for $(...): wait needs this shell.
ckagt_wait_exit() {
	local pid=$1 i
	CKAGT_RC=124
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null && return 0
	CKAGT_RC=0
	wait "$pid" || CKAGT_RC=$?
}

# ckagt_same_state NS EXPECTED: compares ck_kernel_state with a snapshot, shows the diff.
ckagt_same_state() {
	local now
	now=$(ck_kernel_state "$1")
	[ "$now" = "$2" ] && return 0
	diff <(printf '%s\n' "$2") <(printf '%s\n' "$now") | sed 's/^/#   /' | head -40
	return 1
}

# ckagt_req SOCKET METHOD PATH [BODY]: prints "STATUS BODY" (one line, body JSON).
ckagt_req() {
	local sock=$1 method=$2 path=$3 body=${4:-}
	local args=(-s -o "$CK_TMP/resp" -w '%{http_code}' --unix-socket "$sock" -X "$method" "http://agent$path")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	local code
	code=$(curl "${args[@]}" 2>/dev/null) || code=000
	printf '%s %s\n' "$code" "$(tr -d '\n' 2>/dev/null < "$CK_TMP/resp")"
}

# ckagt_apply SOCKET KIND DURATION PARAMS: POST /v1/faults; sets CKAGT_CODE (HTTP status),
# CKAGT_BODY and CKAGT_ID (empty when refused).
ckagt_apply() {
	local r
	r=$(ckagt_req "$1" POST /v1/faults "{\"kind\":\"$2\",\"duration\":\"$3\",\"params\":$4}")
	CKAGT_CODE=${r%% *}
	CKAGT_BODY=${r#* }
	CKAGT_ID=$(ckagt_json id <<<"$CKAGT_BODY" 2>/dev/null || true)
}
# ckagt_stat SOCKET ID NAME: prints the field NAME of fault ID's stats.
ckagt_stat() {
	local r
	r=$(ckagt_req "$1" GET "/v1/faults/$2")
	ckagt_json "stats.$3" <<<"${r#* }"
}
# The agent of this tree may have a guardian (a second process reverting faults the
# moment the agent dies); ckagt_no_guardian_cfg prints "guardian = false;" for a test
# that needs the agent's own restart to do the recovery.
ckagt_has_guardian() { grep -aq 'guardian must be true or false' "$CK_AGENT" 2>/dev/null; }
ckagt_no_guardian_cfg() { if ckagt_has_guardian; then echo 'guardian = false;'; fi; }

# ckagt_json FIELD: reads JSON on stdin, prints the dotted field (python3).
ckagt_json() {
	python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v.get(k) if isinstance(v, dict) else None
print("" if v is None else (json.dumps(v) if isinstance(v,(dict,list,bool)) else v))' "$1"
}

# ms since epoch
ckagt_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ckagt_link NS_A ADDR_A NS_B ADDR_B: a veth pair eth0<->eth0 created inside the
# namespaces (tests/lib.sh's ck_link builds its temporary names from the prefix and
# the pid, which overflow IFNAMSIZ with this prefix, and passes through the root namespace).
ckagt_link() {
	local nsa=$1 addra=$2 nsb=$3 addrb=$4 ns
	# no IPv6 duplicate address detection: its "tentative" flags would change the
	# kernel state between two snapshots without any fault involved
	for ns in "$nsa" "$nsb"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	done
	ip -n "$nsa" link add eth0 type veth peer name eth0 netns "$nsb"
	ip -n "$nsa" addr add "$addra" dev eth0
	ip -n "$nsb" addr add "$addrb" dev eth0
	ip -n "$nsa" link set eth0 up
	ip -n "$nsb" link set eth0 up
}
