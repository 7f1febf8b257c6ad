#!/usr/bin/env bash
# View 8 (Scheduler) against a real Redis and a real scheduler leader (the
# sched-node tool runs the same scheduler a worker does): jobs with their
# schedule, state, runs and last result; `r` runs a job now, `p` pauses
# and resumes it — each visible in `qdeck sched list` and audited; a
# read-only console refuses both.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
trap 'screen_stop_all; [ -n "${node:-}" ] && kill "$node" 2>/dev/null; wait 2>/dev/null' EXIT

conf=$QDECK_TEST_TMP/work/sched.conf
cat > "$conf" <<CONF
[qdeck]
audit_log = $QDECK_TEST_TMP/work/audit.jsonl
[context test]
redis = $REDIS_URL
[schedule heartbeat-probe]
every = 2
action = probe
[schedule nightly-trim]
cron = 0 3 * * *
action = trim
pattern = results:*
CONF

"$TOOLS/sched-node" --redis "$REDIS_URL" --id node-a --sched --config "$conf" --lease 2 \
  > "$QDECK_TEST_TMP/work/node.out" 2>&1 &
node=$!

screen_start s "$QDECK --config $conf --refresh 0.3"
screen_keys s 8
check "the leader is shown" screen_wait s 15 'leader: node-a'
check "both jobs listed with their schedules" screen_wait s 5 'heartbeat-probe +every 2s'
check "the cron job too" screen_wait s 5 'nightly-trim +cron 0 3 \* \* \*'
check "the interval job runs and shows its result" screen_wait s 15 'heartbeat-probe .*active .*(ok|PONG|redis)'

# r on the cron job: the leader runs it now although it is not due
screen_keys s Down r
check "run-now is acknowledged" screen_wait s 5 'nightly-trim: the leader runs it'
check "the leader ran it (runs 1)" screen_wait s 10 'nightly-trim .* 1 '

screen_keys s p
check "p pauses the job" screen_wait s 5 'nightly-trim +cron 0 3 \* \* \* +trim +paused'
check "qdeck sched list agrees" wait_for 5 bash -c "$QDECK_PLAIN --config '$conf' sched list | grep nightly-trim | grep -q paused"
screen_keys s p
check "p again resumes it" screen_wait s 5 'nightly-trim +cron 0 3 \* \* \* +trim +active'
expect_eq "three audit records (run, pause, resume)" \
  "$(grep -cE '"action":"sched\.(run|pause|resume)"' "$QDECK_TEST_TMP/work/audit.jsonl")" 3
screen_keys s q
expect_eq "console exits cleanly" "$(screen_exit_status s 5)" 0

screen_start r "$QDECK --config $conf --read-only --refresh 0.3"
screen_keys r 8
check "read-only console lists the jobs" screen_wait r 15 'nightly-trim'
screen_keys r Down p
check "read-only refuses pause" screen_wait r 5 'read-only'
sleep 1
check "the job stays active" bash -c "$QDECK_PLAIN --config '$conf' sched list | grep nightly-trim | grep -q active"
screen_keys r q
expect_eq "read-only console exits cleanly" "$(screen_exit_status r 5)" 0
finish
