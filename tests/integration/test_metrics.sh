#!/usr/bin/env bash
# /healthz, /readyz and /metrics (worker/metrics.h) served by a stand-in
# worker (tests/tools/sched-node) with curl: status codes, the readiness
# reason, Prometheus text format 0.0.4 (HELP/TYPE lines, escaped labels,
# histogram buckets) checked line by line, a taken port refused with a
# clear reason, and readiness following Redis going away and coming back.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"

dir=$QDECK_TEST_TMP/metrics-$$
mkdir -p "$dir"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

# port 0: the server picks a free one and the tool prints it
"$TOOLS/sched-node" --redis "$REDIS_URL" --metrics 127.0.0.1:0 >"$dir/a.out" 2>"$dir/a.err" &
pids+=($!)
check "metrics server started" wait_for 5 grep -q '^port ' "$dir/a.out"
port=$(awk '/^port /{print $2}' "$dir/a.out")
url=http://127.0.0.1:$port

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
expect_eq "/healthz: 200" "$(code "$url/healthz")" 200
expect_eq "/healthz body" "$(curl -s "$url/healthz")" ok
check "/readyz: 200 once the heartbeat reached Redis" wait_for 5 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $url/readyz)\" = 200 ]"
expect_eq "/readyz body" "$(curl -s "$url/readyz")" ready
expect_eq "unknown path: 404" "$(code "$url/nope")" 404
expect_eq "POST: 405" "$(code -X POST -d x "$url/metrics")" 405

hdr=$(curl -s -D - -o "$dir/metrics.txt" "$url/metrics")
expect_match "/metrics content type is text format 0.0.4" "$hdr" 'Content-Type: text/plain; version=0.0.4'
m=$(cat "$dir/metrics.txt")
expect_match "qdeck_up gauge" "$m" '^qdeck_up 1$'
expect_match "HELP line, newline in help escaped" "$m" '^# HELP qdeck_tasks_processed_total tasks finished\\nsuccessfully$'
expect_match "TYPE line" "$m" '^# TYPE qdeck_tasks_processed_total counter$'
expect_match "label value escaped (quote and backslash)" "$m" \
  '^qdeck_tasks_processed_total\{queue="amqp:\\"odd\\"\\\\name"\} 100$'
expect_match "histogram bucket, le in shortest form" "$m" '^qdeck_task_run_seconds_bucket\{type="noop",le="0.1"\} 3$'
expect_match "histogram first bucket" "$m" '^qdeck_task_run_seconds_bucket\{type="noop",le="0.005"\} 1$'
expect_match "histogram +Inf bucket = count" "$m" '^qdeck_task_run_seconds_bucket\{type="noop",le="\+Inf"\} 5$'
expect_match "histogram sum" "$m" '^qdeck_task_run_seconds_sum\{type="noop"\} 2.75$'
expect_match "histogram count" "$m" '^qdeck_task_run_seconds_count\{type="noop"\} 5$'
# every line is a comment or "name{labels} value" (the exposition grammar, roughly)
bad=$(grep -vE '^# (HELP|TYPE) |^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? ([+-]?Inf|NaN|-?[0-9][0-9.e+-]*)$' <<<"$m")
expect_eq "every line is a sample or a HELP/TYPE comment" "$bad" ""
families=$(grep -c '^# TYPE' <<<"$m")
helps=$(grep -c '^# HELP' <<<"$m")
expect_eq "one HELP per TYPE" "$helps" "$families"

# a second server on the same port: refused, saying why
out=$("$TOOLS/sched-node" --redis "$REDIS_URL" --metrics "127.0.0.1:$port" 2>&1); rc=$?
expect_eq "taken port: the process fails" "$rc" 1
expect_match "taken port: says so" "$out" "127.0.0.1:$port: Address already in use"
out=$("$TOOLS/sched-node" --redis "$REDIS_URL" --metrics "nonsense" 2>&1); rc=$?
expect_match "malformed address: says what it wants" "$out" 'wants host:port'

# readiness with a reason from the worker
"$TOOLS/sched-node" --redis "$REDIS_URL" --metrics 127.0.0.1:0 --not-ready "rabbitmq: connection refused" \
  >"$dir/b.out" 2>"$dir/b.err" &
pids+=($!)
check "second server started" wait_for 5 grep -q '^port ' "$dir/b.out"
burl=http://127.0.0.1:$(awk '/^port /{print $2}' "$dir/b.out")
expect_eq "not ready: 503" "$(code "$burl/readyz")" 503
expect_eq "not ready: the reason" "$(curl -s "$burl/readyz")" "not ready: rabbitmq: connection refused"
expect_eq "not ready is still healthy" "$(code "$burl/healthz")" 200

# readiness follows Redis (the heartbeat cannot write): 503 while it is down, 200 after
stop_redis
check "Redis down: /readyz 503" wait_for 6 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $url/readyz)\" = 503 ]"
expect_match "Redis down: the reason names Redis" "$(curl -s "$url/readyz")" 'not ready: .*(Redis|redis)'
expect_eq "Redis down: /healthz still 200" "$(code "$url/healthz")" 200
start_redis >/dev/null
check "Redis back: /readyz 200 again" wait_for 15 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $url/readyz)\" = 200 ]"

# many requests at once do not wedge it
seq 50 | xargs -P 50 -I{} curl -s -o /dev/null --max-time 10 "$url/metrics"
expect_eq "still serving after 50 parallel scrapes" "$(code "$url/healthz")" 200

# control_plane_start: heartbeat, scheduler and metrics in one call
printf '[schedule beat]\nevery = 1\naction = probe\n' > "$dir/plane.conf"
"$TOOLS/sched-node" --plane --redis "$REDIS_URL" --config "$dir/plane.conf" --metrics 127.0.0.1:0 \
  >"$dir/p.out" 2>"$dir/p.err" &
pids+=($!)
check "control plane started" wait_for 5 grep -q '^port ' "$dir/p.out"
purl=http://127.0.0.1:$(awk '/^port /{print $2}' "$dir/p.out")
pid_id=$(awk '/^id /{print $2}' "$dir/p.out")
check "plane: ready once its heartbeat is written" wait_for 5 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $purl/readyz)\" = 200 ]"
check "plane: its heartbeat is in Redis" wait_for 5 bash -c "redis-cli -p $REDIS_PORT exists qdeck:worker:$pid_id | grep -qx 1"
check "plane: it leads the scheduler (alone)" wait_for 5 bash -c "curl -s $purl/metrics | grep -qx 'qdeck_scheduler_leader 1'"
check "plane: heartbeats counted" wait_for 5 bash -c "curl -s $purl/metrics | grep -qE '^qdeck_heartbeats_total [1-9]'"
check "plane: the job runs" wait_for 5 bash -c "[ \"\$(redis-cli -p $REDIS_PORT hget qdeck:sched:job:beat runs)\" -ge 1 ]"

kill -TERM "${pids[0]}"; wait "${pids[0]}"; st=$?
expect_eq "SIGTERM: clean exit" "$st" 0
pids=("${pids[@]:1}")
finish
