#!/usr/bin/env bash
# qdeck worker guarding a task type with its [dependency]: the `http`
# upstream (a local server we control) starts failing, the worker's breaker
# opens (a transition in qdeck:events, OPEN in `qdeck breaker list`), tasks
# fail fast without reaching the upstream (requests counted there) and wait
# in the retry path, the upstream heals, half-open probes close the breaker
# and every task completes. Then `qdeck breaker open` forces it open in the
# worker within 2 s (tasks refused, none reach the upstream) and `reset`
# closes it again.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"
source "$here/../lib/worker.sh"

T=$QDECK_TEST_TMP/worker-resilience-breaker
worker_plugins "$T"
port=$(free_ports 1)
flag=$T/failing
hits=$T/hits
: >"$hits"

python3 "$here/../lib/flaky-upstream.py" "$port" "$flag" "$hits" &
upstream=$!
wpid=
trap 'kill $upstream 2>/dev/null; [ -n "$wpid" ] && kill -9 $wpid 2>/dev/null' EXIT
check "upstream answers" wait_for 10 curl -sf "http://127.0.0.1:$port/"
: >"$hits"

cat >"$T/qdeck.conf" <<CONF
[context t]
redis = $REDIS_URL

[worker]
queues = redis:calls
concurrency = 4
heartbeat = 0.5
plugin_dir = $T/plugins
retry_base = 0.2
retry_cap = 0.6
max_attempts = 100

[task call]
handler = http
args = url=http://127.0.0.1:$port/,method=GET,timeout=2
dependency = upstream

[dependency upstream]
window_size = 10
minimum_calls = 10
failure_rate = 50
open_wait = 3
half_open_calls = 3
CONF
chmod 600 "$T/qdeck.conf"
q() { "$QDECK" --config "$T/qdeck.conf" "$@"; }
R="redis-cli -p $REDIS_PORT"
$R del qdeck:events >/dev/null
completed() { [ "$($R --scan --pattern 'qdeck:task:*' | while read -r k; do $R hget "$k" status; done | grep -c COMPLETED)" -ge "$1" ]; }
drained() { [ "$($R llen calls)" = 0 ] && [ "$($R zcard qdeck:delayed:calls)" = 0 ]; }
event_seen() { $R xrange qdeck:events - + | grep -q -- "$1"; }
hb() { for k in $($R --scan --pattern 'qdeck:worker:*'); do $R get "$k"; done; }
state_is() { [ "$(hb | jq -r '.breakers.upstream.state' | sort -u)" = "$1" ]; }

"$QDECK" --config "$T/qdeck.conf" worker >"$T/worker.out" 2>"$T/worker.err" &
wpid=$!
q publish redis:calls --type call --payload '{}' --count 20 >/dev/null 2>&1
check "healthy: 20 calls complete through the breaker" wait_for 20 completed 20
check "heartbeat reports the breaker CLOSED" wait_for 5 state_is CLOSED

touch "$flag"
q publish redis:calls --type call --payload '{}' --count 40 >"$T/failing.ids" 2>/dev/null
check "failing upstream: breaker CLOSED -> OPEN event in qdeck:events" wait_for 10 event_seen 'breaker upstream CLOSED -> OPEN'
t_open=$($R xrange qdeck:events - + | grep -B3 'CLOSED -> OPEN' | grep -m1 -o '^[0-9]*-' | tr -d -)
check "qdeck breaker list shows OPEN" wait_for 3 bash -c "'$QDECK' --config '$T/qdeck.conf' breaker list | grep -E '^upstream .*OPEN'"
sleep 1.5   # inside open_wait (3 s)
during=$(awk -v a="$t_open" '$1 > a + 100 && $1 < a + 2500 { n++ } END { print n + 0 }' "$hits")
expect_eq "while OPEN no call reaches the upstream" "$during" 0
refused=$(grep -c 'breaker upstream OPEN' "$T/worker.err")
check "tasks failed fast with 'breaker upstream OPEN' and went the retry path ($refused)" test "$refused" -ge 10
expect_eq "no task dead-lettered while OPEN" "$($R llen calls:dlq)" 0

rm -f "$flag"   # the upstream heals
check "half-open after open_wait" wait_for 6 event_seen 'breaker upstream OPEN -> HALF_OPEN'
check "probes pass: HALF_OPEN -> CLOSED" wait_for 10 event_seen 'breaker upstream HALF_OPEN -> CLOSED'
check "every task completes once the upstream is back" wait_for 30 completed 60
check "nothing left queued or delayed" wait_for 10 drained
expect_eq "nothing dead-lettered" "$($R llen calls:dlq)" 0
check "heartbeat: no permit left in flight" wait_for 5 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.breakers.upstream.in_flight')\" = 0 ]"

# operator command: forced open within 2 s, then reset
t0=$(date +%s%N)
q breaker open upstream >/dev/null 2>&1
check "breaker open: FORCED_OPEN in the worker's heartbeat within 2 s" wait_for 2 state_is FORCED_OPEN
echo "  (forced open seen after $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
before=$(wc -l <"$hits")
q publish redis:calls --type call --payload '{}' --count 5 >/dev/null 2>&1
check "forced open: tasks refused with the reason" wait_for 5 grep -q 'breaker upstream FORCED_OPEN' "$T/worker.err"
sleep 0.5
expect_eq "forced open: no call reached the upstream" "$(wc -l <"$hits")" "$before"
q breaker reset upstream >/dev/null 2>&1
check "breaker reset: CLOSED within 2 s" wait_for 2 state_is CLOSED
check "the refused tasks complete after the reset" wait_for 20 completed 65
check "operator transitions are events too" event_seen 'FORCED_OPEN'

kill -TERM "$wpid"
wait "$wpid"; rc=$?
wpid=
expect_eq "SIGTERM: exit 0" "$rc" 0
expect_nomatch "no double-ended permit" "$(cat "$T/worker.err")" 'double|ended twice'
finish
