#!/usr/bin/env bash
# Every view as a command, against a real Redis and one real worker:
# `qdeck workers|latency|breakers|events|alerts`, table and --json, carry
# what the views show; global flags after the command (`qdeck status --json
# --redis URL`); --follow streams a new event; exit 3 when Redis is away.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

R="redis-cli -p $REDIS_PORT"
conf=$QDECK_TEST_TMP/work/views.conf
cat > "$conf" <<CONF
[context test]
redis = $REDIS_URL
[worker]
queues = redis:viewjobs
concurrency = 2
[task work]
handler = sleep
args = ms=20
[alerts]
depth = 5
CONF
q() { "$QDECK" --config "$conf" "$@"; }

# global flags after the command, as kubectl takes them
json=$("$QDECK" status --json --redis "$REDIS_URL"); rc=$?
expect_eq "status --json --redis URL exits 0" "$rc" 0
expect_eq "status --json --redis URL reads that Redis" "$(jq -r '.sources[0].kind + " " + .sources[0].status' <<<"$json")" "redis ok"

"$QDECK_PLAIN" --config "$conf" worker > "$QDECK_TEST_TMP/work/views-worker.log" 2>&1 &
worker=$!
trap 'kill -TERM $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT
"$QDECK_PLAIN" --config "$conf" publish redis:viewjobs --type work --payload '{}' --count 10 >/dev/null
all_done() { [ "$(q workers --json | jq '[.[].processed] | add')" = 10 ]; }
check "workers --json: the worker's processed count reaches 10" wait_for 20 all_done

w=$(q workers --json)
expect_eq "workers --json: one worker" "$(jq length <<<"$w")" 1
expect_eq "workers --json: kind, state, queues, slots" \
  "$(jq -r '.[0] | [.kind, .state, (.queues | join(",")), .slots_total, .failed] | join(" ")' <<<"$w")" \
  "qdeck running redis:viewjobs 2 0"
id=$(jq -r '.[0].id' <<<"$w")
table=$(q workers)
expect_match "workers table: KIND column and the worker's row" "$table" "^WORKER +KIND +STATE"
expect_match "workers table: the row" "$table" "^$id +qdeck +running .* redis:viewjobs$"

l=$(q latency --json)
expect_eq "latency --json: the type with its 10 runs" "$(jq -r '.[0].type + " " + (.[0].e2e.count | tostring)' <<<"$l")" "work 10"
check "latency --json: run p99 at least the handler's 20 ms" test "$(jq '.[0].run.p99_us >= 20000' <<<"$l")" = true
expect_match "latency table: wait, run, e2e rows" "$(q latency)" "^work +wait +10 "

e=$(q events --json)
check "events --json: the worker's join is there" \
  test "$(jq --arg id "$id" '[.[] | select(.kind == "worker.joined" and (.text | contains($id)))] | length' <<<"$e")" -ge 1
expect_match "events table" "$(q events)" "^[0-9:]{8} +fleet +worker.joined +worker $id joined"

follow_out=$QDECK_TEST_TMP/work/follow.jsonl
"$QDECK" --config "$conf" events --follow --json --limit 1 > "$follow_out" 2>&1 &
follower=$!
trap 'kill -TERM $worker $follower 2>/dev/null; wait $worker 2>/dev/null' EXIT
followed() { grep -q '"kind":"policy.set".*queue.redis:viewjobs.paused' "$follow_out"; }
sleep_until_started() { [ -s "$follow_out" ]; }
check "events --follow prints the newest event first" wait_for 10 sleep_until_started
q policy set queue.redis:viewjobs.paused true >/dev/null
check "events --follow streams a new audit record" wait_for 10 followed
kill -INT "$follower"
gone() { ! kill -0 "$follower" 2>/dev/null; }
check "events --follow ends on Ctrl-C" wait_for 5 gone
wait "$follower"
expect_eq "events --follow exits 0 on Ctrl-C" "$?" 0

expect_eq "breakers --json is breaker list --json" "$(q breakers --json)" "$(q breaker list --json)"

# alerts: a deep list alerts; a paused one, deeper still, does not
for i in $(seq 8); do $R rpush viewdeep "x$i" >/dev/null; done
for i in $(seq 9); do $R rpush viewjobs "y$i" >/dev/null; done
a=$(q alerts --json); rc=$?
expect_eq "alerts exits 0" "$rc" 0
expect_eq "alerts --json: the deep list, with severity and subject" \
  "$(jq -r '.[] | select(.subject == "redis:viewdeep") | [.severity, .kind, .text] | join("|")' <<<"$a")" \
  "warning|depth|redis:viewdeep depth 8 (alert above 5)"
expect_eq "alerts --json: the paused queue raises no depth alert" \
  "$(jq '[.[] | select(.subject == "redis:viewjobs")] | length' <<<"$a")" 0
expect_match "alerts table" "$(q alerts)" "^warning +depth +redis:viewdeep +redis:viewdeep depth 8"

# a RabbitMQ row names the qdeck workers consuming it (the broker counts them)
aconf=$QDECK_TEST_TMP/work/views-amqp.conf
cat > "$aconf" <<CONF
[context test]
amqp = $AMQP_URL
mgmt = $MGMT_URL
redis = $REDIS_URL
[worker]
queues = amqp:viewamqp
concurrency = 1
CONF
"$QDECK_PLAIN" --config "$aconf" worker --declare > "$QDECK_TEST_TMP/work/views-amqp-worker.log" 2>&1 &
aworker=$!
trap 'kill -TERM $worker $follower $aworker 2>/dev/null; wait $worker $aworker 2>/dev/null' EXIT
amqp_named() {
  local id; id=$(q workers --json | jq -r '.[] | select(.queues == ["amqp:viewamqp"] and .state == "running") | .id')
  [ -n "$id" ] && "$QDECK" --config "$aconf" status --json 2>/dev/null |
    jq -e --arg id "$id" '.sources[].queues[] | select(.queue == "amqp:viewamqp") | .workers == [$id]' >/dev/null
}
check "status --json: a RabbitMQ row names the qdeck worker consuming it" wait_for 20 amqp_named
kill -TERM "$aworker"; wait "$aworker"

for cmd in workers latency breakers events alerts; do
  "$QDECK" $cmd --json --redis redis://127.0.0.1:1 >/dev/null 2>&1
  expect_eq "$cmd: exit 3 when Redis cannot be reached" "$?" 3
done
expect_eq "an unknown argument is a usage error" "$(q workers extra 2>&1; echo "rc=$?")" \
  "qdeck: workers: unknown argument 'extra' (usage: qdeck workers [--json])
rc=2"
finish
