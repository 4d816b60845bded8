#!/usr/bin/env bash
# The Prometheus probe against a real Prometheus (Debian's prometheus package) running in
# the control namespace on 10.201.1.1:9090, scraping itself and h3's chaos-agent /metrics
# over mTLS every second: tolerances, an expected deviation with its recovery, and the
# reasons for answers that are not one number.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/scheduler/sched_lib.sh"
sch_require
PROMETHEUS=${PROMETHEUS:-$(command -v prometheus || true)}
[ -n "$PROMETHEUS" ] || ck_skip "no prometheus binary (apt-get install prometheus)"
ck_init ckt-eng-p
sch_fleet 3
EXP=$CK_SOURCE_DIR/tests/scheduler/integration

mkdir -p "$CK_TMP/prom/data"
cat >"$CK_TMP/prom/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ['10.201.1.1:9090']
  - job_name: agent
    scheme: https
    tls_config:
      ca_file: '$CK_TMP/tls/ca.pem'
      cert_file: '$CK_TMP/tls/client.pem'
      key_file: '$CK_TMP/tls/client-key.pem'
    static_configs:
      - targets: ['10.201.3.2:7070']
YML
ip netns exec "$SCH_CTL" "$PROMETHEUS" --config.file="$CK_TMP/prom/prometheus.yml" \
	--storage.tsdb.path="$CK_TMP/prom/data" --web.listen-address=10.201.1.1:9090 \
	>"$CK_TMP/prom/prometheus.log" 2>&1 &
prom_pid=$!
ck_on_exit "kill $prom_pid; wait $prom_pid 2>/dev/null"
prom_query() {
	ip netns exec "$SCH_CTL" curl -sf --max-time 2 --data-urlencode "query=$1" http://10.201.1.1:9090/api/v1/query
}
both_up() { [ "$(prom_query 'count(up == 1)' | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')" = 2 ]; }
if ! ck_wait_for 30 both_up; then
	tail -n 20 "$CK_TMP/prom/prometheus.log"
	ck_die "Prometheus did not scrape itself and the agent"
fi
ck_log "Prometheus $("$PROMETHEUS" --version 2>&1 | head -n1 | awk '{print $3}') scrapes itself and h3's agent"

sch_chaos run "$EXP/prometheus-held.cfg" --inventory "$CK_TMP/inventory.cfg" --journal "$CK_TMP/held.json"
J=$CK_TMP/held.json
ck_expect_eq "held: exit 0 (errors: $(sch_json "$J" '[e.get("message") for e in j["events"] if e["type"] in ("error", "aborted")]'))" 0 "$RC"
ck_expect_eq "held: before-check values" "at most one fault 0|no fault active 0|prometheus up 1|" \
	"$(sch_json "$J" '"".join("%s %s|" % (e["probe"], e["value"]) for e in sorted((e for e in j["events"] if e["type"] == "probe" and e["phase"] == "before"), key=lambda e: e["probe"]))')"
ck_expect_eq "held: the check during the fault saw one active fault" "prometheus up True 1|at most one fault True 1|no fault active False 1|" \
	"$(sch_json "$J" '"".join("%s %s %s|" % (e["probe"], e["ok"], e["value"]) for e in j["events"] if e["type"] == "probe" and e["phase"] == "during")')"
ck_expect_eq "held: 'no fault active' deviated (value 1 not below 0.5) and recovered" "True True" \
	"$(sch_json "$J" '" ".join(str(r[k]) for r in j["recovery"] if r["probe"] == "no fault active" for k in ("deviated", "recovered"))')"
ck_check "held: its samples say why" grep -q 'value 1 not below 0.5' "$J"
det=$(sch_json "$J" '[r["detected_after_ms"] for r in j["recovery"] if r["probe"] == "no fault active"][0]')
rec=$(sch_json "$J" '[r["recovered_after_ms"] for r in j["recovery"] if r["probe"] == "no fault active"][0]')
ck_log "through Prometheus (1s scrapes): fault seen after ${det} ms, its end after ${rec} ms"
ck_expect_eq "held: 'prometheus up' never deviated" "False" \
	"$(sch_json "$J" '[r["deviated"] for r in j["recovery"] if r["probe"] == "prometheus up"][0]')"
ck_log "apply on h3 (mTLS agent) took $(sch_json "$J" '[e["t"] for e in j["events"] if e["type"] == "fault_applied"][0]') s from the run's start"
ck_expect_eq "held: no fault left on h3" 0 "$(sch_faults 3)"

sch_chaos run "$EXP/prometheus-bad-query.cfg" --journal "$CK_TMP/bad.json"
ck_expect_eq "bad queries: not steady, exit 2" 2 "$RC"
ck_check "bad queries: several series" grep -q 'two series: DEVIATED (query returned 2 series' <<<"$OUT"
ck_check "bad queries: Prometheus' own parse error" grep -qE 'parse error: DEVIATED \(query failed: .*parse error' <<<"$OUT"
ck_check "bad queries: value outside the tolerance" grep -q 'too high: DEVIATED (value 2 not below 1)' <<<"$OUT"
ck_finish
