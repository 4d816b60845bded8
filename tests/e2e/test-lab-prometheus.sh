#!/usr/bin/env bash
# lab.sh up --prometheus runs Prometheus in the control namespace on 10.77.0.1:9090, scraping every
# talk service, the login service and every agent (over mTLS with the lab's client certificate)
# each second, with its storage under the lab dir; lab.sh down stops it and leaves nothing.
source "$CK_TESTS_LIB"
source "$CK_SOURCE_DIR/tests/e2e/e2e-lib.sh"
e2e_require
command -v prometheus >/dev/null || ck_skip "prometheus is not installed (Debian package prometheus)"

e2e_lab_up ckt-e2e9 3 --prometheus
prom=http://10.77.0.1:9090
promql() { # QUERY -> "labels=value" lines, sorted
	ip netns exec "$LAB_CTL" curl -sf --max-time 3 --data-urlencode "query=$1" "$prom/api/v1/query" |
		python3 -c 'import json,sys
for r in json.load(sys.stdin)["data"]["result"]:
    m = r["metric"]; print(",".join(f"{k}={m[k]}" for k in sorted(m) if k != "__name__") + "=" + r["value"][1])' | sort
}

prom_pid=$(cat "$LAB_DIR/prometheus/prometheus.pid")
ck_check "Prometheus runs in the ctl namespace" bash -c "ip netns pids $LAB_CTL | grep -qx $prom_pid"
ck_expect_eq "its executable is the Debian package's" /usr/bin/prometheus "$(readlink -f "/proc/$prom_pid/exe")"
ck_check "Prometheus answers /-/ready on 10.77.0.1:9090 from the ctl namespace" \
	bash -c "ip netns exec $LAB_CTL curl -sf --max-time 3 $prom/-/ready >/dev/null"
ck_expect_eq "it scrapes 3 talk services, the login service and 3 agents, all up, with host and dc labels" \
	"dc=dc1,host=h1,instance=10.77.0.11:7070,job=agent=1
dc=dc1,host=h1,instance=10.77.0.11:8080,job=talk=1
dc=dc1,host=h1,instance=10.77.0.11:8081,job=login=1
dc=dc2,host=h2,instance=10.77.0.12:7070,job=agent=1
dc=dc2,host=h2,instance=10.77.0.12:8080,job=talk=1
dc=dc3,host=h3,instance=10.77.0.13:7070,job=agent=1
dc=dc3,host=h3,instance=10.77.0.13:8080,job=talk=1" "$(promql up)"
ck_expect_eq "the scrape interval is 1s" "1s" \
	"$(ip netns exec "$LAB_CTL" curl -sf --max-time 3 "$prom/api/v1/targets" |
		python3 -c 'import json,sys; print(" ".join(sorted({t["scrapeInterval"] for t in json.load(sys.stdin)["data"]["activeTargets"]})))')"
# The demo services count the scrapes themselves: Prometheus really reads their /metrics.
ck_check "the talk services' own request counters reach Prometheus" \
	bash -c "test -n \"\$(ip netns exec $LAB_CTL curl -sf --max-time 3 --data-urlencode 'query=chaos_demo_requests_total{job=\"talk\",path=\"/metrics\",code=\"200\"} > 0' $prom/api/v1/query | grep -o '\"host\":\"h2\"')\""
ck_check "the agents' metrics (read over mTLS) reach Prometheus" \
	bash -c "test \"\$(ip netns exec $LAB_CTL curl -sf --max-time 3 --data-urlencode 'query=count({job=\"agent\",__name__!=\"up\",__name__!~\"scrape_.*\"}) > 0' $prom/api/v1/query | grep -c '\"value\"')\" = 1"
ck_check "its storage is under the lab dir" test -d "$LAB_DIR/prometheus/data/wal"
ck_check "lab.sh status reports Prometheus" bash -c "'$CK_LAB' status --prefix $LAB_PREFIX --dir $LAB_DIR | grep -q 'prometheus pid $prom_pid'"
ck_expect_eq "the root namespace has no interface, address or route of the lab" "" "$(e2e_root_lab_traces)"

pids=$(e2e_lab_pids)
ck_expect_eq "8 lab processes have pid files (3 agents, 3 talk, login, Prometheus)" 8 "$(echo "$pids" | wc -w)"
e2e_lab_down
e2e_check_lab_gone "$pids"
ck_finish
