#!/usr/bin/env bash
# Real Celery 5 workers (Debian's python3-celery, prefork, events on) seen
# through their events: the console's fleet collector receives the celeryev
# exchange on RabbitMQ and writes each worker into the fleet registry; then
#   - two workers run 200 tasks of 50 ms: the generic `qdeck workers --json`
#     lists both, processed counts totalling exactly 200, and `qdeck latency
#     --json` gives the run-time p50 in 40-90 ms (the must-show, taken
#     before any other task is sent); broker wait and e2e from task-sent;
#   - a failed task in `qdeck events` and the Events view with its
#     celery-task-meta; a producer whose clock is 30 s ahead is reported as
#     clock skew by `qdeck latency` (JSON, table) and the Latency view;
#   - a frozen worker (SIGSTOP: no heartbeat, no offline event) shows as
#     lost within 2 x freq + 2 s, and a warm shutdown shows as stopped;
#   - from the console: revoke and shutdown with a typed confirmation
#     (refused by a read-only console), audited.
# The Redis transport (kombu's PUBLISH envelope) is covered by one more
# worker on the suite's Redis, seen by a headless `qdeck celery watch`.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
# an audit trail of its own: the read-only refusals below are not the next
# test files' (they count the records in the audit file under HOME)
export HOME=$QDECK_TEST_TMP/home-celery-events; mkdir -p "$HOME"

require_celery

work=$QDECK_TEST_TMP/celery-events
mkdir -p "$work"
cat > "$work/evtasks.py" <<'PY'
import os, time
from celery import Celery

app = Celery("evtest", broker=os.environ["CELERY_BROKER"], backend=os.environ["CELERY_BACKEND"])
app.conf.update(task_default_queue=os.environ.get("CELERY_QUEUE", "celery_ev"), task_ignore_result=True,
                worker_send_task_events=True, task_send_sent_event=True, worker_prefetch_multiplier=1,
                broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)

@app.task(name="demo.sleep50")
def sleep50():
    time.sleep(0.05)

@app.task(name="demo.add", ignore_result=False)
def add(a, b):
    return a + b

@app.task(name="demo.boom", ignore_result=False)
def boom():
    raise ValueError("boom")
PY

export CELERY_BACKEND=$REDIS_URL/0
pids=()
cleanup() {
  screen_stop_all
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

start_worker() {   # NAME BROKER QUEUE LOG
  (cd "$work" && CELERY_BROKER=$2 CELERY_QUEUE=$3 PYTHONPATH=$work exec /usr/bin/python3 -m celery -A evtasks worker \
     -P prefork -c 2 -E -n "$1" -Q "$3" --heartbeat-interval 1 --without-gossip --without-mingle \
     --loglevel=INFO > "$4" 2>&1) &
  pids+=($!)
}

celery_json() { "$QDECK_PLAIN" --redis "$REDIS_URL" celery workers --json 2>/dev/null; }
jq_is() { [ "$(celery_json | jq -r "$1")" = "$2" ]; }

broker=${AMQP_URL/amqp:/pyamqp:}
start_worker "w3@evtest" "$REDIS_URL/0" celery_ev_redis "$work/w3.log"
start_worker "w1@evtest" "$broker" celery_ev "$work/w1.log"
start_worker "w2@evtest" "$broker" celery_ev "$work/w2.log"
w2=${pids[-1]}
for w in w1 w2 w3; do check "worker $w ready" wait_for 60 grep -q 'ready' "$work/$w.log"; done

# RabbitMQ: the console's own collector (its fleet source runs one)
screen_start celery "$QDECK --amqp $AMQP_URL --redis $REDIS_URL --refresh 0.5 --log $work/console.log -vv"
screen_keys celery 3
# the Redis transport: a headless watch (no AMQP URL: events from Redis)
"$QDECK" --redis "$REDIS_URL" celery watch --log "$work/watch-redis.log" -vv 2> "$work/watch-redis.err" &
watch_redis=$!
pids+=($watch_redis)
check "both workers appear, running" wait_for 60 jq_is '[.workers[] | select(.id|test("^w[12]@evtest$")) | .state] | join(",")' "running,running"

(cd "$work" && CELERY_BROKER=$broker PYTHONPATH=$work /usr/bin/python3 -c '
from evtasks import sleep50
for _ in range(200): sleep50.delay()')
# the must-show, through the generic commands, before any other task is sent
workers_json() { "$QDECK_PLAIN" --redis "$REDIS_URL" workers --json 2>/dev/null; }
workers_is() { [ "$(workers_json | jq -r "$1")" = "$2" ]; }
check "qdeck workers --json: both celery workers, processed totalling 200" wait_for 60 workers_is \
  '[.[] | select(.id|test("^w[12]@evtest$")) | select(.kind == "celery" and .state == "running") | .processed] | "\(length) \(add)"' "2 200"
latency_is() { [ "$("$QDECK_PLAIN" --redis "$REDIS_URL" latency --json 2>/dev/null | jq -r "$1")" = "$2" ]; }
# heartbeats count a task before its buffered task events arrive: wait for those too
check "qdeck latency --json: every run time of demo.sleep50 arrived" wait_for 10 latency_is \
  '.[] | select(.type == "demo.sleep50") | .run.count' 200
p50=$("$QDECK_PLAIN" --redis "$REDIS_URL" latency --json | jq -r '.[] | select(.type == "demo.sleep50") | .run.p50_us')
check "qdeck latency --json: run-time p50 ${p50} us within 40-90 ms" awk -v v="$p50" 'BEGIN { exit !(v >= 40000 && v <= 90000) }'
expect_eq "qdeck workers --json: celery queues listed" "$(workers_json | jq -r '[.[] | select(.id == "w1@evtest") | .queues[]] | join(",")')" celery_ev
expect_eq "qdeck status --json: the RabbitMQ row names the Celery workers consuming it" \
  "$("$QDECK_PLAIN" --amqp "$AMQP_URL" --mgmt "$MGMT_URL" --redis "$REDIS_URL" status --json 2>/dev/null |
     jq -r '[.sources[].queues[] | select(.queue == "amqp:celery_ev") | .workers[]] | sort | join(",")')" \
  "w1@evtest,w2@evtest"
json=$(celery_json)
task() { jq -r --arg n "$1" ".tasks[] | select(.name == \$n) | $2" <<<"$json"; }
check "end to end from task-sent recorded" test "$(task demo.sleep50 .e2e.count)" -gt 0
expect_eq "queue wait from task-sent for every run" "$(task demo.sleep50 .queue_wait.count)" 200
expect_eq "both workers ran demo.sleep50" "$(task demo.sleep50 .workers)" 2
# then the other tasks: a result and three failures
ids=$(cd "$work" && CELERY_BROKER=$broker PYTHONPATH=$work /usr/bin/python3 -c '
from evtasks import boom, add
print(add.delay(2, 3).id)
for _ in range(3): last = boom.delay()
print(last.id)')
read -r add_id boom_id <<<"$(echo $ids)"
check "then 204 processed (200 + 1 add + 3 failures)" wait_for 30 jq_is '[.workers[] | select(.id|test("^w[12]@evtest$")) | .processed] | add' 204
check "failed counted per worker (task-failed events)" \
  wait_for 10 jq_is '[.workers[] | select(.id|test("^w[12]@evtest$")) | .failed] | add' 3
# a failure in the event stream with its celery-task-meta, read by the collector
failure_text() {
  "$QDECK_PLAIN" --redis "$REDIS_URL" events --json 2>/dev/null |
    jq -r --arg id "$boom_id" '[.[] | select(.kind == "celery.task-failed" and (.text | endswith($id))) | .text][0] // ""'
}
has_failure() { [ -n "$(failure_text)" ]; }
check "qdeck events: the failure, once the collector read its result" wait_for 10 has_failure
expect_match "qdeck events: with celery-task-meta's status, date_done and the traceback's last line" "$(failure_text)" \
  "^demo\.boom failed on w[12]@evtest: ValueError: boom · celery-task-meta: FAILURE, done 20[0-9-]+T[0-9:.]+ · id $boom_id\$"
screen_keys celery 9
check "the console's Events view shows it" screen_wait celery 10 'demo\.boom failed on w[12]@evtest: ValueError: boom · celery-task-meta: FAILURE'
screen_keys celery 3
expect_match "version is Celery's" "$(jq -r '.workers[0].version' <<<"$json")" '^py-celery 5\.'
raw=$(redis-cli -u "$REDIS_URL" GET "qdeck:worker:w1@evtest"; redis-cli -u "$REDIS_URL" GET "qdeck:worker:w2@evtest")
expect_match "top exception name kept" "$raw" '"exceptions":\{"ValueError":[0-9]'
check "the console's Workers view lists them, kind celery" screen_wait celery 10 'evtest:[0-9]+ +running .*celery'
screen_keys celery 4
check "the console's Latency view lists the Celery task name" screen_wait celery 10 'demo\.sleep50'
expect_match "task rendered in the table" "$("$QDECK_PLAIN" --redis "$REDIS_URL" celery workers)" 'demo\.sleep50 +200 '
expect_eq "no clock skew so far: qdeck latency --json says 0" \
  "$("$QDECK_PLAIN" --redis "$REDIS_URL" latency --json | jq -r '.[] | select(.type == "demo.sleep50") | .clock_skew')" 0
expect_eq "qdeck workers --json: w1's clock within a second of qdeck's" \
  "$(workers_json | jq -r '.[] | select(.id == "w1@evtest") | [(.clock_offset | type), .clock_skew] | join(",")')" number,false
# a producer whose clock is 30 s ahead: its task-sent says so, the worker's started cannot follow it
(cd "$work" && CELERY_BROKER=$broker PYTHONPATH=$work /usr/bin/python3 -c '
import time, uuid
from evtasks import app, sleep50
app.conf.task_send_sent_event = False
tid = str(uuid.uuid4())
with app.connection_for_write() as c:
    app.events.Dispatcher(c, hostname="skewed@producer").send("task-sent", uuid=tid, name="demo.sleep50", timestamp=time.time() + 30)
sleep50.apply_async(task_id=tid)')
skew_is() { [ "$("$QDECK_PLAIN" --redis "$REDIS_URL" latency --json | jq -r '.[] | select(.type == "demo.sleep50") | .clock_skew')" -ge 1 ]; }
check "skewed clocks: qdeck latency --json counts the dropped waits" wait_for 15 skew_is
expect_match "skewed clocks: the latency table says so" "$("$QDECK_PLAIN" --redis "$REDIS_URL" latency)" \
  'clock skew: demo\.sleep50: [0-9]+ waits? across two clocks dropped'
screen_keys celery 4
check "skewed clocks: the Latency view says so" screen_wait celery 10 'clock skew: [0-9]+ waits? dropped'
screen_keys celery 3

check "the Redis worker appears" wait_for 30 jq_is '.workers[] | select(.id == "w3@evtest") | .state' running
(cd "$work" && CELERY_BROKER=$REDIS_URL/0 CELERY_QUEUE=celery_ev_redis PYTHONPATH=$work /usr/bin/python3 -c '
from evtasks import sleep50
for _ in range(20): sleep50.delay()')
check "over Redis (kombu envelope, base64 body, task.multi): 20 processed" \
  wait_for 30 jq_is '.workers[] | select(.id == "w3@evtest") | .processed' 20
kill -TERM "$watch_redis"; wait "$watch_redis"
expect_match "the Redis watch read every message" "$(cat "$work/watch-redis.err")" 'celery: [0-9]{2,} events, 0 unreadable'

# the guardrail queue.<name>.paused reaches Celery: cancel_consumer / add_consumer
consumers() { "$TOOLS/amqp-fill" "$AMQP_URL" depth celery_ev 2>/dev/null | cut -d' ' -f2; }
consumers_is() { [ "$(consumers)" = "$1" ]; }
"$QDECK" --redis "$REDIS_URL" policy set queue.celery_ev.paused true --force >/dev/null 2>&1
check "paused: celery_ev reaches 0 consumers within 5 s" wait_for 5 consumers_is 0
start_worker "w4@evtest" "$broker" celery_ev "$work/w4.log"   # boots while the other checks run
w4=${pids[-1]}

# one task from Celery's result backend
out=$("$QDECK" --redis "$REDIS_URL" task "$add_id" --json)
expect_eq "qdeck task: a success from celery-task-meta" "$(jq -r '[.store, .status, .result] | join(",")' <<<"$out")" celery,SUCCESS,5
out=$("$QDECK" --redis "$REDIS_URL" task "$boom_id")
expect_match "qdeck task: a failure with its traceback, as a table" "$out" '^status +FAILURE'
expect_match "qdeck task: the traceback's last line" "$out" 'ValueError: boom'
out=$("$QDECK" --redis "$REDIS_URL" task no-such-task 2>&1); rc=$?
expect_eq "qdeck task: an unknown id exits 1" "$rc" 1
expect_match "qdeck task: says where it looked" "$out" 'neither celery-task-meta-no-such-task nor qdeck:task:no-such-task'

# remote control (pidbox) over RabbitMQ and over Redis
expect_eq "concurrency from one stats inspect" "$(jq -r '[.workers[] | select(.id == "w1@evtest") | .concurrency][0]' <<<"$json")" 2
expect_eq "queues from one active_queues inspect" "$(jq -r '[.workers[] | select(.id == "w1@evtest") | .queues][0]' <<<"$json")" celery_ev
pong=$("$QDECK" --amqp "$AMQP_URL" celery ping --json)
expect_eq "ping: both RabbitMQ workers answer pong" "$(jq -r '[."w1@evtest".ok, ."w2@evtest".ok] | join(",")' <<<"$pong")" pong,pong
out=$("$QDECK" --amqp "$AMQP_URL" celery rate-limit demo.sleep50 5/s --worker w1@evtest)
expect_match "rate-limit: w1 says it is set, as a table" "$out" '^w1@evtest +ok: new rate limit set successfully'
registered=$(cd "$work" && CELERY_BROKER=$broker PYTHONPATH=$work /usr/bin/python3 -m celery -A evtasks inspect registered rate_limit -d w1@evtest 2>&1)
expect_match "celery inspect registered rate_limit shows 5/s" "$registered" 'demo\.sleep50 \[rate_limit=5/s\]'
out=$("$QDECK" --read-only --amqp "$AMQP_URL" celery rate-limit demo.sleep50 1/s 2>&1); rc=$?
expect_eq "read-only: rate-limit refused (exit 1)" "$rc" 1
expect_match "read-only: says why" "$out" 'read-only mode: refusing celery.rate_limit'
expect_match "audit trail: the change and the refusal" "$(cat "$HOME"/.local/state/qdeck/audit.jsonl 2>/dev/null)" \
  'celery.rate_limit.*w1@evtest.*1 replies'
pong=$("$QDECK" --redis "$REDIS_URL" celery ping --worker w3@evtest --json)
expect_eq "ping over Redis (kombu envelope, binding set, BRPOP)" "$(jq -r '."w3@evtest".ok' <<<"$pong")" pong

check "a third worker starting while paused is seen" wait_for 60 jq_is '.workers[] | select(.id == "w4@evtest") | .state' running
check "... and paused too: 0 consumers again" wait_for 10 consumers_is 0
expect_match "its report says which queue qdeck paused" "$(redis-cli -u "$REDIS_URL" GET qdeck:worker:w4@evtest)" '"paused_queues":"celery_ev"'
"$QDECK" --redis "$REDIS_URL" policy set queue.celery_ev.paused false --force >/dev/null 2>&1
check "unpaused: all three consume again (add_consumer)" wait_for 10 consumers_is 3

# the guardrail task.<name>.rate reaches Celery as rate_limit
"$QDECK" --redis "$REDIS_URL" policy set task.demo.sleep50.rate 3 --force >/dev/null 2>&1
rate_everywhere() {
  [ "$(cd "$work" && CELERY_BROKER=$broker PYTHONPATH=$work /usr/bin/python3 -m celery -A evtasks inspect registered \
       rate_limit 2>&1 | grep -c 'demo\.sleep50 \[rate_limit=3/s\]')" = 3 ]
}
check "task.demo.sleep50.rate = 3/s: all three workers have rate_limit=3/s" wait_for 20 rate_everywhere

kill -STOP "$w2"
t0=$EPOCHREALTIME
check "a frozen worker shows as lost within 2 x freq + 2 s" wait_for 4 jq_is '.workers[] | select(.id == "w2@evtest") | .state' lost
echo "  (lost after $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s)"
kill -CONT "$w2"
check "it comes back running" wait_for 10 jq_is '.workers[] | select(.id == "w2@evtest") | .state' running
# from the console: revoke and shutdown ask for a typed confirmation and go
# through its write queue; a read-only console refuses them
screen_start ro "$QDECK --read-only --redis $REDIS_URL --amqp $AMQP_URL --log $work/console-ro.log"
screen_keys celery 3
screen_keys celery R
screen_keys celery -l "$add_id"
screen_keys celery Enter
check "console: revoke asks for the task id typed back" screen_wait celery 5 "Revoke task $add_id on every Celery worker"
screen_keys celery -l "$add_id"
screen_keys celery Enter
check "console: revoke sent through the write queue, the workers' replies shown" \
  screen_wait celery 10 "celery revoke $add_id: 3 replies - w[124]@evtest: ok: tasks"
screen_keys celery / w 2 @ Enter
check "console: the Workers view filtered to w2" screen_wait celery 5 'filter: w2@'
screen_keys celery X
check "console: X on w2 asks for its name typed back" screen_wait celery 5 'Shut down Celery worker w2@evtest'
screen_keys celery -l w2@evtes
screen_keys celery Enter
check "console: a wrong name cancels" screen_wait celery 5 'cancelled: the name typed was not w2@evtest'
kill -0 "$w2"; expect_eq "console: ... and w2 still runs" "$?" 0
screen_keys celery X
screen_keys celery -l w2@evtest
screen_keys celery Enter
out=$("$QDECK" --amqp "$AMQP_URL" celery shutdown w4@evtest --wait 0.5 2>&1)   # w4 stops meanwhile
check "console: the reply on the status line" screen_wait celery 10 'celery shutdown w2@evtest: [01] replies'
check "console: shutdown of w2: the worker process exits" wait_for 30 bash -c "! kill -0 $w2 2>/dev/null"
check "qdeck celery shutdown w4: the worker process exits" wait_for 30 bash -c "! kill -0 $w4 2>/dev/null"
screen_keys ro 3 : r e v o k e Space a b c Enter
check "read-only console: revoke refused" screen_wait ro 5 'read-only: celery revoke refused'
screen_keys ro q
audit=$(cat "$HOME"/.local/state/qdeck/audit.jsonl 2>/dev/null)
expect_match "audit: the console's revoke" "$audit" "celery\.revoke.*$add_id.*replies"
expect_match "audit: the console's shutdown" "$audit" 'celery\.shutdown.*w2@evtest'
expect_match "audit: the read-only refusal" "$audit" 'celery\.revoke.*abc.*refused: read-only'
check "a warm shutdown (worker-offline) shows as stopped" wait_for 30 jq_is '.workers[] | select(.id == "w2@evtest") | .state' stopped

screen_keys celery q
expect_eq "the console exits cleanly (its collector stopped and joined)" "$(screen_exit_status celery 10)" 0
finish
