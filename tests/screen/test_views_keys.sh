#!/usr/bin/env bash
# Keys belong to the view on screen (one tmux session, a real Redis): every
# table view (Queues, Workers, Latency, Breakers, DLQ, Guardrails,
# Scheduler, Events) sorts with s and filters with / through the one list
# widget, and each keeps its own filter and sort: a filter or a sort made in
# one view changes nothing in the others, Enter acts on the shown view only,
# the selection goes back to the top after a filter, g/G work in the DLQ
# picker, ? lists the shown view's keys first, and the : line completes with
# Tab, recalls with Up and takes the column names the views show.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
trap screen_stop_all EXIT

R="redis-cli -p $REDIS_PORT"
conf=$QDECK_TEST_TMP/work/viewkeys.conf
cat > "$conf" <<CONF
[context test]
redis = $REDIS_URL
[schedule tick]
every = 3600
action = probe
[schedule nightly]
cron = 30 2 * * *
action = trim
pattern = qdeck:task:*
CONF

$R rpush alpha 1 2 3 >/dev/null
$R rpush beta 1 2 3 4 5 6 7 8 9 10 11 12 >/dev/null
$R rpush jobs:dlq '{"id":"m1"}' >/dev/null
$R rpush zz:dlq '{"id":"m2"}' '{"id":"m3"}' >/dev/null
run='h1 n=100 min=1000 max=5000000 sum=5099000 over=0 b=317:99,783'
now=$(date +%s)
heartbeat() {   # heartbeat ID HOST PID TYPE BREAKERS_JSON
  $R set "qdeck:worker:$1" "{\"id\":\"$1\",\"host\":\"$2\",\"pid\":$3,\"version\":\"test\",\"at\":$now,\"interval\":600,\"state\":\"running\",\"queues\":\"redis:alpha\",\"slots_busy\":1,\"slots_total\":4,\"processed\":$3,\"breakers\":$5,\"latency\":{\"$4\":{\"queue_wait\":\"$run\",\"run\":\"$run\",\"e2e\":\"$run\"}}}" >/dev/null
  $R zadd qdeck:registry:workers "$now" "$1" >/dev/null
}
heartbeat w-ant anthost 101 resize '{"llm-api":{"state":"OPEN","failure_rate":60,"slow_rate":0,"calls":40}}'
heartbeat w-bee beehost 202 thumb '{"geo":{"state":"CLOSED","failure_rate":1,"slow_rate":0,"calls":3}}'
$R xadd qdeck:events '*' type breaker dep llm-api from CLOSED to OPEN >/dev/null
$R xadd qdeck:events '*' type worker.lost subject w9 text "worker w9 lost (no heartbeat for 3s) while it held 4 slots of queue redis:alpha and the rest of this sentence is long enough to wrap at eighty columns" >/dev/null

screen_start k "$QDECK --config $conf --refresh 0.3"
screen_keys k 2
check "Queues lists the lists" screen_wait k 15 'redis:beta +12 '

# Queues: its own filter and sort
screen_keys k / b e t Enter
check "Queues: / filters" screen_wait_gone k 5 'redis:alpha '
screen_keys k : 'sort depth' Enter
check ":sort takes a column name the view shows (depth)" screen_wait k 5 'sorted by total, descending'
check "the sorted column's title carries the arrow" screen_wait k 5 '↓TOTAL'

# Workers: the Queues filter does not reach it; its own keys
screen_keys k 3
check "Workers: both workers, untouched by the Queues filter" screen_wait k 10 'beehost:202 '
expect_match "Workers: the other worker too" "$(screen_text k)" 'anthost:101 '
expect_nomatch "Workers: no filter shown for this view" "$(screen_text k | sed -n 2p)" 'filter:'
screen_keys k s
check "Workers: s sorts the workers" screen_wait k 5 'sorted by host, ascending'
screen_keys k G / h o s t Enter Enter
check "Workers: after a filter the selection is back at the top (Enter opens the first row)" \
  screen_wait k 5 'worker w-ant +\(Esc closes\)'
screen_keys k Escape

# Latency, Breakers: s and / on their own tables
screen_keys k 4
check "Latency: both task types" screen_wait k 10 'thumb +wait'
screen_keys k / r e s Enter
check "Latency: / keeps resize only" screen_wait_gone k 5 'thumb +wait'
expect_match "Latency: resize stays" "$(screen_text k)" 'resize +wait'
screen_keys k 5
check "Breakers: both dependencies (no filter from Latency)" screen_wait k 10 'geo +CLOSED'
screen_keys k : 'sort fail' Enter
check "Breakers: :sort fail" screen_wait k 5 'sorted by fail, descending'
check "Breakers: worst failure rate first" bash -c "tmux -L '$SCREEN_SOCK' capture-pane -p -t k | grep -oE '^(llm-api|geo) ' | head -1 | grep -q llm-api"
screen_keys k Enter
sleep 0.3   # Enter in Breakers opens nothing: give a wrong jump the time to show
expect_nomatch "Breakers: Enter does not jump to a queue" "$(screen_text k)" 'Consumers|\(Esc closes\)'
screen_keys k '?'
check "help: the shown view's keys come first" screen_wait k 5 'force the selected breaker OPEN'
help=$(screen_text k)
own=$(echo "$help" | grep -n 'force the selected breaker OPEN' | cut -d: -f1)
table=$(echo "$help" | grep -n 'select the next row' | cut -d: -f1)
check "help: the view's keys above the table's ($own < ${table:-none})" test "${own:-99}" -lt "${table:-0}"
screen_keys k Escape

# DLQ picker: g/G and its own sort
screen_keys k 6
check "DLQ: both dead-letter lists" screen_wait k 10 'redis:zz:dlq'
screen_keys k G Enter
check "DLQ: G then Enter opens the last one" screen_wait k 10 'redis:zz:dlq  2 messages'
check "DLQ: the page says how old it is" screen_wait k 5 'read [0-9]+s ago'
$R rpush zz:dlq '{"id":"m4"}' >/dev/null
check "DLQ: the page reloads by itself (no l pressed)" screen_wait k 10 'redis:zz:dlq  3 messages'
screen_keys k Escape g Enter
check "DLQ: g then Enter opens the first one" screen_wait k 10 'redis:jobs:dlq  1 messages'
screen_keys k Escape

# Guardrails and Scheduler: / on their own rows
screen_keys k 7
check "Guardrails listed" screen_wait k 10 'shed\.auto'
screen_keys k / b u d g Enter
check "Guardrails: / keeps budget rows" screen_wait_gone k 5 'shed\.auto'
screen_keys k 8
check "Scheduler: both jobs (no filter from Guardrails)" screen_wait k 10 'tick '
expect_match "Scheduler: nightly too" "$(screen_text k)" 'nightly '
screen_keys k s
check "Scheduler: s sorts by its first column" screen_wait k 5 'sorted by job, ascending'

# Events: its own filter; Enter opens the event whole, wrapped
screen_keys k 9
check "Events: both events" screen_wait k 10 'worker\.lost'
screen_keys k / l o s t Enter
check "Events: / keeps the lost worker" screen_wait_gone k 5 'dep=llm-api'
screen_keys k Enter
check "Events: Enter shows the event whole" screen_wait k 5 'worker\.lost event +\(Esc closes\)'
check "Events: the long text wraps onto a second line" screen_wait k 5 '^  .*eighty columns'
screen_keys k Escape

# every view kept its own filter and sort
screen_keys k 2
check "Queues kept its filter" screen_wait k 5 'filter: bet'
expect_nomatch "Queues: alpha still filtered out" "$(screen_text k)" 'redis:alpha '
expect_match "Queues kept its sort" "$(screen_text k)" '↓TOTAL'
screen_keys k 4
check "Latency kept its filter" screen_wait k 5 'filter: res'
screen_keys k 5
check "Breakers: no filter of its own" screen_wait k 5 'geo +CLOSED'

# the : line: Tab completes commands and the view's columns, Up recalls, Ctrl-U clears
screen_keys k 2 : s o Tab
check ": Tab completes the command" screen_wait k 5 '^:sort *$'
screen_keys k r e a Tab
check ": Tab completes the Queues column" screen_wait k 5 '^:sort ready *$'
screen_keys k Enter
check ":sort ready ran" screen_wait k 5 'sorted by ready, descending'
screen_keys k : Up
check ": Up recalls the last command" screen_wait k 5 ':sort ready'
screen_keys k C-u
check ": Ctrl-U clears the line" screen_wait k 5 '^:$'
screen_keys k Escape

screen_keys k q
expect_eq "console exits 0" "$(screen_exit_status k 10)" 0
finish
