#!/usr/bin/env bash
# The trace (issue 15, the recording half) through a real worker on a Redis
# list: every finished attempt lands in qdeck:trace with its outcome, its
# times and its tokens; an LLM-style upstream (slow-upstream answering a
# `usage` object) shows its tokens in the heartbeat and the trace; `qdeck
# trace export` writes JSONL rebased to t = 0 and filters by type and age;
# `qdeck trace replay` publishes each recorded task once (with its
# payload) to a Redis list or RabbitMQ, --scale 2 twice; a broken file is
# refused by line, nothing sent. While 8 s of LLM calls run, the Capacity
# view (0) and status --json show the llm type's λ, μ, ρ, tokens/min,
# cost/min and cost per successful task.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/worker.sh"
source "$here/../lib/screen.sh"
source "$here/../lib/servers.sh"   # free_ports

T=$QDECK_TEST_TMP/trace
mkdir -p "$T"
worker_plugins "$T"
R="redis-cli -p $REDIS_PORT"
answer='{"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42}}'
"$TOOLS/slow-upstream" 5 0 "$answer" >"$T/upstream.out" 2>"$T/upstream.err" &
upstream=$!
wpid=
cleanup() { screen_stop_all; [ -z "$wpid" ] || kill "$wpid" 2>/dev/null; kill "$upstream" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT
wait_for 10 grep -q '^port ' "$T/upstream.out"
port=$(awk '/^port / { print $2 }' "$T/upstream.out")

cat >"$T/qdeck.conf" <<CONF
[context t]
redis = $REDIS_URL
redis_watch = tr
[worker]
queues = redis:tr
concurrency = 4
plugin_dir = $T/plugins
max_attempts = 1
heartbeat = 0.2
[task nap]
handler = sleep
args = ms=5
[task llm]
handler = http
args = url=http://127.0.0.1:$port/v1/chat/completions,timeout=5
price_in = 3
price_out = 15
[task bad]
handler = fail
args = always=true
CONF
chmod 600 "$T/qdeck.conf"
q() { "$QDECK" --config "$T/qdeck.conf" "$@"; }

q publish redis:tr --type nap --payload '{"ms":20}' --count 20 >/dev/null 2>&1
q publish redis:tr --type llm --payload '{"messages":[{"role":"user","content":"hi"}]}' --count 5 >/dev/null 2>&1
q publish redis:tr --type bad --priority 7 >/dev/null 2>&1
mport=$(free_ports 1)
"$QDECK" --config "$T/qdeck.conf" worker --metrics-addr "127.0.0.1:$mport" >"$T/worker.log" 2>&1 &
wpid=$!
xlen_is() { [ "$($R xlen qdeck:trace)" = "$1" ]; }
check "26 finished attempts, 26 trace records" wait_for 30 xlen_is 26
llm_tokens() { $R --scan --pattern 'qdeck:worker:*' | head -1 | xargs -r $R get | jq -e '.latency.llm.tokens_in == 60 and .latency.llm.tokens_out == 150' >/dev/null; }
check "the heartbeat carries the llm type's tokens (5 x 12 in, 5 x 30 out)" wait_for 10 llm_tokens

# ------------------------------------------------------------ export
check "trace export" q trace export --out "$T/all.jsonl"
expect_eq "26 lines" "$(wc -l <"$T/all.jsonl")" 26
expect_eq "t rebased: the first record at 0, sorted" "$(jq -s '[.[].t] | (.[0] == 0) and (. == sort)' "$T/all.jsonl")" true
expect_eq "outcomes" "$(jq -r .outcome "$T/all.jsonl" | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')" "dlq=1 ok=25 "
expect_eq "every record has the fields sim reads" \
  "$(jq -s 'map(has("t") and has("type") and has("service") and has("wait") and has("e2e") and has("queue")
                and has("priority") and has("attempt") and has("tokens_in") and has("tokens_out")) | all' "$T/all.jsonl")" true
expect_eq "e2e = wait + service, to the microsecond" \
  "$(jq -s 'map((.e2e - .wait - .service) | fabs < 0.00001) | all' "$T/all.jsonl")" true
expect_eq "nap: service time of the payload's 20 ms" \
  "$(jq -s 'map(select(.type == "nap") | .service >= 0.019 and .service < 1) | all' "$T/all.jsonl")" true
expect_eq "nap: payload kept for replay" "$(jq -c 'select(.type == "nap") | .payload' "$T/all.jsonl" | sort -u)" '{"ms":20}'
expect_eq "llm: the upstream's usage in every record" \
  "$(jq -c 'select(.type == "llm") | [.tokens_in, .tokens_out]' "$T/all.jsonl" | sort -u)" '[12,30]'
expect_eq "bad: dead-lettered, priority and queue kept" "$(jq -c 'select(.type == "bad") | [.outcome, .priority, .queue, .attempt]' "$T/all.jsonl")" \
  '["dlq",7,"redis:tr",1]'
check "export --type llm" q trace export --type llm --out "$T/llm.jsonl"
expect_eq "--type llm: 5 records" "$(wc -l <"$T/llm.jsonl")" 5
expect_eq "--since 1h: all 26" "$(q trace export --since 1h --out - 2>/dev/null | wc -l)" 26
out=$(q trace export --since soon --out - 2>&1); rc=$?
expect_eq "--since soon: usage error" "$rc" 2
expect_match "--since soon: says what is wrong" "$out" "--since wants a duration"

# ------------------------------------------------------------ live: tokens, cost, capacity
# 8 s of llm calls at 10/s (trace replay in real time) while the console's
# Capacity view and status --json read the fleet twice
awk 'BEGIN { for (i = 0; i < 80; i++) printf "{\"t\":%.1f,\"type\":\"llm\",\"payload\":{\"prompt\":\"hi\"}}\n", i / 10 }' >"$T/load.jsonl"
q trace replay "$T/load.jsonl" --to redis:tr >"$T/load.out" 2>&1 &
load=$!
screen_start c "$QDECK --config $T/qdeck.conf --refresh 0.5"
screen_keys c 0
check "Capacity view: the llm row with tokens/min, cost/min and cost per success" \
  screen_wait c 15 '^llm +[0-9.]+ +[0-9.]+ +4 +[0-9.]+ .* [1-9][0-9]{2,} +0\.[0-9]{4} +0\.000(4[5-9]|5[0-2])'
status=$(q status --json 2>/dev/null)
expect_eq "status --json: the llm type's capacity figures" \
  "$(jq '.capacity.types[] | select(.type == "llm") | (.lambda > 0) and (.mu > 0) and (.slots == 4) and (.rho > 0)
        and (.wait >= 0) and (.tokens_per_min > 0) and (.cost_per_success > 0.00043 and .cost_per_success < 0.00054)' <<<"$status")" true
expect_eq "status --json: the queue's row" "$(jq '.capacity.queues[] | select(.queue == "redis:tr") | .slots' <<<"$status")" 4
wait "$load"
expect_match "the load went out in real time" "$(cat "$T/load.out")" 'replayed 80 of 80 task\(s\) to redis:tr in [78]\.'
check "all 106 attempts traced" wait_for 20 xlen_is 106
expect_match "/metrics: the llm type's tokens (85 calls x 12 in, x 30 out)" \
  "$(curl -s "http://127.0.0.1:$mport/metrics" | grep '^qdeck_task_tokens_total{type="llm"')" \
  'direction="in"} 1020$'
expect_match "/metrics: out too" "$(curl -s "http://127.0.0.1:$mport/metrics" | grep '^qdeck_task_tokens_total{type="llm"')" \
  'direction="out"} 2550$'

# ------------------------------------------------------------ a retried mark, one record
# a task whose result record cannot be written (its key holds a string, so
# HSET answers WRONGTYPE) keeps its ack back and its marks go out again on
# a timer; its trace record, which Redis took the first time, is not sent
# again with them
$R set qdeck:task:retry-once "not a hash" >/dev/null
$R lpush tr '{"id":"retry-once","type":"nap","payload":{"ms":1}}' >/dev/null
records_of() { $R xrange qdeck:trace - + | grep -cx "$1"; }
check "the marks of retry-once refused three times (retried on the timer)" wait_for 10 bash -c "[ \$(grep -c 'task retry-once: Redis refused a write' '$T/worker.log') -ge 3 ]"
expect_eq "... and its trace record sent once" "$(records_of retry-once)" 1
$R del qdeck:task:retry-once >/dev/null
check "the key mended: the task completes" wait_for 10 bash -c "[ \"\$($R hget qdeck:task:retry-once status)\" = COMPLETED ]"
expect_eq "... still one trace record" "$(records_of retry-once)" 1
kill -TERM "$wpid"; wait "$wpid"; wpid=

# ------------------------------------------------------------ replay
check "replay at once (--speed 0)" q trace replay "$T/all.jsonl" --to redis:again --speed 0
expect_eq "replay: one task per record" "$($R llen again)" 26
expect_eq "replay: the payload went with it" "$($R lrange again 0 -1 | jq -c 'select(.type == "nap") | .payload' | sort -u)" '{"ms":20}'
expect_eq "replay: the priority too" "$($R lrange again 0 -1 | jq -c 'select(.type == "bad") | .priority')" 7
expect_match "replay --scale 2 --json: twice the tasks" "$(q trace replay "$T/all.jsonl" --to redis:twice --speed 0 --scale 2 --json 2>/dev/null)" \
  '"published":52'
expect_eq "replay --scale 2: 52 on the queue, the mix kept" \
  "$($R lrange twice 0 -1 | jq -r .type | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')" "bad=2 llm=10 nap=40 "
expect_match "replay --scale 1.5: half again, spread evenly" \
  "$(q trace replay "$T/all.jsonl" --to redis:more --speed 0 --scale 1.5 --json 2>/dev/null)" '"published":39'
"$TOOLS/amqp-fill" "$AMQP_URL" declare trace-again >/dev/null
check "replay to RabbitMQ, with publisher confirms" q --amqp "$AMQP_URL" trace replay "$T/all.jsonl" --to amqp:trace-again --speed 0
expect_eq "RabbitMQ: one message per task" "$("$TOOLS/amqp-fill" "$AMQP_URL" depth trace-again | cut -d' ' -f1)" 26
{ head -3 "$T/all.jsonl"; echo '{"type":"nap"}'; } >"$T/broken.jsonl"
out=$(q trace replay "$T/broken.jsonl" --to redis:never --speed 0 2>&1); rc=$?
expect_eq "a record without t: usage error" "$rc" 2
expect_match "it names the file and the line" "$out" 'broken.jsonl:4: no "t"'
expect_eq "and nothing was published" "$($R llen never)" 0
finish
