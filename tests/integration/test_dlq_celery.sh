#!/usr/bin/env bash
# A real Celery worker (Debian's python3-celery, acks_late) whose task
# raises Reject(requeue=False) into a dead-letter exchange: `qdeck dlq list`
# shows the dead message with its Celery task name, id and argsrepr; once
# the cause is fixed, `qdeck dlq replay` sends it back and the same worker
# consumes and completes it. The task records its failure in Celery's
# result backend (Redis) before it rejects: `qdeck dlq show` and the
# console's DLQ detail show that celery-task-meta-<id> (status, result,
# traceback, date_done).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"

require_celery

fill() { "$TOOLS/amqp-fill" "$AMQP_URL" "$@" >/dev/null; }
depth() { "$TOOLS/amqp-fill" "$AMQP_URL" depth "$1" 2>/dev/null | cut -d' ' -f1; }
depth_is() { [ "$(depth "$1")" = "$2" ]; }
work=$PWD/celery-app
mkdir -p "$work"
export CELERY_BROKER=${AMQP_URL/amqp:/pyamqp:} CELERY_BACKEND=$REDIS_URL/0 FIXED_FLAG=$work/fixed DONE_FILE=$work/done
cat > "$work/dlqtasks.py" <<'PY'
import os, traceback
from celery import Celery
from celery.exceptions import Reject
from kombu import Exchange, Queue

app = Celery("dlqtest", broker=os.environ["CELERY_BROKER"], backend=os.environ["CELERY_BACKEND"])
app.conf.task_acks_late = True
app.conf.worker_prefetch_multiplier = 1
app.conf.broker_connection_retry_on_startup = True
app.conf.task_default_queue = "celery_work"
app.conf.task_queues = [Queue("celery_work", Exchange("celery_work", type="direct"), routing_key="celery_work",
                              queue_arguments={"x-dead-letter-exchange": "",
                                               "x-dead-letter-routing-key": "celery_work.dlq"})]

@app.task(name="billing.charge", bind=True)
def charge(self, amount, currency="EUR"):
    if not os.path.exists(os.environ["FIXED_FLAG"]):
        try:
            raise ConnectionError("payment gateway down")
        except ConnectionError as e:   # the failure in the result backend, the message to the DLQ
            self.backend.mark_as_failure(self.request.id, e, traceback=traceback.format_exc(), request=self.request)
            raise Reject(str(e), requeue=False)
    with open(os.environ["DONE_FILE"], "a") as f:
        f.write("%s %s %s\n" % (self.request.id, amount, currency))
    return amount
PY
fill declare celery_work.dlq
cd "$work" || exit 1
PYTHONPATH=$work /usr/bin/python3 -m celery -A dlqtasks worker -P solo -c 1 -Q celery_work --without-heartbeat \
  --without-gossip --without-mingle --loglevel=INFO > "$work/worker.log" 2>&1 &
worker=$!
trap 'screen_stop_all; kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT
check "celery worker ready" wait_for 60 grep -q 'ready' "$work/worker.log"
task_id=$(PYTHONPATH=$work /usr/bin/python3 -c 'from dlqtasks import charge; print(charge.delay(42, currency="USD").id)')
check "the task was rejected into the DLQ" wait_for 30 depth_is celery_work.dlq 1

json=$("$QDECK" --amqp "$AMQP_URL" dlq list amqp:celery_work.dlq --json)
expect_eq "list shows the Celery task name" "$(jq -r '.messages[0].type' <<<"$json")" billing.charge
expect_eq "list shows the Celery task id" "$(jq -r '.messages[0].id' <<<"$json")" "$task_id"
expect_eq "Celery argsrepr" "$(jq -r '.messages[0].celery.argsrepr' <<<"$json")" "(42,)"
expect_match "Celery kwargsrepr" "$(jq -r '.messages[0].celery.kwargsrepr' <<<"$json")" "currency.*USD"
expect_eq "Celery retries" "$(jq -r '.messages[0].celery.retries' <<<"$json")" 0
expect_eq "reason from x-death" "$(jq -r '.messages[0].reason' <<<"$json")" rejected
expect_eq "original queue" "$(jq -r '.messages[0].original_queue' <<<"$json")" celery_work
text=$("$QDECK" --amqp "$AMQP_URL" dlq list amqp:celery_work.dlq)
expect_match "table shows the task name" "$text" "$task_id +billing\.charge +rejected"

# the task's record in Celery's result backend, wherever the dead message is shown
json=$("$QDECK" --amqp "$AMQP_URL" --redis "$REDIS_URL" dlq show amqp:celery_work.dlq "$task_id" --json)
expect_eq "dlq show: celery-task-meta status" "$(jq -r '.result.status' <<<"$json")" FAILURE
expect_match "dlq show: its traceback" "$(jq -r '.result.traceback' <<<"$json")" 'ConnectionError: payment gateway down'
check "dlq show: its date_done" test "$(jq -r '.result.date_done' <<<"$json")" != null
screen_start d "$QDECK --amqp $AMQP_URL --mgmt $MGMT_URL --redis $REDIS_URL --refresh 0.5 --log $work/console.log"
screen_keys d 6
check "console: the DLQ view lists celery_work.dlq" screen_wait d 30 'amqp:celery_work\.dlq'
screen_keys d / c e l e r y _ w o r k Enter Enter
check "console: the dead Celery message listed" screen_wait d 15 'billing\.charge'
screen_keys d Enter
check "console: the detail shows the result store's record" screen_wait d 10 'result \(the task.s record in the result store\)'
check "console: ... its status" screen_wait d 5 ' status +FAILURE'
check "console: ... and its traceback, line by line" screen_wait d 5 'raise ConnectionError\("payment gateway down"\)'
screen_keys d q
expect_eq "console exits cleanly" "$(screen_exit_status d 10)" 0

touch "$FIXED_FLAG"
out=$("$QDECK" --amqp "$AMQP_URL" dlq replay amqp:celery_work.dlq --id "$task_id"); rc=$?
expect_eq "replay exits 0" "$rc" 0
expect_match "replay moved it" "$out" '^moved 1, failed 0, skipped 0$'
check "the Celery worker completed the replayed task" wait_for 30 grep -q "^$task_id 42 USD$" "$DONE_FILE"
check "worker log says succeeded" wait_for 10 grep -q "Task billing.charge\[$task_id\] succeeded" "$work/worker.log"
expect_eq "DLQ empty" "$(depth celery_work.dlq)" 0
expect_eq "work queue drained" "$(depth celery_work)" 0
finish
