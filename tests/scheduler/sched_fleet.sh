#!/usr/bin/env bash
# chaos status, inject (attached and detached) and halt against three real agents in network
# namespaces (two on unix sockets, one over mutual TLS).
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/scheduler/sched_lib.sh"
sch_setup ckt-sch-f 3

sch_chaos status --inventory "$INV"
ck_expect_eq "status exits 0 when every agent answers" 0 "$RC"
ck_expect_eq "status lists the three hosts as reachable" 3 "$(grep -c ' reachable ' <<<"$OUT")"
ck_check "status shows the TLS host's labels" grep -q 'h3  https://10.201.3.2:7070  reachable.*dc=dc1' <<<"$OUT"
ck_check "status lists the blackhole kind" grep -q 'kinds:.*blackhole' <<<"$OUT"
ck_check "status shows the backend each kind would use (delay[delay-line] or delay[netem])" \
	grep -qE 'kinds:.* delay\[(delay-line|netem)\]' <<<"$OUT"

sch_chaos status --inventory "$INV" --select "dc = dc2" --json
ck_expect_eq "status --select dc=dc2 --json: just h2, reachable" "['h2'] [True]" \
	"$(python3 -c 'import json,sys; a=json.loads(sys.stdin.read()); print([x["host"] for x in a], [x["reachable"] for x in a])' <<<"$OUT")"

# Attached inject: progress, live counters, lease renewal, explicit revert at the end.
"$CK_CHAOS" --netns "$SCH_CTL" inject blackhole --inventory "$INV" --select "name in [h1, h3]" \
	--duration 6s --lease-ttl 1500ms --param direction=both >"$CK_TMP/inject.log" 2>&1 &
inject_pid=$!
ck_on_exit "kill -INT $inject_pid"
if ck_wait_for 5 sch_faults_are 1 1; then
	ck_expect_eq "while injecting: h3 (TLS) holds the fault too" 1 "$(sch_faults 3)"
	ck_expect_eq "while injecting: h2 holds none" 0 "$(sch_faults 2)"
	ck_check "while injecting: h1 does not answer HTTP" \
		bash -c "! ip netns exec $SCH_CTL curl -sf --max-time 1 http://10.201.1.2:8080/health"
	# the lease ttl is 1.5 s: the fault outliving it shows the renewals work
	sleep 2.5
	ck_expect_eq "after more than one lease ttl the fault is still there (renewed)" 1 "$(sch_faults 1)"
else
	ck_expect_eq "h1 got the fault" 1 "$(sch_faults 1 || echo unreachable)"
fi
rc=0; wait "$inject_pid" || rc=$?
sed 's/^/  | /' "$CK_TMP/inject.log"
ck_expect_eq "attached inject exits 0" 0 "$rc"
ck_check "inject printed the application with id and deadline" \
	grep -qE 'applied blackhole on h1 \(f-[0-9a-f]+\), until \+[0-9.]+s' "$CK_TMP/inject.log"
ck_check "inject printed live counters" grep -q 'packets_' "$CK_TMP/inject.log"
ck_check "inject reverted both faults" test "$(grep -c 'reverted blackhole on' "$CK_TMP/inject.log")" -eq 2
ck_expect_eq "after inject: no fault on h1" 0 "$(sch_faults 1)"
ck_expect_eq "after inject: h1 answers again" ok "$(ip netns exec "$SCH_CTL" curl -sf --max-time 2 http://10.201.1.2:8080/health)"

# Ctrl-C on an attached inject reverts at once.
sch_chaos_interrupted 2 "$CK_TMP/inject2.log" "Ctrl-C to exit" inject packet-loss --inventory "$INV" --select "name = h2" \
	--duration 1m --param probability=0.5 --param match.protocol=tcp --param match.dst_ports=8080
ck_expect_eq "interrupted inject exits 0 once everything is reverted" 0 "$RC"
ck_expect_eq "after Ctrl-C: no fault on h2" 0 "$(sch_faults 2)"
ck_check "the typed params reached the agent (dst_ports as a list)" grep -q 'reverted packet-loss on h2' "$CK_TMP/inject2.log"

# A kind of the wider catalogue through the same command: 200 ms delay on h2's answers.
sch_chaos inject delay --inventory "$INV" --select "name = h2" --duration 1m --detach \
	--param latency=200ms --param direction=egress --param match.protocol=tcp --param match.src_ports=8080
ck_expect_eq "detached delay inject exits 0" 0 "$RC"
ms_to_h2() {
	local t0; t0=$(date +%s%N)
	ip netns exec "$SCH_CTL" curl -sf --max-time 5 -o /dev/null http://10.201.2.2:8080/health || echo "curl failed" >&2
	echo $(( ($(date +%s%N) - t0) / 1000000 ))
}
slow=$(ms_to_h2)
# SYN-ACK and the answer are both held 200 ms
ck_check "with the delay, a request to h2 takes >= 400 ms ($slow ms)" test "$slow" -ge 400
sch_chaos halt --inventory "$INV" --select "name = h2"
ck_expect_eq "halt of the delay exits 0" 0 "$RC"
fast=$(ms_to_h2)
ck_check "after halt, h2 answers fast again ($fast ms)" test "$fast" -lt 200

# Bad params are refused before anything is applied.
sch_chaos inject blackhole --inventory "$INV" --duration 5s --param direction=sideways
ck_expect_eq "inject with a bad param exits 3" 3 "$RC"
ck_check "the message names the param" grep -q 'direction' <<<"$OUT"
sch_chaos inject blackhole --inventory "$INV" --duration 5s --select "role = db"
ck_expect_eq "inject whose selector matches nothing exits 3" 3 "$RC"
sch_chaos inject blackhole --inventory "$INV" --duration 5s --count 4
ck_expect_eq "inject with --count beyond the matches exits 3" 3 "$RC"

# Detached: applied without lease, ids printed; then halt reverts them all.
sch_chaos inject blackhole --inventory "$INV" --duration 2m --detach --param match.dst=10.9.9.0/24
ck_expect_eq "detached inject exits 0" 0 "$RC"
ck_expect_eq "detached inject prints one id per host" 3 "$(grep -cE '^h[123] f-[0-9a-f]+$' <<<"$OUT")"
ck_expect_eq "detached faults stay after chaos exits (h1)" 1 "$(sch_faults 1)"
ck_expect_eq "detached faults stay after chaos exits (h3)" 1 "$(sch_faults 3)"
sch_chaos status --inventory "$INV" --json
ck_expect_eq "status --json counts the three faults" 3 \
	"$(python3 -c 'import json,sys; print(sum(len(x["faults"]) for x in json.loads(sys.stdin.read())))' <<<"$OUT")"
t0=$(date +%s%N)
sch_chaos halt --inventory "$INV"
ck_log "halt of 3 agents: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
ck_expect_eq "halt exits 0" 0 "$RC"
ck_check "halt reports the reverted count per host" grep -q 'h3: reverted 1 fault' <<<"$OUT"
ck_check "halt sums up" grep -q '3 of 3 agent(s) answered, 3 fault(s) reverted' <<<"$OUT"
for i in 1 2 3; do ck_expect_eq "after halt: no fault on h$i" 0 "$(sch_faults "$i")"; done

# An agent that is down: status and halt say so and exit 2.
sch_stop_agent 2
sch_chaos halt --inventory "$INV"
ck_expect_eq "halt with one agent down exits 2" 2 "$RC"
ck_check "halt names the unreachable host" grep -q '^h2: FAILED' <<<"$OUT"
sch_chaos status --inventory "$INV"
ck_expect_eq "status with one agent down exits 2" 2 "$RC"
ck_check "status marks h2 unreachable" grep -q '^h2 .*UNREACHABLE' <<<"$OUT"
ck_finish
