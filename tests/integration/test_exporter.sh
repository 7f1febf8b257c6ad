#!/usr/bin/env bash
# qdeck exporter against the suite's RabbitMQ and Redis, a real qdeck
# worker and a real Prometheus (Debian's, on a private port):
#  1. Scrapes cost the brokers nothing: after the first collection of an
#     exporter collecting every 60 s, 50 scrapes leave Redis's
#     commandstats, the requests a counting proxy in front of RabbitMQ's
#     management API saw, and the exporter's collection count as they were.
#  2. A RabbitMQ queue filled with 37 messages reads
#     qdeck_queue_messages{queue="amqp:X",state="ready"} 37, a Redis list
#     its length; a worker's slots, counters and heartbeat, its task
#     type's latency histogram, its breaker and a guardrail all show.
#  3. promtool check metrics finds nothing wrong in the real output;
#     promtool check rules accepts contrib/prometheus/qdeck-alerts.yml;
#     the Grafana dashboard is JSON, and every qdeck_ metric it, the
#     alerts and the KEDA ScaledObject name is in the exporter's output.
#  4. Prometheus scrapes the exporter every second, and a query through
#     its HTTP API returns the queue's depth.
#  5. A broker that does not answer: qdeck_source_up 0 for it, 1 for the
#     other, and the / page says which.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"
source "$here/../lib/worker.sh"

T=$QDECK_TEST_TMP/exporter-$$
mkdir -p "$T"
contrib=$QDECK_REPO/contrib
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  for q in exp-q exp-work exp-work.dlq; do "$TOOLS/amqp-fill" "$AMQP_URL" delete "$q" >/dev/null 2>&1; done
}
trap cleanup EXIT
R="redis-cli -p $REDIS_PORT"

worker_plugins "$T"
cat >"$T/qdeck.conf" <<CONF
[context t]
amqp = $AMQP_URL
mgmt = $MGMT_URL
redis = $REDIS_URL
redis_watch = exp:jobs
mgmt_interval = 1

[worker]
queues = amqp:exp-work
concurrency = 3
heartbeat = 0.5
plugin_dir = $T/plugins

[task exp.noop]
handler = noop
dependency = exp-upstream

[dependency exp-upstream]
minimum_calls = 5
CONF
chmod 600 "$T/qdeck.conf"
q() { "$QDECK" --config "$T/qdeck.conf" "$@"; }

# exporter NAME ARGS...: starts one in the background (not under check:
# a command substitution would wait for it); sets $url to its base
exporter() {
  local name=$1; shift
  "$QDECK" --config "$T/qdeck.conf" exporter --listen 127.0.0.1:0 "$@" >"$T/$name.out" 2>"$T/$name.err" &
  pids+=($!)
  wait_for 10 grep -q 'port [0-9]' "$T/$name.err"
  url=http://127.0.0.1:$(grep -o 'port [0-9]*' "$T/$name.err" | awk '{print $2}')
}
metric() { curl -s --max-time 5 "$url/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/readyz")" = 200 ]; }

"$TOOLS/amqp-fill" "$AMQP_URL" declare exp-q >/dev/null
"$TOOLS/amqp-fill" "$AMQP_URL" publish exp-q 37 --timestamp >/dev/null
$R rpush exp:jobs a b c d e >/dev/null

# ---- 1. scrapes cost the brokers nothing
# a counting proxy in front of the management API (tests/lib/counting-proxy.py)
proxy_port=$(free_ports 1)
: >"$T/requests"
python3 "$QDECK_REPO/tests/lib/counting-proxy.py" "$proxy_port" "http://127.0.0.1:$RABBIT_MGMT_PORT" "$T/requests" </dev/null &
pids+=($!)
check "counting proxy up" wait_for 10 curl -sf -u guest:guest "http://127.0.0.1:$proxy_port/api/overview"
exporter slow --interval 60 --mgmt "http://$RABBIT_USER:$RABBIT_PASS@127.0.0.1:$proxy_port/"
check "exporter (60 s interval) starts" grep -q 'port [0-9]' "$T/slow.err"
check "ready after its first collection" wait_for 10 ready
commands() { $R info commandstats | grep '^cmdstat_' | grep -v -e '^cmdstat_info:' -e '^cmdstat_config' | cut -d, -f1 | sort; }
before=$(commands)
asked=$(grep -c ' /api/queues/' "$T/requests")
check "the collection read the queue list through the proxy" test "$asked" -ge 1
collections=$(metric qdeck_exporter_collections_total)
for i in $(seq 50); do curl -s -o /dev/null --max-time 5 "$url/metrics"; done
after=$(commands)
expect_eq "50 scrapes: no Redis command beyond the one collection" "$after" "$before"
expect_eq "50 scrapes: no management API request beyond it" "$(grep -c ' /api/queues/' "$T/requests")" "$asked"
expect_eq "50 scrapes: still one collection" "$(metric qdeck_exporter_collections_total)" "$collections"
expect_eq "the scrapes are counted (these 50, two before, this one)" "$(metric qdeck_exporter_scrapes_total)" 53
kill -TERM "${pids[1]}"; wait "${pids[1]}"; st=$?
expect_eq "SIGTERM: clean exit" "$st" 0
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null
pids=()

# ---- 2. what the console sees
q policy set budget.max_response_tokens 500 >/dev/null 2>&1
q publish amqp:exp-work --type exp.noop --count 20 --declare >/dev/null 2>&1
"$QDECK" --config "$T/qdeck.conf" worker --declare </dev/null >"$T/worker.out" 2>"$T/worker.err" &
pids+=($!)
exporter main --interval 1
check "exporter (1 s interval) starts" grep -q 'port [0-9]' "$T/main.err"
depth() { [ "$(metric "qdeck_queue_messages{queue=\"amqp:exp-q\",state=\"ready\"}")" = "$1" ]; }
check "amqp:exp-q ready = 37, its real depth" wait_for 15 depth 37
expect_eq "(the broker agrees: passive declare)" "$("$TOOLS/amqp-fill" "$AMQP_URL" depth exp-q | cut -d' ' -f1)" 37
expect_eq "redis:exp:jobs ready = 5" "$(metric 'qdeck_queue_messages{queue="redis:exp:jobs",state="ready"}')" 5
processed() { curl -s "$url/metrics" | grep -qE '^qdeck_worker_tasks_processed_total\{worker="[^"]+"\} 20$'; }
check "the worker's 20 tasks counted" wait_for 20 processed
m=$(curl -s "$url/metrics")
printf '%s\n' "$m" >"$T/metrics.txt"
expect_match "worker slots" "$m" '^qdeck_worker_slots\{worker="[^"]+"\} 3$'
expect_match "worker heartbeat age" "$m" '^qdeck_worker_heartbeat_age_seconds\{worker="[^"]+"\} [0-9.e-]+$'
expect_match "workers running" "$m" '^qdeck_workers\{state="running"\} 1$'
expect_match "type histogram: +Inf bucket = 20" "$m" \
  '^qdeck_fleet_task_run_seconds_bucket\{type="exp.noop",le="\+Inf"\} 20$'
expect_match "type histogram: count" "$m" '^qdeck_fleet_task_end_to_end_seconds_count\{type="exp.noop"\} 20$'
expect_match "type histogram: sum" "$m" '^qdeck_fleet_task_queue_wait_seconds_sum\{type="exp.noop"\} [0-9.e-]+$'
expect_match "type counter" "$m" '^qdeck_fleet_task_processed_total\{type="exp.noop"\} 20$'
expect_match "breaker closed" "$m" '^qdeck_breaker_state\{dependency="exp-upstream",state="closed"\} 1$'
expect_match "breaker not open" "$m" '^qdeck_breaker_state\{dependency="exp-upstream",state="open"\} 0$'
expect_match "guardrail active" "$m" '^qdeck_guardrail_active\{guardrail="budget.max_response_tokens"\} 1$'
expect_match "guardrail value" "$m" '^qdeck_guardrail_value\{guardrail="budget.max_response_tokens"\} 500$'
expect_match "amqp oldest message age" "$m" '^qdeck_queue_oldest_message_age_seconds\{queue="amqp:exp-q"\} [0-9.e+-]+$'
expect_match "amqp rates" "$m" '^qdeck_queue_messages_in_per_second\{queue="amqp:exp-q"\} '
expect_match "sources up" "$m" '^qdeck_source_up\{source="rabbitmq",url="[^"]*"\} 1$'
expect_nomatch "no password in the output" "$m" 's3cret-pw'
expect_nomatch "no task id as a label" "$m" 'task_id=|id="'

# ---- 3. promtool and contrib/
check "promtool check metrics: clean" bash -c "promtool check metrics <'$T/metrics.txt'"
check "promtool check rules: contrib alert rules" promtool check rules "$contrib/prometheus/qdeck-alerts.yml"
check "Grafana dashboard is JSON with panels" jq -e '(.panels | length) > 5 and (.title | length) > 0' \
  "$contrib/grafana/qdeck-dashboard.json"
check "KEDA ScaledObject: a prometheus trigger on qdeck_queue_messages" /usr/bin/python3 -c "
import sys, yaml
d = yaml.safe_load(open('$contrib/kubernetes/keda-scaledobject.yaml'))
assert d['kind'] == 'ScaledObject', d['kind']
t = [x for x in d['spec']['triggers'] if x['type'] == 'prometheus']
assert any('qdeck_queue_messages' in x['metadata']['query'] for x in t), t"
families=$(awk '/^# TYPE /{print $3}' "$T/metrics.txt" | sort -u)
missing=""
for name in $(cat "$contrib/grafana/qdeck-dashboard.json" "$contrib/prometheus/qdeck-alerts.yml" \
                  "$contrib/kubernetes/keda-scaledobject.yaml" | grep -oE 'qdeck_[a-z_]+' | sort -u); do
  base=$(sed -E 's/_(bucket|sum|count)$//' <<<"$name")
  grep -qx -e "$name" -e "$base" <<<"$families" || missing+=" $name"
done
expect_eq "every metric contrib/ names is exported" "$missing" ""

# ---- 4. a real Prometheus
pport=$(free_ports 1)
mkdir -p "$T/prom"
cat >"$T/prom/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: qdeck-exporter
    static_configs:
      - targets: ['${url#http://}']
YML
prometheus --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
  --web.listen-address="127.0.0.1:$pport" </dev/null >"$T/prom/log" 2>&1 &
prom=$!
pids+=($prom)
check "prometheus ready" wait_for 20 curl -sf "http://127.0.0.1:$pport/-/ready"
query() {
  curl -s -G --max-time 5 "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" |
    jq -r '.data.result[0].value[1] // empty'
}
promsays() { [ "$(query "$1")" = "$2" ]; }
check "prometheus: the exporter's target is up" wait_for 15 promsays 'up{job="qdeck-exporter"}' 1
check "prometheus: qdeck_queue_messages{queue=\"amqp:exp-q\",state=\"ready\"} = 37" \
  wait_for 15 promsays 'qdeck_queue_messages{queue="amqp:exp-q",state="ready"}' 37
check "prometheus: a histogram quantile over the fleet's type" \
  wait_for 15 bash -c "[ -n \"\$(curl -s -G http://127.0.0.1:$pport/api/v1/query --data-urlencode \
    'query=histogram_quantile(0.5, sum by (le) (qdeck_fleet_task_run_seconds_bucket{type=\"exp.noop\"}))' |
    jq -r '.data.result[0].value[1] // empty')\" ]"
kill -TERM "$prom"; wait "$prom" 2>/dev/null

# ---- 5. a broker that does not answer
dead=$(free_ports 1)
exporter dead --interval 1 --mgmt "http://guest:guest@127.0.0.1:$dead/"
check "exporter with a dead management API starts" grep -q 'port [0-9]' "$T/dead.err"
check "ready all the same" wait_for 10 ready
m=$(curl -s "$url/metrics")
expect_match "rabbitmq: qdeck_source_up 0" "$m" '^qdeck_source_up\{source="rabbitmq",url="http://guest:\*\*\*@127.0.0.1:'"$dead"'/"\} 0$'
expect_match "redis: qdeck_source_up 1" "$m" '^qdeck_source_up\{source="redis",url="[^"]*"\} 1$'
expect_nomatch "no stale amqp queue series" "$m" '^qdeck_queue_messages\{queue="amqp:'
page=$(curl -s "$url/")
expect_match "/ says rabbitmq does not answer" "$page" "<td>rabbitmq</td><td>http://guest:\*\*\*@127.0.0.1:$dead/</td><td>NO</td>"
expect_match "/ says redis answers" "$page" '<td>redis</td><td>redis://[^<]*</td><td>yes</td>'
expect_eq "/healthz" "$(curl -s "$url/healthz")" ok

out=$(q exporter --listen "${url#http://}" 2>&1); rc=$?
expect_eq "a taken port: exit 1" "$rc" 1
expect_match "a taken port: one line saying so" "$out" 'exporter: .*Address already in use'
out=$(q exporter --listen nonsense 2>&1); rc=$?
expect_eq "--listen without a port: usage error" "$rc" 2
expect_match "--listen without a port: says what it wants" "$out" "exporter: --listen wants HOST:PORT"
finish
