#!/usr/bin/env bash
# Views 7 (Guardrails) and 9 (Events) against a real Redis, driven in tmux:
# a guardrail flipped with Enter reaches the control plane (`qdeck policy
# get` sees it) and the audit trail; a number edited through the prefilled
# command line likewise; a value set from the CLI shows up on screen with
# who set it; a :set on a queue nobody knows waits for y; the Events view
# lists fleet events and audit records; a read-only console refuses the
# change and leaves the value alone. Every change is a job on the console's
# write queue and ends with a status-line message naming what was done and
# on how many workers (one worker, from a heartbeat, consumes redis:orders).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
trap screen_stop_all EXIT

cat > "$QDECK_TEST_TMP/work/guardrails.conf" <<CONF
[qdeck]
audit_log = $QDECK_TEST_TMP/work/audit.jsonl
[context test]
redis = $REDIS_URL
[dependency llm-api]
rate = 20
CONF
conf=$QDECK_TEST_TMP/work/guardrails.conf
policy() { "$QDECK_PLAIN" --config "$conf" policy "$@"; }
# the status line is the screen's last line
status_line() { screen_text "$1" | tail -n 1 | grep -Eq -- "$2"; }
now=$(date +%s)
redis-cli -p "$REDIS_PORT" set qdeck:worker:gw1 "{\"id\":\"gw1\",\"host\":\"box\",\"pid\":201,\"version\":\"test\",\"at\":$now,\"interval\":600,\"state\":\"running\",\"queues\":[\"redis:orders\"]}" >/dev/null
redis-cli -p "$REDIS_PORT" zadd qdeck:registry:workers "$now" gw1 >/dev/null

screen_start g "$QDECK --config $conf --refresh 0.3"
screen_keys g 7
check "guardrails listed" screen_wait g 15 'shed\.auto +false'
check "per-dependency guardrails from the config" screen_wait g 5 'dep\.llm-api\.fallback'

# the fleet-wide rows come first, in table order: priority_below, auto, budget
rows=$(screen_text g | grep -oE '^ (budget|shed|dep)\.[a-z._-]+' | tr -d ' ' | tr '\n' ' ')
expect_match "fleet-wide rows first" "$rows" '^shed\.priority_below shed\.auto budget\.max_response_tokens'
screen_keys g Down Enter
check "Enter asks before flipping, naming the switch, the workers and both values" screen_wait g 5 'set shed\.auto = true for the whole fleet: 1 running worker \(now false\)\? y to confirm'
expect_eq "nothing written before the answer" "$(redis-cli -p $REDIS_PORT hexists qdeck:policy shed.auto)" 0
screen_keys g y
check "Enter flips shed.auto on screen" screen_wait g 10 'shed\.auto +true'
check "qdeck policy get sees the flip" wait_for 5 bash -c "$QDECK_PLAIN --config '$conf' policy get shed.auto | grep -q true"
check "the status line names the flip and the workers it reaches" wait_for 5 status_line g 'shed\.auto = true \(was false\) on 1 worker$'

# a number: Enter opens ":set NAME " to complete
screen_keys g Up Enter
check "Enter on a number prefills the command line" screen_wait g 5 ':set shed\.priority_below'
screen_keys g 3 Enter
check ":set asks the same way" screen_wait g 5 'set shed\.priority_below = 3 for the whole fleet: 1 running worker \(now off\)\? y to confirm'
expect_eq "nothing written before the answer" "$(redis-cli -p $REDIS_PORT hexists qdeck:policy shed.priority_below)" 0
screen_keys g y
check "priority threshold set from the console" wait_for 5 bash -c "$QDECK_PLAIN --config '$conf' policy get shed.priority_below | grep -qx '.*3'"
screen_keys g : 'set shed.priority_below banana' Enter
check "a bad value is refused with the reason" screen_wait g 5 'got .banana'
expect_match "and the stored value stays" "$(policy get shed.priority_below)" '3'

# set from the CLI: shown with who set it
policy set budget.max_response_tokens 512 >/dev/null
check "a CLI change shows up" screen_wait g 10 'budget\.max_response_tokens +512'

audit_lines=$(grep -c '"action":"policy.set"' "$QDECK_TEST_TMP/work/audit.jsonl" 2>/dev/null || echo 0)
expect_eq "one audit record per change (2 from the console, 1 from the CLI)" "$audit_lines" 3
check "audit records in the qdeck:audit stream too" \
  bash -c "[ \"\$(redis-cli -p $REDIS_PORT xlen qdeck:audit)\" -ge 3 ]"

# a queue no worker, source or config knows: written only after a second key (y)
R="redis-cli -p $REDIS_PORT"
screen_keys g : 'set queue.nope.paused true' Enter
check "an unknown queue asks for y before writing" screen_wait g 5 "knows queue 'nope': y sets"
screen_keys g n
check "any other key cancels" screen_wait g 5 'not set: queue\.nope\.paused'
expect_eq "cancelled: no phantom row" "$($R hexists qdeck:policy queue.nope.paused)" 0
screen_keys g : 'set queue.nope.paused true' Enter
check "asked again" screen_wait g 5 "knows queue 'nope': y sets"
screen_keys g y
check "y writes it" wait_for 5 bash -c "[ \"\$($R hget qdeck:policy queue.nope.paused)\" = true ]"
screen_keys g : 'set dep.llm-api.rate 30' Enter
check "a dependency of the config: asked, no warning" screen_wait g 5 'set dep\.llm-api\.rate = 30/s for the whole fleet'
screen_keys g y
check "a dependency of the config is written once confirmed" wait_for 5 bash -c "[ \"\$($R hget qdeck:policy dep.llm-api.rate)\" = 30/s ]"
# a queue the worker consumes: paused at once, the status line says where
screen_keys g : 'set queue.redis:orders.paused true' Enter
check "pausing a queue asks, naming its consumers" screen_wait g 5 'set queue\.redis:orders\.paused = true: 1 running worker consumes redis:orders \(now false\)\? y'
screen_keys g y
check "pausing a consumed queue names it and its worker" wait_for 5 status_line g \
  '^paused redis:orders on 1 worker \(queue\.redis:orders\.paused = true, was false\)'
expect_eq "the pause is written" "$($R hget qdeck:policy queue.redis:orders.paused)" true

# events: a fleet event and the audit trail
redis-cli -p "$REDIS_PORT" xadd qdeck:events '*' type breaker dep llm-api from CLOSED to OPEN >/dev/null
redis-cli -p "$REDIS_PORT" xadd qdeck:events '*' type worker.lost subject w1 text 'worker w1 lost (no heartbeat for 3s)' >/dev/null
screen_keys g 9
check "events view shows the breaker transition" screen_wait g 10 'breaker +dep=llm-api from=CLOSED to=OPEN'
check "an event with a sentence shows the sentence" screen_wait g 5 'worker\.lost +worker w1 lost \(no heartbeat for 3s\)'
check "and the audit records" screen_wait g 5 'policy\.set +.*target=budget\.max_response_tokens'
screen_keys g / l l m Enter
check "filter keeps matching events" screen_wait_gone g 5 'target=budget'
check "filtered view still shows the breaker" screen_wait g 5 'llm-api'
# 80 columns cannot hold nine named tabs: the others shrink to their key
tmux -L "$SCREEN_SOCK" resize-window -t g -x 80 -y 24
screen_keys g 7
check "narrow: every tab keeps its number and a short name" screen_wait g 5 '^ 1 Over  2 Queue  3 Work  4 Lat  5 Brk  6 DLQ  7 Guard  8 Sched  9 Evt( |$)'

expect_nomatch "narrow: the tab line never wraps into the view" "$(screen_text g | sed -n 3p)" '^[a-z]+ +[0-9] [A-Z]'
screen_keys g q
expect_eq "console exits cleanly" "$(screen_exit_status g 5)" 0

# read-only: refused, value unchanged
screen_start r "$QDECK --config $conf --read-only --refresh 0.3"
screen_keys r 7
check "read-only console shows the values" screen_wait r 15 'shed\.auto +true'
screen_keys r Down Enter
check "read-only refuses the flip" screen_wait r 5 'read-only'
sleep 1
expect_match "value unchanged after the refusal" "$(policy get shed.auto)" 'true'
screen_keys r q
expect_eq "read-only console exits cleanly" "$(screen_exit_status r 5)" 0

# one identity: with USER unset the console names the same actor as the
# audit record (the passwd entry of the effective uid), not "unknown"
me=$(id -un); host=$(hostname)
screen_start u "env -u USER -u LOGNAME $QDECK --config $conf --refresh 0.3"
screen_keys u 7
check "USER unset: guardrails listed" screen_wait u 15 'shed\.auto +true'
screen_keys u Down Enter
check "USER unset: asked first" screen_wait u 5 'set shed\.auto = false for the whole fleet'
screen_keys u y
check "USER unset: the flip is attributed to $me@$host" screen_wait u 10 "shed\.auto +false .*$me@$host"
expect_nomatch "USER unset: nobody called unknown" "$(screen_text u)" 'unknown@'
last_user=$(grep '"action":"policy.set"' "$QDECK_TEST_TMP/work/audit.jsonl" | tail -1 | jq -r '.user + "@" + .host')
expect_eq "USER unset: the audit names the same actor" "$last_user" "$me@$host"
screen_keys u q
expect_eq "USER unset: console exits cleanly" "$(screen_exit_status u 5)" 0

finish
