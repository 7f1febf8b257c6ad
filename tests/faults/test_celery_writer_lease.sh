#!/usr/bin/env bash
# Two collectors of one Celery fleet (two headless `qdeck celery watch`, as
# two consoles would run): one at a time writes the fleet reports and
# steers the workers, the holder of qdeck:celery:writer:<source>. A pause
# reaches the worker through the writer alone; SIGKILL the writer and the
# other takes over within the lease, reads back which queue the dead one
# paused, and unpauses it when the guardrail is cleared.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

require_celery

work=$QDECK_TEST_TMP/celery-lease
mkdir -p "$work"
cat > "$work/leasetasks.py" <<'PY'
import os
from celery import Celery

app = Celery("leasetest", broker=os.environ["CELERY_BROKER"])
app.conf.update(task_default_queue="lease_q", worker_send_task_events=True, broker_connection_retry_on_startup=True,
                worker_hijack_root_logger=False)
PY
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done; }
trap cleanup EXIT

(cd "$work" && CELERY_BROKER=${AMQP_URL/amqp:/pyamqp:} PYTHONPATH=$work exec /usr/bin/python3 -m celery -A leasetasks \
   worker -P solo -E -n lw@leasetest -Q lease_q --heartbeat-interval 1 --without-gossip --without-mingle \
   --loglevel=INFO > "$work/worker.log" 2>&1) &
pids+=($!)
check "the Celery worker is ready" wait_for 60 grep -q 'ready' "$work/worker.log"

for c in a b; do
  "$QDECK" --amqp "$AMQP_URL" --redis "$REDIS_URL" celery watch --log "$work/$c.log" -vv 2> "$work/$c.err" &
  pids+=($!)
  eval "watch_$c=\$!"
done
writes() { grep -q "this collector writes" "$work/$1.log" 2>/dev/null; }
writers() { local n=0 c; for c in a b; do writes "$c" && n=$((n + 1)); done; echo "$n"; }
one_writer() { [ "$(writers)" = 1 ]; }
check "one of the two collectors takes the writer's lease" wait_for 15 one_writer
writer=a other=b
writes a || { writer=b other=a; }
lease_key=$(redis-cli -u "$REDIS_URL" --scan --pattern 'qdeck:celery:writer:*')
expect_match "the lease names the events source, password hidden" "$lease_key" '^qdeck:celery:writer:amqp://[^:]+:\*\*\*@127\.0\.0\.1'
expect_match "the lease holds a claim with the holder's user and host" "$(redis-cli -u "$REDIS_URL" GET "$lease_key")" '@'
check "the worker is in the registry" wait_for 10 \
  bash -c "redis-cli -u '$REDIS_URL' GET qdeck:worker:lw@leasetest | grep -q '\"kind\":\"celery\"'"

consumers() { "$TOOLS/amqp-fill" "$AMQP_URL" depth lease_q 2>/dev/null | cut -d' ' -f2; }
consumers_is() { [ "$(consumers)" = "$1" ]; }
"$QDECK" --redis "$REDIS_URL" policy set queue.lease_q.paused true --force >/dev/null 2>&1
check "paused: lease_q reaches 0 consumers" wait_for 10 consumers_is 0
check "the writer sent cancel_consumer" wait_for 5 grep -q 'cancel_consumer on lw@leasetest: ok' "$work/$writer.log"
other_cancels=$(grep -c 'cancel_consumer' "$work/$other.log")
expect_eq "the other collector sent the worker nothing" "$other_cancels" 0
check "the report says which queue was paused" wait_for 5 \
  bash -c "redis-cli -u '$REDIS_URL' GET qdeck:worker:lw@leasetest | grep -q '\"paused_queues\":\"lease_q\"'"

eval "kill -KILL \$watch_$writer"
t0=$EPOCHREALTIME
check "the writer killed: the other takes over within the lease" wait_for 10 writes "$other"
echo "  (taken over $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after the kill; lease 3 s)"
"$QDECK" --redis "$REDIS_URL" policy set queue.lease_q.paused false --force >/dev/null 2>&1
check "unpaused: the new writer sends add_consumer (it read back the pause)" wait_for 10 consumers_is 1
expect_match "... logged by the new writer" "$(cat "$work/$other.log")" 'add_consumer on lw@leasetest: ok'

eval "kill -TERM \$watch_$other; wait \$watch_$other"
expect_eq "a clean stop hands the lease back at once" "$(redis-cli -u "$REDIS_URL" EXISTS "$lease_key")" 0
finish
