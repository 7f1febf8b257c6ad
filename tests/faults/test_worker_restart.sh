#!/usr/bin/env bash
# Broker restarts under a running worker: RabbitMQ restarted mid-run (durable
# queue, persistent messages), then Redis restarted mid-run (shut down with a
# save and started again on the same port, as a Redis with persistence
# would) while the worker consumes a Redis list and writes the result store.
# The same worker process reconnects by itself and every task completes.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"
source "$here/../lib/worker.sh"

N=3000
R="redis-cli -p $REDIS_PORT"
T=$QDECK_TEST_TMP/restart
worker_plugins "$T"
log=$T/runs.log

ends_at_least() { [ "$(grep -c '^E ' "$log")" -ge "$1" ]; }
no_processing() { [ -z "$($R keys 'qdeck:processing:*')" ]; }
all_completed() {
  local n
  n=$(sed 's/^/HGET qdeck:task:/; s/$/ status/' "$1" | $R 2>/dev/null | grep -c '^COMPLETED$')
  [ "$n" = "$N" ]
}

for kind in amqp redis; do
  : >"$log"
  cat >"$T/qdeck.conf" <<CONF
[context t]
amqp = $AMQP_URL
redis = $REDIS_URL

[worker]
queues = $kind:work
concurrency = 8
prefetch = 32
plugin_dir = $T/plugins

[task rec]
handler = worker_record
args = file=$log,ms=2
CONF
  chmod 600 "$T/qdeck.conf"
  "$QDECK" --config "$T/qdeck.conf" publish "$kind:work" --type rec --count "$N" --declare >"$T/ids-$kind" 2>/dev/null
  expect_eq "$kind: published $N" "$(wc -l <"$T/ids-$kind")" "$N"
  "$QDECK" --config "$T/qdeck.conf" worker 2>"$T/worker-$kind.err" &
  pid=$!
  check "$kind: worker under way" wait_for 60 ends_at_least $((N / 5))
  if [ "$kind" = amqp ]; then
    restart_rabbit >/dev/null
  else
    rpid=$(cat "$REDIS_DIR/redis.pid")
    $R shutdown save >/dev/null 2>&1
    wait_for 10 _dead "$rpid"
    sleep 1
    start_redis >/dev/null
  fi
  check "$kind: the same worker is still running after the restart" kill -0 "$pid"
  check "$kind: every task completed after the restart" wait_for 120 all_completed "$T/ids-$kind"
  expect_match "$kind: the worker noticed and reconnected" "$(cat "$T/worker-$kind.err")" 'connection lost'
  check "$kind: no processing list left over" wait_for 10 no_processing
  kill -TERM "$pid"; wait "$pid"
  expect_eq "$kind: exit 0 on SIGTERM" "$?" 0
done

finish
