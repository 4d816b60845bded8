#!/usr/bin/env bash
# lab.sh up builds what contracts.md describes (namespaces, addresses, agents over TLS and unix
# socket, demo services, inventory) without touching the root namespace; lab.sh down removes all
# of it, is idempotent, and cleans up after an up that was killed half-way or left stale objects.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
ck_require_root
for b in "$CK_AGENT" "$CK_DEMO"; do [ -x "$b" ] || ck_skip "$b is not built"; done
{ command -v openssl && command -v curl; } >/dev/null || ck_skip "needs openssl and curl"

e2e_lab_up ckt-e2e1 3

# --- what up built
ck_expect_eq "the root namespace has no interface, address or route of the lab" "" "$(e2e_root_lab_traces)"
ck_check "lab.sh status reports a healthy lab" "$CK_LAB" status --prefix "$LAB_PREFIX" --dir "$LAB_DIR"
for i in 1 2 3; do
	ck_expect_eq "h$i serves / on 10.77.0.1$i from the ctl namespace" "hello from h$i" \
		"$(e2e_curl_ctl "http://10.77.0.1$i:8080/" || true)"
	ck_expect_eq "h$i serves /health over IPv6 fd77::1$i" "ok" "$(e2e_curl_ctl "http://[fd77::1$i]:8080/health" || true)"
	ck_expect_eq "h$i's agent answers /v1/info on its unix socket with its name" "h$i" \
		"$(e2e_agent "$i" GET /v1/info | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])' || true)"
	ck_expect_eq "h$i's agent answers over TLS with the lab's client certificate" "h$i" \
		"$(ip netns exec "$LAB_CTL" curl -s --max-time 3 --cacert "$LAB_DIR/ca/ca.pem" --cert "$LAB_DIR/ca/client.pem" \
			--key "$LAB_DIR/ca/client-key.pem" "https://10.77.0.1$i:7070/v1/info" |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])' || true)"
	ck_check "h$i's interface eth0 has 10.77.0.1$i/24 and fd77::1$i/64" \
		bash -c "ip -n $LAB_PREFIX-h$i addr show dev eth0 | grep -q 'inet 10.77.0.1$i/24' &&
			 ip -n $LAB_PREFIX-h$i addr show dev eth0 | grep -q 'inet6 fd77::1$i/64'"
done
ck_expect_eq "h2's talk service answers /talk" "talk from h2" "$(e2e_curl_ctl http://10.77.0.12:8080/talk || true)"
ck_expect_eq "the login service on h1 (dc1) answers /verify on :8081" "verified by h1" \
	"$(e2e_curl_ctl http://10.77.0.11:8081/verify || true)"
ck_expect_eq "h3's /send asks login on h1 and succeeds" "sent by h3" "$(e2e_curl_ctl http://10.77.0.13:8080/send || true)"
ck_check "no login service on h2 (login lives in dc1 only)" bash -c "! ip netns exec $LAB_CTL curl -sf --max-time 2 http://10.77.0.12:8081/health"
ck_check "the talk service's /metrics counts the /send it answered" \
	bash -c "ip netns exec $LAB_CTL curl -sf --max-time 2 http://10.77.0.13:8080/metrics |
		grep -qx 'chaos_demo_requests_total{service=\"talk\",path=\"/send\",code=\"200\"} 1'"
ck_expect_eq "hosts reach each other across the bridge (h1 -> h3)" "hello from h3" \
	"$(ip netns exec "$LAB_PREFIX-h1" curl -sf --max-time 2 http://10.77.0.13:8080/ || true)"
ck_check "without a client certificate the agent's TLS port serves nothing" \
	bash -c "! ip netns exec $LAB_CTL curl -sf --max-time 3 --cacert $LAB_DIR/ca/ca.pem https://10.77.0.11:7070/v1/info"
ck_expect_eq "the inventory lists h1..h3 with dc1..dc3 round robin" \
	"h1 dc1 https://10.77.0.11:7070|h2 dc2 https://10.77.0.12:7070|h3 dc3 https://10.77.0.13:7070|" \
	"$(sed -nE 's/.*name = "(h[0-9]+)"; agent = "([^"]+)"; labels = \{ dc = "(dc[0-9])"; role = "web"; name = "h[0-9]+"; \}.*/\1 \3 \2/p' \
		"$LAB_INVENTORY" | tr '\n' '|')"

ck_check "chaos accepts the lab's inventory (validating an experiment against it)" \
	"$CK_CHAOS" validate --inventory "$LAB_INVENTORY" "$CK_EXPERIMENTS/lab-cut-host.cfg"
ck_expect_eq "the inventory lists every host's addresses (IPv4 and IPv6)" \
	'h1 10.77.0.11 fd77::11|h2 10.77.0.12 fd77::12|h3 10.77.0.13 fd77::13|' \
	"$(sed -nE 's/.*name = "(h[0-9]+)"; agent = .* addresses = \["([^"]+)", "([^"]+)"\];.*/\1 \2 \3/p' \
		"$LAB_INVENTORY" | tr '\n' '|')"

# --- down, twice
pids=$(e2e_lab_pids)
ck_expect_eq "7 lab processes have pid files (3 agents, 3 talk services, login)" 7 "$(echo "$pids" | wc -w)"
ck_check "lab.sh down succeeds" "$CK_LAB" down --prefix "$LAB_PREFIX" --dir "$LAB_DIR"
e2e_check_lab_gone "$pids"
ck_check "lab.sh down again (nothing there) succeeds" "$CK_LAB" down --prefix "$LAB_PREFIX" --dir "$LAB_DIR"
ck_check "lab.sh status says there is no lab (exit 3)" \
	bash -c "'$CK_LAB' status --prefix $LAB_PREFIX --dir $LAB_DIR >/dev/null; [ \$? -eq 3 ]"

# --- up killed half-way (SIGKILL: no chance to clean up), then down
interrupted_up() { # SIGNAL WHEN-FILE
	local sig=$1 when=$2 up_pid
	"$CK_LAB" up --prefix "$LAB_PREFIX" --dir "$LAB_DIR" --hosts 3 --build "$CK_BUILD_DIR" >"$CK_TMP/up-$sig.log" 2>&1 &
	up_pid=$!
	ck_wait_for 20 test -e "$when" || ck_log "up never reached $when"
	kill "-$sig" "$up_pid" 2>/dev/null || true
	wait "$up_pid" 2>/dev/null || true
}
interrupted_up KILL "$LAB_DIR/h2/agent.pid"
pids=$(e2e_lab_pids; for ns in $(ip netns list | awk '{print $1}' | grep "^$LAB_PREFIX-"); do ip netns pids "$ns"; done)
ck_check "a killed up left something behind (the case under test)" test -n "$(ip netns list | grep "^$LAB_PREFIX-")"
ck_check "lab.sh down after a killed up succeeds" "$CK_LAB" down --prefix "$LAB_PREFIX" --dir "$LAB_DIR"
e2e_check_lab_gone "$pids"

# SIGTERM: up tears down what it made by itself.
interrupted_up TERM "$LAB_DIR/ca/h1.pem"
ck_expect_eq "an up stopped by SIGTERM removes its namespaces itself" "" \
	"$(ip netns list | awk '{print $1}' | grep -E "^$LAB_PREFIX-" || true)"
ck_check "an up stopped by SIGTERM removes its dir itself" test ! -e "$LAB_DIR"

# --- stale objects of the prefix: up replaces them
ip netns add "$LAB_PREFIX-ctl"
ip netns add "$LAB_PREFIX-h7"
ck_check "up succeeds over stale namespaces" \
	"$CK_LAB" up --prefix "$LAB_PREFIX" --dir "$LAB_DIR" --hosts 2 --build "$CK_BUILD_DIR"
ck_expect_eq "the stale host namespace is gone, the new lab has 2 hosts" "$LAB_PREFIX-ctl $LAB_PREFIX-h1 $LAB_PREFIX-h2" \
	"$(ip netns list | awk '{print $1}' | grep "^$LAB_PREFIX-" | sort | tr '\n' ' ' | sed 's/ $//')"
ck_expect_eq "h2 of the new lab answers" "hello from h2" "$(e2e_curl_ctl http://10.77.0.12:8080/ || true)"
ck_check "lab.sh down succeeds" "$CK_LAB" down --prefix "$LAB_PREFIX" --dir "$LAB_DIR"
ck_expect_eq "the root namespace still has no trace of the lab" "" "$(e2e_root_lab_traces)"
ck_finish
