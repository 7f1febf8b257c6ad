#!/usr/bin/env bash
# Redis queues joined with the fleet: with one real `qdeck worker` on a
# Redis list, the Queues view and `qdeck status --json` give that list 1
# consumer and a non-zero out rate (from the worker's heartbeat), and name
# the worker, and its detail charts the depth's last 10 minutes; the
# Latency view charts the worker's task type over the last 10 minutes
# (done/s, failed/s, p99: ui/type-series.h) and the Overview the fleet's
# done/s; a queue paused by its guardrail shows PAUSED on its row, in
# status --json and the status table, and raises no depth alert.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"

conf=$QDECK_TEST_TMP/work/queues-fleet.conf
cat > "$conf" <<CONF
[context test]
redis = $REDIS_URL
[worker]
queues = redis:fleetq
concurrency = 2
[task work]
handler = sleep
args = ms=40
[alerts]
depth = 5
CONF
R="redis-cli -p $REDIS_PORT"
"$QDECK_PLAIN" --config "$conf" worker > "$QDECK_TEST_TMP/work/queues-fleet-worker.log" 2>&1 &
worker=$!
trap 'screen_stop_all; kill -TERM $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT
for i in $(seq 8); do $R rpush fleetdeep "x$i" >/dev/null; done
# ~40 s of work for 2 slots of 40 ms: the rate is measured while it runs,
# and the list is still deep when it is paused
"$QDECK_PLAIN" --config "$conf" publish redis:fleetq --type work --payload '{}' --count 2000 >/dev/null

# COLUMN of the row of QUEUE in the Queues view, by the header's titles
# (sort arrows and PAUSED/SHED badges aside)
cell() {
  screen_text q | awk -v queue="$1" -v col="$2" '
    /^QUEUE/ { gsub(/ ?[↑↓]/, ""); for (i = 1; i <= NF; i++) at[$i] = i }
    $1 == queue { line = $0; gsub(/ (PAUSED|SHED) /, " ", line); split(line, f, / +/); print f[at[col]]; exit }'
}
screen_start q "$QDECK --config $conf --refresh 0.3"
screen_keys q 2
check "the Queues view lists the Redis list" screen_wait q 15 '^redis:fleetq '
one_consumer() { [ "$(cell redis:fleetq CONS)" = 1 ]; }
check "Queues view: the Redis list has 1 consumer (from the heartbeat)" wait_for 10 one_consumer
moving() { awk -v r="$(cell redis:fleetq OUT/s)" 'BEGIN { exit !(r + 0 > 0) }'; }
check "Queues view: the Redis list has a non-zero out rate" wait_for 10 moving

status_row() { "$QDECK" status --json --redis "$REDIS_URL" | jq -c '.sources[0].queues[] | select(.queue == "redis:fleetq")'; }
json_moving() { [ "$(status_row | jq '.consumers == 1 and .rate_out > 0')" = true ]; }
check "status --json: 1 consumer and a non-zero out rate" wait_for 10 json_moving
expect_eq "status --json: the worker consuming it, by id" "$(status_row | jq -r '.workers | length')" 1

worker_id=$(status_row | jq -r '.workers[0]')
screen_keys q /; screen_keys q fleetq Enter; screen_keys q Enter
check "the detail pane names the qdeck worker" screen_wait q 5 "qdeck workers +$worker_id"
expect_match "the detail pane charts the depth's last 10 minutes" "$(screen_text q)" 'Depth 10m +.*(▁|▂|▃|▄|▅|▆|▇|█)'
screen_keys q Escape; screen_keys q /; screen_keys q Escape

# the time series of the running worker's task type, while it works
screen_keys q 4
check "Latency view lists the worker's task type" screen_wait q 10 '^work +wait '
check "Latency view: a done/s chart of the type, non-zero" screen_wait q 15 'done/s +now [1-9][0-9.]* +max [1-9][0-9.]*'
check "Latency view: the p99 chart of the type's run time (measured every 5 s)" \
  screen_wait q 15 'run p99 +now [0-9.]+ms +max [0-9.]+ms'
text=$(screen_text q)
expect_match "Latency view: failed/s charted (none fail)" "$text" 'failed/s +now 0 +max 0'
expect_match "Latency view: the y axis labelled with the maximum, the chart beside it" "$text" '[1-9][0-9.]* ┤ +[^ ]'
braille() { screen_text q | LC_ALL=C grep -q $'\xe2[\xa0-\xa3]'; }   # U+2800..U+28FF
check "Latency view: the chart is drawn in braille" braille
expect_match "Latency view: the time axis spans 10 minutes" "$text" '-10m +now'
expect_match "Latency view: why the counts differ" "$text" 'COUNT: wait = started, with a send time'
expect_match "Latency view: the figures sit beside the type name" "$text" '^work +wait +[0-9]+ +[0-9.]+m?s '
screen_keys q 1
check "Overview: the fleet's done/s chart" screen_wait q 10 '│ done/s +(now )?[1-9][0-9.]* +max [1-9]'
screen_keys q 2

"$QDECK_PLAIN" --config "$conf" policy set queue.redis:fleetq.paused true >/dev/null
check "a paused queue shows PAUSED on its row" screen_wait q 10 '^redis:fleetq +PAUSED '
no_consumer() { [ "$(cell redis:fleetq CONS)" = 0 ]; }
check "a paused Redis list has no consumer (the worker reads nothing from it)" wait_for 10 no_consumer
paused_json() { [ "$(status_row | jq '.paused')" = true ]; }
check "status --json: paused" wait_for 5 paused_json
expect_match "status table: PAUSED" "$("$QDECK" status --redis "$REDIS_URL" 2>/dev/null)" '^redis:fleetq .* PAUSED '
expect_nomatch "an unpaused queue shows no badge" "$(screen_text q)" '^redis:fleetdeep +PAUSED'

# deeper than the threshold, but paused: the Overview alerts on the other list only
deep() { [ "$($R llen fleetq)" -gt 5 ]; }
check "the paused queue holds more than the depth threshold" wait_for 5 deep
screen_keys q 1
check "the Overview alerts on the unpaused deep list" screen_wait q 10 'redis:fleetdeep depth 8 \(alert above 5\)'
expect_nomatch "a paused queue raises no depth alert" "$(screen_text q)" 'redis:fleetq depth'
"$QDECK_PLAIN" --config "$conf" policy set queue.redis:fleetq.paused false >/dev/null
screen_keys q 2
check "the badge goes when the queue is resumed" screen_wait_gone q 10 '^redis:fleetq +PAUSED'
screen_keys q q
expect_eq "console exits cleanly" "$(screen_exit_status q 5)" 0
finish
