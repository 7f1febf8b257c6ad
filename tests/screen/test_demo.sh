#!/usr/bin/env bash
# `qdeck demo` end to end, as `make run` starts it: its private
# redis-server, flaky upstream, embedded worker pool with its heartbeat and
# scheduler, and producers. The queues fill and drain, the first failure
# wave of the LLM API dead-letters tasks, the Workers and Scheduler views
# show the embedded worker, and quitting takes the redis-server child and
# its temp dir away.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
trap screen_stop_all EXIT

screen_start d "$QDECK -v --log $QDECK_TEST_TMP/work/demo.log demo"
check "the overview names the private socket" screen_wait d 20 'unix:///tmp/qdeck-demo\.'
sock=$(screen_text d | grep -oE 'unix:///tmp/qdeck-demo\.[A-Za-z0-9]+/redis\.sock' | head -1)
dir=${sock#unix://}; dir=${dir%/redis.sock}
check "the private redis-server listens on a unix socket" test -S "$dir/redis.sock"
redis_pid=""
[ -n "$dir" ] && redis_pid=$(pgrep -f "redis-server.*${dir}/" | head -1)
check "found the redis-server child" test -n "$redis_pid"
screen_keys d 2
check "the demo's queues appear" screen_wait d 30 'redis:llm\.summarize'

# depth of a queue as the Queues view shows it (READY column), "" when absent
depth() { screen_text d | awk -v q="$1" '$1 == q {print $2}'; }
check "the worker drains the burst (depth rises, then falls)" bash -c "
  $(declare -f depth screen_text); SCREEN_SOCK='$SCREEN_SOCK'
  peak=0
  for i in \$(seq 150); do
    v=\$(depth redis:llm.summarize); v=\${v:-0}
    [ \"\$v\" -gt \"\$peak\" ] && peak=\$v
    [ \"\$peak\" -gt 0 ] && [ \"\$v\" -lt \"\$peak\" ] && exit 0
    sleep 0.2
  done; exit 1"
check "the embedded worker consumes the demo's queues" grep -q 'consuming redis:llm.summarize' "$QDECK_TEST_TMP/work/demo.log"
check "the LLM failure wave dead-letters tasks" bash -c "
  $(declare -f depth screen_text); SCREEN_SOCK='$SCREEN_SOCK'
  for i in \$(seq 300); do
    v=\$(depth redis:llm.summarize:dlq); [ \"\${v:-0}\" -gt 0 ] && exit 0
    sleep 0.25
  done; exit 1"
screen_keys d 3
check "the Workers view shows the embedded worker busy" screen_wait d 10 'running .*[1-8]/8'
check "the demo runs a fleet: the embedded pool and two child workers" screen_wait d 15 '3 workers: 3 running'
screen_keys d 5
check "the LLM failure wave opens the llm-api breaker" screen_wait d 30 'llm-api +(OPEN|HALF_OPEN)'
screen_keys d 9
check "the Events view shows the breaker's transitions" screen_wait d 10 'breaker llm-api CLOSED -> OPEN'
screen_keys d 8
check "the Scheduler view shows the demo's jobs" screen_wait d 10 'digest +every 15s +publish'
check "the health probe has run" screen_wait d 10 'health .*redis ok'
screen_keys d 2
# the wave's third attempts land a few seconds after the breaker opens: wait for the first
check "dead letters carry their reason in the log" wait_for 30 grep -qE 'dead-lettered: [a-z_]+: ' "$QDECK_TEST_TMP/work/demo.log"

screen_keys d q
expect_eq "demo exits cleanly" "$(screen_exit_status d 15)" 0
check "the worker drained and stopped, having completed tasks" \
  grep -qE 'stopped \(processed [1-9]' "$QDECK_TEST_TMP/work/demo.log"
check "the private redis-server is gone" bash -c "[ -n '$redis_pid' ] && ! kill -0 '$redis_pid' 2>/dev/null"
check "its temp dir is gone" bash -c "[ -n '$dir' ] && [ ! -e '$dir' ]"
finish
