#!/usr/bin/env bash
# `chaos halt` against the lab reverts every active fault on every host: faults injected
# through each agent's API (no lease, a long deadline) end at once, the hosts answer again and
# every namespace is as it was.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
e2e_require
e2e_lab_up ckt-e2e5 3

e2e_kernel_state >"$CK_TMP/kernel-before.txt"
declare -A ids
inject() { # host_index body
	local answer
	answer=$(e2e_agent "$1" POST /v1/faults "$2")
	ids[$1]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$answer" 2>/dev/null || true)
	[ -n "${ids[$1]}" ] || ck_log "h$1 refused the fault: $answer"
}
inject 1 '{"kind":"blackhole","duration":"2m","params":{"direction":"both"}}'
inject 2 '{"kind":"packet-loss","duration":"2m","params":{"probability":0.5,"direction":"egress"}}'
inject 3 '{"kind":"blackhole","duration":"2m","params":{"direction":"ingress","match":{"protocol":"tcp","dst_ports":["8080"]}}}'
for i in 1 2 3; do
	ck_check "h$i's agent accepted the fault (id ${ids[$i]:-none})" test -n "${ids[$i]:-}"
	ck_expect_eq "h$i holds one fault" 1 "$(e2e_active_faults "$i")"
done
# The before/after comparison used by every e2e test must be able to see an active fault.
e2e_kernel_state >"$CK_TMP/kernel-during.txt"
ck_check "the recorded kernel state shows the active faults" \
	bash -c "! diff -q '$CK_TMP/kernel-before.txt' '$CK_TMP/kernel-during.txt' >/dev/null"
ck_check "the recorded kernel state lists the agents' tcx or tc attachments on h1's eth0" \
	bash -c "sed -n '/^### $LAB_PREFIX-h1\$/,/^### /p' '$CK_TMP/kernel-during.txt' | grep -q -E 'bpf link: chaos-agent tcx ifindex|filter .*(bpf|direct-action)'"
ck_check "h1 is cut off" bash -c "! ip netns exec $LAB_CTL curl -sf --max-time 1 http://10.77.0.11:8080/health"
ck_check "h3's port 8080 is blackholed" bash -c "! ip netns exec $LAB_CTL curl -sf --max-time 1 http://10.77.0.13:8080/health"

rc=0
t0=$(date +%s%N)
"$CK_CHAOS" --netns "$LAB_CTL" halt --inventory "$LAB_INVENTORY" >"$CK_TMP/halt.log" 2>&1 || rc=$?
ck_log "chaos halt took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
sed 's/^/  | /' "$CK_TMP/halt.log"
ck_expect_eq "chaos halt exits 0" 0 "$rc"
e2e_check_no_faults_left
for i in 1 2 3; do
	ck_expect_eq "h$i's fault ended as reverted (not expired)" reverted \
		"$(e2e_agent "$i" GET "/v1/faults/${ids[$i]:-none}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null || true)"
	ck_expect_eq "h$i answers again" ok "$(e2e_curl_ctl "http://10.77.0.1$i:8080/health" || true)"
done
e2e_check_kernel_restored "$CK_TMP/kernel-before.txt"
e2e_lab_down
ck_finish
