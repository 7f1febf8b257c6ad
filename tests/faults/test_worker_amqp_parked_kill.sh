#!/usr/bin/env bash
# SIGKILL a RabbitMQ worker twice while it moves 1,000 parked tasks from
# work.parked back to work (basic.get, publish, confirm, then ack), then let
# a third one finish. The tasks carry 30 KB each, so a batch of 100 takes
# long enough for a kill to land inside it (the duplicates line shows it). Nothing is lost: every task runs, work.parked and work
# end empty with nothing unacknowledged. A task whose parked copy was
# republished but not yet acked when the worker died may be published
# twice; idempotency (the result store) keeps the handler from running a
# completed task again, so a task runs at most twice (once more only when
# it was cut off mid-run).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"
source "$here/../lib/worker.sh"

N=1000
T=$QDECK_TEST_TMP/amqp-parked-kill
worker_plugins "$T"
log=$T/runs.log
: >"$log"
cat >"$T/qdeck.conf" <<CONF
[context t]
amqp = $AMQP_URL
redis = $REDIS_URL

[worker]
queues = amqp:work
concurrency = 4
prefetch = 16
plugin_dir = $T/plugins
heartbeat = 0.2
shutdown_timeout = 10

[task rec]
handler = worker_record
args = file=$log
CONF
chmod 600 "$T/qdeck.conf"
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null' EXIT
ready() { "$TOOLS/amqp-fill" "$AMQP_URL" depth "$1" | cut -d' ' -f1; }
ready_is() { [ "$(ready "$1")" = "$2" ]; }
below() { local n; n=$(ready "$1") && [ -n "$n" ] && [ "$n" -lt "$2" ]; }
unacked_is() { [ "$(rabbit_api GET "queues/%2F/$1" | jq -r '.messages_unacknowledged')" = "$2" ]; }

# the queue as the worker declares it, and a parked backlog
"$TOOLS/amqp-fill" "$AMQP_URL" declare work --dlx qdeck.dlx --dlrk work
"$TOOLS/amqp-fill" "$AMQP_URL" declare work.parked
"$QDECK" --config "$T/qdeck.conf" publish amqp:work.parked --type rec --count "$N" \
  --payload "{\"pad\":\"$(head -c 30000 /dev/zero | tr '\0' x)\"}" >"$T/ids" 2>"$T/publish.err"
expect_eq "$N tasks parked in work.parked" "$(ready work.parked)" "$N"

left=$N
for i in 1 2; do
  "$QDECK" --config "$T/qdeck.conf" worker 2>>"$T/worker.err" &
  pid=$!
  check "kill $i: the worker is releasing parked tasks" wait_for 30 below work.parked $((left - 150))
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  pid=
  sleep 0.5   # the broker requeues what the dead connection had got but not acked
  left=$(ready work.parked)
  echo "  (killed with $left left in work.parked)"
done
check "the gets a killed worker had not acked went back: some parked tasks remain" test "$left" -gt 0

"$QDECK" --config "$T/qdeck.conf" worker 2>>"$T/worker.err" &
pid=$!
check "work.parked is emptied" wait_for 60 ready_is work.parked 0
ran_all() { [ "$(awk '$1 == "E" { print $2 }' "$log" | sort -u | grep -c -x -F -f "$T/ids")" = "$N" ]; }
check "every one of the $N tasks ran" wait_for 60 ran_all
check "work is drained" wait_for 30 ready_is work 0
sleep 1   # management statistics are refreshed every 0.5 s
check "nothing unacknowledged on work" wait_for 10 unacked_is work 0
check "nothing unacknowledged on work.parked" wait_for 10 unacked_is work.parked 0
runs=$(grep -c '^E ' "$log")
echo "  ($runs completed runs for $N tasks; $(grep -c 'already completed' "$T/worker.err") republished duplicates skipped by idempotency)"
expect_eq "no task completed more than twice" "$(awk '$1 == "E" { print $2 }' "$log" | sort | uniq -c | awk '$1 > 2' | wc -l)" 0
expect_nomatch "nothing dead-lettered" "$(cat "$T/worker.err")" 'dead-lettered'
kill -TERM "$pid"
wait "$pid"; rc=$?
pid=
expect_eq "SIGTERM: exit 0" "$rc" 0
finish
