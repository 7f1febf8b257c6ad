#!/usr/bin/env bash
# Views 5 (Breakers) and 4 (Latency) against a real Redis, driven in tmux,
# from worker heartbeats written into qdeck:worker:*: the Breakers view
# shows OPEN for the failing dependency with its rates and per-worker
# states; O + y forces a breaker open fleet-wide (qdeck:breaker, audit
# record), another key cancels; a read-only console refuses. The Latency
# view shows the percentiles of two workers' histograms merged (not
# averaged) and a bar chart.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
trap screen_stop_all EXIT

R="redis-cli -p $REDIS_PORT"
conf=$QDECK_TEST_TMP/work/breakers.conf
audit=$QDECK_TEST_TMP/work/breakers-audit.jsonl
cat > "$conf" <<CONF
[qdeck]
audit_log = $audit
[context test]
redis = $REDIS_URL
CONF

# 99 runs of 1 ms and one of 5 s per worker (core/histogram.h encoding)
run='h1 n=100 min=1000 max=5000000 sum=5099000 over=0 b=317:99,783'
now=$(date +%s)
heartbeat() {   # heartbeat ID PID BREAKERS_JSON
  $R set "qdeck:worker:$1" "{\"id\":\"$1\",\"host\":\"box\",\"pid\":$2,\"version\":\"test\",\"at\":$now,\"interval\":600,\"state\":\"running\",\"slots_busy\":0,\"slots_total\":4,\"breakers\":$3,\"latency\":{\"resize\":{\"queue_wait\":\"h1 n=0\",\"run\":\"$run\",\"e2e\":\"$run\"}}}" >/dev/null
  $R zadd qdeck:registry:workers "$now" "$1" >/dev/null   # readers find heartbeats through the registry
}
heartbeat w1 101 '{"llm-api":{"state":"OPEN","failure_rate":62.5,"slow_rate":0,"calls":40,"open_remaining":60,"rate":5,"tokens":2.5,"throttled":7},"geo":{"state":"CLOSED","failure_rate":-1,"slow_rate":-1,"calls":3}}'
heartbeat w2 102 '{"llm-api":{"state":"CLOSED","failure_rate":10,"slow_rate":0,"calls":30,"rate":5,"tokens":1,"throttled":1}}'
# a heartbeat 100 s old that said "30 s to half-open": that time is past
$R set qdeck:worker:w3 "{\"id\":\"w3\",\"host\":\"box\",\"pid\":103,\"version\":\"test\",\"at\":$((now - 100)),\"interval\":600,\"state\":\"running\",\"breakers\":{\"pay\":{\"state\":\"OPEN\",\"failure_rate\":80,\"slow_rate\":0,\"calls\":10,\"open_remaining\":30}}}" >/dev/null
$R zadd qdeck:registry:workers "$now" w3 >/dev/null

screen_start b "$QDECK --config $conf --refresh 0.3"
screen_keys b 5
check "Breakers view shows OPEN for the failing dependency" screen_wait b 15 'llm-api +OPEN +62\.5'
text=$(screen_text b)
expect_match "worst rates, calls summed, half-open countdown, tokens and throttled summed" "$text" \
  'llm-api +OPEN +62\.5 +0\.0 +70 +[2-5][0-9]\.[0-9]s +3\.5 +8 +- +OPEN x1, CLOSED x1'
expect_match "the countdown counts the heartbeat's age: past open_wait is due" "$text" 'pay +OPEN +80\.0 +0\.0 +10 +due '
expect_match "a healthy dependency is CLOSED" "$text" 'geo +CLOSED +- +- +3 '
expect_match "summary counts the open breaker" "$text" '3 dependencies from 3 workers, 2 open'

screen_keys b Down
sleep 0.5
screen_keys b O
check "O asks for confirmation" screen_wait b 5 'Force OPEN breaker llm-api fleet-wide\? y to confirm'
screen_keys b y
check "confirmed: qdeck:breaker llm-api = open" wait_for 5 bash -c "[ \"\$($R hget qdeck:breaker llm-api)\" = open ]"
check "the status line names the command and the workers it reaches" screen_wait b 5 'breaker llm-api: open sent to 2 workers \(was none\)'
check "the command column shows it" screen_wait b 5 'llm-api +OPEN .* open +OPEN x1'
check "audited with the console's context" wait_for 5 bash -c \
  "jq -e 'select(.action == \"breaker.open\" and .target == \"llm-api\" and .new == \"open\" and .result == \"ok\" and .context == \"test\")' '$audit'"
screen_keys b R
check "R asks for confirmation" screen_wait b 5 'Reset breaker llm-api fleet-wide\?'
screen_keys b n
check "any other key cancels" screen_wait b 5 'cancelled'
expect_eq "cancelled: nothing written" "$($R hget qdeck:breaker llm-api)" open

screen_keys b 4
check "Latency view lists the task type" screen_wait b 10 'resize +wait +0 '
text=$(screen_text b)
expect_match "run percentiles from the merged histograms (200 samples)" "$text" \
  'run +200 +1\.00ms +1\.00ms +1\.00ms +1\.00ms +5\.00s +5\.00s'
expect_match "end-to-end too" "$text" 'e2e +200 +1\.00ms'
expect_match "bar chart of the selected type" "$text" 'resize · run time distribution · 200 samples'
expect_match "the chart's first bar holds the 198 fast runs" "$text" '1\.00ms - .* 198$'
screen_keys b c
check "c switches the chart to end-to-end" screen_wait b 5 'end-to-end distribution'
screen_keys b q
expect_eq "console exits 0" "$(screen_exit_status b 10)" 0

# read-only: refused, nothing written
$R hdel qdeck:breaker llm-api >/dev/null
screen_start r "$QDECK --config $conf --read-only --refresh 0.3"
screen_keys r 5
check "read-only console shows the breakers" screen_wait r 15 'llm-api +OPEN'
screen_keys r Down
sleep 0.5
screen_keys r C
check "read-only refuses C" screen_wait r 5 'read-only: breakers cannot be changed'
sleep 0.5
expect_eq "read-only: nothing written" "$($R hexists qdeck:breaker llm-api)" 0
check "the refusal is audited locally" wait_for 5 bash -c \
  "jq -e 'select(.action == \"breaker.close\" and .result == \"refused: read-only\")' '$audit'"
screen_keys r q
expect_eq "read-only console exits 0" "$(screen_exit_status r 10)" 0
finish
