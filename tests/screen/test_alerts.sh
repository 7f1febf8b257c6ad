#!/usr/bin/env bash
# [alerts] thresholds against a real Redis: a deep queue, an old head
# message and a growing dead-letter list each raise an alert on the
# Overview and in the header's count; the alert goes when the cause does.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
trap screen_stop_all EXIT

conf=$QDECK_TEST_TMP/work/alerts.conf
cat > "$conf" <<CONF
[context test]
redis = $REDIS_URL
[alerts]
depth = 5
age = 600
dlq_growth = 30
CONF

rc() { redis-cli -p "$REDIS_PORT" "$@" >/dev/null; }
for i in $(seq 8); do rc rpush deep "x$i"; done
old=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S.000Z)
rc lpush aged "{\"id\":\"t-old\",\"type\":\"report\",\"payload\":{},\"created_at\":\"$old\"}"
rc rpush calm only-one

screen_start a "$QDECK --config $conf --refresh 0.3"
check "a deep queue raises an alert" screen_wait a 15 'redis:deep depth 8 \(alert above 5\)'
check "an old head message raises an alert" screen_wait a 5 'redis:aged oldest message waited 1h'
check "the header counts them" screen_wait a 5 '2 alerts'
expect_nomatch "a calm queue raises none" "$(screen_text a)" 'redis:calm depth'

# a dead-letter list growing ~100/min
( for i in $(seq 60); do redis-cli -p "$REDIS_PORT" rpush jobs:dlq "d$i" >/dev/null; sleep 0.3; done ) &
grower=$!
check "a growing DLQ raises an alert" screen_wait a 20 'redis:jobs:dlq dead letters growing'
check "four alerts counted (the DLQ is also deeper than 5)" screen_wait a 5 '4 alerts'
kill "$grower" 2>/dev/null; wait "$grower" 2>/dev/null

rc del deep
check "the depth alert goes with its cause" screen_wait_gone a 10 'redis:deep depth'
screen_keys a q
expect_eq "console exits cleanly" "$(screen_exit_status a 5)" 0

# from the fleet's heartbeats: a real worker whose tasks are slow and
# failing, and a breaker a worker reports OPEN
fleet=$QDECK_TEST_TMP/work/fleet-alerts.conf
cat > "$fleet" <<CONF
[context test]
redis = $REDIS_URL
[worker]
queues = redis:alerting
concurrency = 4
max_attempts = 1
[task slow]
handler = sleep
args = ms=300
[task bad]
handler = fail
args = always=true
[alerts]
p99 = 0.1
error_rate = 20
CONF
"$QDECK_PLAIN" --config "$fleet" worker > "$QDECK_TEST_TMP/work/fleet-worker.log" 2>&1 &
worker=$!
screen_start f "$QDECK --config $fleet --refresh 0.3"
"$QDECK_PLAIN" --config "$fleet" publish redis:alerting --type slow --payload '{}' --count 6 >/dev/null
check "a slow task type raises a p99 alert from the merged histograms" screen_wait f 20 'slow end-to-end p99 .*alert above'
"$QDECK_PLAIN" --config "$fleet" publish redis:alerting --type bad --payload '{}' --count 20 >/dev/null
check "failing runs raise the error-rate alert" screen_wait f 20 '% of task runs failing \(alert above 20%\)'
rc set qdeck:worker:fake-1 "{\"id\":\"fake-1\",\"host\":\"h\",\"pid\":1,\"at\":$(date +%s),\"interval\":60,\"state\":\"running\",\"breakers\":{\"llm-api\":{\"state\":\"OPEN\"}}}" px 60000
rc zadd qdeck:registry:workers "$(date +%s)" fake-1
check "a breaker reported OPEN raises an alert" screen_wait f 15 'breaker llm-api OPEN on 1 of 1 workers'
rc del qdeck:worker:fake-1
rc zrem qdeck:registry:workers fake-1
kill -TERM "$worker"; wait "$worker"
screen_keys f q
expect_eq "fleet console exits cleanly" "$(screen_exit_status f 5)" 0
finish
