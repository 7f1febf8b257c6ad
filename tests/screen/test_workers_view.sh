#!/usr/bin/env bash
# The Workers view (3) driven in tmux against the real Redis: heartbeats
# from real heartbeat threads (tests/tools/sched-node) and one written by
# hand with redis-cli show as rows with host:pid, queues, a busy/total bar
# and counts; a SIGKILLed worker turns LOST (and stays listed after its key
# expired), a SIGTERMed one shows "stopped"; lost sorts first and is drawn
# in the crit colour; Enter opens the detail pane, Esc closes it; the view
# survives Redis going away (greyed, with the reason).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
source "$here/../lib/servers.sh"

dir=$QDECK_TEST_TMP/workers-$$
mkdir -p "$dir"
pids=()
cleanup() { screen_stop_all; for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
R="redis-cli -p $REDIS_PORT"

node() {   # node NAME ARGS...: a stand-in worker; its pid in pids[NAME]
  local name=$1; shift
  "$TOOLS/sched-node" --redis "$REDIS_URL" "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
  echo $! >"$dir/$name.pid"; pids+=($!)
}
node alpha --id alpha-1 --queues amqp:orders,redis:jobs --slots 8 --busy 6 --processed 1500 --failed 7
node beta --id beta-2 --queues stream:events#g --slots 4 --busy 4 --processed 20
node gamma --id gamma-3 --queues amqp:mail --slots 2 --busy 0 --processed 5
# one heartbeat written by hand, as any other implementation of the protocol would
now=$(date +%s.%N)
$R set qdeck:worker:hand-9 "{\"id\":\"hand-9\",\"host\":\"handhost\",\"pid\":4242,\"version\":\"0.0.1\",\"at\":$now,\"interval\":30,\"queues\":[\"redis:manual\"],\"slots_busy\":1,\"slots_total\":10,\"processed\":77,\"failed\":3,\"retried\":4,\"dead_lettered\":2,\"parked\":535,\"state\":\"running\"}" PX 90000 >/dev/null
$R zadd qdeck:registry:workers "$now" hand-9 >/dev/null   # the worker registry: readers never walk the keyspace
check "heartbeats in Redis" wait_for 5 bash -c "[ \$($R --scan --pattern 'qdeck:worker:*' | wc -l) -eq 4 ]"

host=$(hostname)
screen_start w "$QDECK --redis $REDIS_URL --refresh 0.5"
screen_keys w 3
check "tab 3 is Workers" screen_wait w 10 '3 Workers'
check "column titles" screen_wait w 10 'WORKER.*STATE.*SLOTS.*PROC.*FAIL.*BEAT'
check "a row per worker: host:pid" screen_wait w 10 "$host:[0-9]+ "
check "hand-written heartbeat shown" screen_wait w 10 'handhost:4242 +running +redis:manual'
check "queues of a worker" screen_wait w 5 'amqp:orders, redis:jobs'
check "busy/total slots as a bar with counts" screen_wait w 5 '██████*·* +6/8'
check "a full worker's bar" screen_wait w 5 '██████████ +4/4'
check "counts: processed, failed, retried, DLQ'd" screen_wait w 5 'handhost:4242 .* 77 +3 +4 +2 '
check "parked has a column of its own, not in DLQ" screen_wait w 5 'DLQ +PARKED.*'
check "counts: DLQ'd 2, parked 535" screen_wait w 5 'handhost:4242 .* 77 +3 +4 +2 +535 '
check "summary line counts the fleet" screen_wait w 5 '4 workers: 4 running, 0 lost, 0 stopped'
check "beat age in seconds" screen_wait w 5 'handhost:4242 .* [0-9.]+s *$'
check "password never on screen" bash -c "! tmux -L '$SCREEN_SOCK' capture-pane -p -t w | grep -q s3cret-pw"

# SIGKILL alpha: no goodbye, its key expires after 3 x 1 s -> LOST, and it stays listed
alpha_pid=$(cat "$dir/alpha.pid")
kill -KILL "$alpha_pid"
check "a SIGKILLed worker turns LOST" screen_wait w 10 "$host:$alpha_pid +LOST"
check "the summary counts it lost" screen_wait w 5 '4 workers: 3 running, 1 lost'
check "its heartbeat key is gone (TTL 3 x interval)" wait_for 5 bash -c "[ \"\$($R exists qdeck:worker:alpha-1)\" = 0 ]"
sleep 1.5
check "still listed as LOST after its key vanished" screen_wait w 3 "$host:$alpha_pid +LOST"
first=$(screen_text w | grep -E "^(handhost|$host):" | head -1)
expect_match "lost sorts first" "$first" "$host:$alpha_pid +LOST"
# (the first row is selected and drawn in the selection colour: move off it)
screen_keys w j
sleep 0.3
# the attributes a row is drawn with, up to its state word: crit for LOST
row_sgr() { screen_colours w | grep -E "$1" | head -1 | sed -E "s/ $2 .*//" | grep -oE $'\e\\[[0-9;]*m' | tr -d '\n'; }
lost_sgr=$(row_sgr "$host:$alpha_pid" LOST); running_sgr=$(row_sgr 'handhost:4242' running)
check "the LOST row has attributes of its own" test -n "$lost_sgr"
check "LOST is drawn unlike a running worker (crit colour)" test "$lost_sgr" != "$running_sgr"

# SIGTERM gamma: a clean stop says so
gamma_pid=$(cat "$dir/gamma.pid")
kill -TERM "$gamma_pid"
check "a SIGTERMed worker shows stopped, not lost" screen_wait w 10 "$host:$gamma_pid +stopped"
check "the summary counts it stopped" screen_wait w 5 '2 running, 1 lost, 1 stopped'

# sort and detail
screen_keys w s
check "s sorts by host" screen_wait w 5 'sorted by host'
screen_keys w g Enter
check "Enter opens the detail pane" screen_wait w 5 'worker .* \(Esc closes\)'
check "detail shows breakers from the report" screen_wait w 5 'Breakers +(llm-api CLOSED|-)'
check "detail shows slots" screen_wait w 5 'Slots +[0-9]+ busy of [0-9]+'
screen_keys w Escape
check "Esc closes it" screen_wait_gone w 5 'Esc closes'
screen_keys w / h a n d Enter
check "filter keeps the match" screen_wait w 5 'handhost:4242'
check "filter hides the rest" screen_wait_gone w 5 "$host:$alpha_pid"
screen_keys w / Escape
screen_keys w / b e t a - 2 Enter
check "filter by worker id" screen_wait_gone w 5 'handhost:4242'
screen_keys w Enter
check "detail: processed rate between beats (1 task per beat)" screen_wait w 8 'Processed +[0-9]+ \((0\.[89]|1\.[01])/s\), failed 0'
check "detail: scheduler role" screen_wait w 5 'Scheduler +not running here'
check "detail: run-time percentiles need task types" screen_wait w 5 'Run time +- \(no task types'
screen_keys w Escape
screen_keys w / Escape
check "filter cleared" screen_wait w 5 'handhost:4242'

# Redis goes away: last known rows stay, greyed, with the reason on top
stop_redis
check "Redis down: the view says so" screen_wait w 15 'fleet: disconnected'
check "Redis down: rows are kept" screen_wait w 2 'handhost:4242'
start_redis >/dev/null
check "Redis back: the fleet reads again" screen_wait w 20 '[0-9]+ workers?: '

# a value longer than its column wraps under itself (up to 3 lines), at 80
# columns as anywhere: three queues take three lines of the 24-column value
now=$(date +%s.%N)
$R set qdeck:worker:wide-7 "{\"id\":\"wide-7\",\"host\":\"widehost\",\"pid\":77,\"version\":\"0.0.1\",\"at\":$now,\"interval\":30,\"queues\":[\"amqp:wide.q1\",\"amqp:wide.q2\",\"amqp:wide.q3\"],\"slots_busy\":0,\"slots_total\":4,\"processed\":1,\"failed\":0,\"state\":\"running\"}" PX 90000 >/dev/null
$R zadd qdeck:registry:workers "$now" wide-7 >/dev/null
# and one registered whose key is gone, that no earlier read knew: the
# filter below reads every row's fields (a NULL health crashed it once)
$R zadd qdeck:registry:workers "$now" ghost-5 >/dev/null
tmux -L "$SCREEN_SOCK" resize-window -t w -x 80 -y 30
screen_keys w / w i d e - 7 Enter
check "80 columns: the wide worker listed" screen_wait w 10 'widehost:77'
screen_keys w Enter
check "80 columns: its detail opens" screen_wait w 5 'worker wide-7 +\(Esc closes\)'
check "80 columns: the queue list begins on the Queues line" screen_wait w 5 'Queues +amqp:wide\.q1,'
wrapped=$(screen_text w | grep -E -A2 'Queues +amqp' | tail -n +2)
expect_match "80 columns: ... goes on under itself" "$(head -1 <<<"$wrapped")" '^ {14,}amqp:wide\.q2,'
expect_match "80 columns: ... to its last queue, not cut" "$(tail -1 <<<"$wrapped")" '^ {14,}amqp:wide\.q3 *$'
screen_keys w Escape / Escape
tmux -L "$SCREEN_SOCK" resize-window -t w -x 70 -y 20
check "narrow terminal: still the worker rows" screen_wait w 5 "$host:[0-9]+"
screen_keys w q
expect_eq "q exits with status 0" "$(screen_exit_status w 10)" 0
finish
