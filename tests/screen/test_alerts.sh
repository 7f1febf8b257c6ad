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
finish
