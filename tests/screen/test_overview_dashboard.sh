#!/usr/bin/env bash
# The Overview as a dashboard (one tmux session, a real Redis, a real
# worker): with one worker on a Redis list behind a dependency, the
# Overview at 120x40 shows in one screen the queue, the worker's slots, the
# task type's p99, the dependency's breaker and the dead-letter line; at
# 80x24 the alerts and the queue panel remain.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"

conf=$QDECK_TEST_TMP/work/dashboard.conf
cat > "$conf" <<CONF
[context test]
redis = $REDIS_URL
[worker]
queues = redis:calls
concurrency = 4
max_attempts = 1
heartbeat = 0.5
[task call]
handler = sleep
args = ms=300
dependency = upstream
[task bad]
handler = fail
args = always=true
[dependency upstream]
failure_rate = 50
CONF
"$QDECK_PLAIN" --config "$conf" worker > "$QDECK_TEST_TMP/work/dashboard-worker.log" 2>&1 &
worker=$!
trap 'screen_stop_all; kill -TERM $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT
# 400 tasks of 0.3 s on 4 slots: the list stays busy for the whole test
"$QDECK_PLAIN" --config "$conf" publish redis:calls --type bad --payload '{}' --count 2 >/dev/null
"$QDECK_PLAIN" --config "$conf" publish redis:calls --type call --payload '{}' --count 400 >/dev/null

screen_start o "$QDECK --config $conf --refresh 0.3"
check "the dead letters reach the DLQ line" screen_wait o 20 '2 dead letters in 1 DLQ'
text=$(screen_text o)
expect_match "the queue, in the queue panel" "$text" 'redis:calls +[0-9]+ '
expect_match "the worker's slots as busy/total" "$text" 'slots .*[0-9]+/4 busy'
check "the task type's end-to-end p99" screen_wait o 10 'call +[0-9.]+(us|ms|s) +[0-9.]+(us|ms|s)'
check "the dependency's breaker" screen_wait o 10 'closed: upstream|upstream +(OPEN|HALF_OPEN)'
expect_match "which DLQ" "$(screen_text o)" 'redis:calls:dlq +2 '
expect_match "workers up and lost" "$(screen_text o)" 'workers +1 up +0 lost'

tmux -L "$SCREEN_SOCK" resize-window -t o -x 80 -y 24
check "80x24: the alerts panel remains" screen_wait o 5 'Alerts'
text=$(screen_text o)
expect_match "80x24: the queue panel remains, with the queue" "$text" 'redis:calls +[0-9]+ '
expect_match "80x24: its title too" "$text" 'Queues'
screen_keys o q
expect_eq "console exits 0" "$(screen_exit_status o 10)" 0
finish
