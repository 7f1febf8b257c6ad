#!/usr/bin/env bash
# R (replay all) in view 6, three rounds, on every backend: 30 tasks that
# always fail, run by a real `qdeck worker`, are back in the DLQ after each
# round, the worker ran each once per round, the status line says
# "moved 30" every time, and nothing is dropped (the replay journal used to
# delete the second deaths). Then SIGTERM to the console while R replays
# 2,000 messages: it settles, exits 1 with "interrupted: moved N,
# duplicated D (why), left L", and the audit has the line.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
source "$here/../lib/worker.sh"
trap 'screen_stop_all; [ -z "${wpid:-}" ] || kill -TERM "$wpid" 2>/dev/null' EXIT

T=$QDECK_TEST_TMP/view-rounds
worker_plugins "$T"
log=$T/runs.log
: >"$log"
cat >"$T/qdeck.conf" <<CONF
[context t]
amqp = $AMQP_URL
mgmt = $MGMT_URL
redis = $REDIS_URL

[worker]
queues = amqp:cr,redis:cl,stream:cs#g
concurrency = 4
plugin_dir = $T/plugins
max_attempts = 1

[task boom]
handler = worker_record
args = file=$log
CONF
chmod 600 "$T/qdeck.conf"
q() { "$QDECK" --config "$T/qdeck.conf" "$@"; }
R="redis-cli -p $REDIS_PORT"
audit=$HOME/.local/state/qdeck/audit.jsonl
dlq_depth() {
  case $1 in
    amqp:*) "$TOOLS/amqp-fill" "$AMQP_URL" depth "${1#amqp:}" 2>/dev/null | cut -d' ' -f1 ;;
    redis:*) $R llen "${1#redis:}" ;;
    stream:*) $R xlen "${1#stream:}" ;;
  esac
}
dlq_holds() { [ "$(dlq_depth "$1")" = "$2" ]; }
runs_each() {
  local ids
  ids=$(grep '^S ' "$log" | awk '{ print $2 }' | grep -F -x -f "$1")
  [ "$(sort -u <<<"$ids" | wc -l)" = 30 ] && [ "$(sort <<<"$ids" | uniq -c | awk '{ print $1 }' | sort -u)" = "$2" ]
}

"$QDECK" --config "$T/qdeck.conf" worker --declare >"$T/worker.out" 2>"$T/worker.err" &
wpid=$!
check "worker declared amqp:cr and its DLQ" wait_for 30 bash -c "[ -n \"\$('$TOOLS/amqp-fill' '$AMQP_URL' depth cr.dlq 2>/dev/null)\" ]"
q publish amqp:cr --type boom --payload '{"fail":"retry"}' --count 30 >"$T/amqp.ids" 2>/dev/null
q publish redis:cl --type boom --payload '{"fail":"retry"}' --count 30 >"$T/list.ids" 2>/dev/null
q publish stream:cs#g --type boom --payload '{"fail":"retry"}' --count 30 >"$T/stream.ids" 2>/dev/null

# one console per backend, each seeing that backend's broker only, so its
# DLQ is the only one in the picker
for b in amqp list stream; do
  case $b in
    amqp) addr=amqp:cr.dlq; urls="--amqp $AMQP_URL --mgmt $MGMT_URL" ;;
    list) addr=redis:cl:dlq; urls="--redis $REDIS_URL" ;;
    stream) addr=stream:cs:dlq; urls="--redis $REDIS_URL" ;;
  esac
  check "$b: 30 dead-lettered" wait_for 60 dlq_holds "$addr" 30
  check "$b: each ran once" wait_for 10 runs_each "$T/$b.ids" 1
  [ "$b" != stream ] || $R del cl:dlq >/dev/null    # leave the stream the only Redis DLQ
  screen_start "$b" "$QDECK $urls --refresh 0.5 --log $T/console-$b.log"
  check "$b: console up" screen_wait "$b" 30 'Overview'
  screen_keys "$b" 6
  check "$b: the picker shows $addr" screen_wait "$b" 30 "$addr"
  screen_keys "$b" Enter
  check "$b: 30 messages listed" screen_wait "$b" 20 "$addr  30 messages"
  for round in 1 2 3; do
    screen_keys "$b" R
    check "$b round $round: R asks for the name" screen_wait "$b" 5 "Type ${addr//./\\.} to confirm"
    screen_keys "$b" "$addr" Enter
    check "$b round $round: status line says moved 30" screen_wait "$b" 30 'moved 30, failed 0, skipped 0'
    check "$b round $round: nothing dropped on screen" bash -c "! tmux -L '$SCREEN_SOCK' capture-pane -p -t '$b' | grep -q dropped"
    check "$b round $round: each ran once more" wait_for 60 runs_each "$T/$b.ids" $((round + 1))
    check "$b round $round: all 30 back in the DLQ" wait_for 30 dlq_holds "$addr" 30
    screen_keys "$b" l
    check "$b round $round: the view shows 30 again" screen_wait "$b" 20 "$addr  30 messages"
    check "$b round $round: status line cleared" screen_wait_gone "$b" 10 'moved 30, failed'
  done
  screen_keys "$b" q
  expect_eq "$b: console quits 0" "$(screen_exit_status "$b" 15)" 0
  expect_eq "$b: three replays of 30 audited, nothing dropped" \
    "$(jq -r --arg t "$addr" 'select(.action == "dlq.replay" and .target == $t) | .result' "$audit" | sort | uniq -c | awk '{ $1 = $1; print }')" \
    "3 moved 30, failed 0, skipped 0"
done
kill -TERM "$wpid"; wait "$wpid"
expect_eq "worker stopped: exit 0" "$?" 0
wpid=

# ---- SIGTERM while R replays 2,000 messages
"$TOOLS/amqp-fill" "$AMQP_URL" declare big.dlq >/dev/null
"$TOOLS/amqp-fill" "$AMQP_URL" declare big >/dev/null
check "2,000 dead messages (from amqp:big)" "$TOOLS/amqp-fill" "$AMQP_URL" publish big.dlq 2000 --dead
screen_start s "$QDECK --amqp $AMQP_URL --mgmt $MGMT_URL --refresh 0.5 --log $T/console-s.log 2>$T/console-s.err"
check "console up" screen_wait s 30 'Overview'
screen_keys s 6
check "the picker shows amqp:big.dlq" screen_wait s 30 'amqp:big\.dlq'
screen_keys s Enter
check "2,000 messages listed" screen_wait s 20 'amqp:big\.dlq  2000 messages'
screen_keys s R
check "R asks for the name" screen_wait s 5 'Type amqp:big\.dlq to confirm'
screen_keys s amqp:big.dlq Enter
check "replay under way" wait_for 30 bash -c "[ \"\$('$TOOLS/amqp-fill' '$AMQP_URL' depth big 2>/dev/null | cut -d' ' -f1)\" -gt 0 ]"
console=
# this run's own console: its --log path is under this lane's $T (another
# lane, or another run on the machine, has a console-s.log of its own)
for p in $(pgrep -f -- "--log $T/console-s\.log"); do
  [ "$(basename "$(readlink "/proc/$p/exe")")" = qdeck ] && console=$p
done
check "the console process found" test -n "$console"
kill -TERM "$console"
st=$(screen_exit_status s 60)
expect_eq "SIGTERM mid-replay: exit 1" "$st" 1
expect_match "SIGTERM: the summary" "$(cat "$T/console-s.err")" 'interrupted: moved [0-9]+, duplicated [0-9]+ \(.*\), left [0-9]+'
in_dlq=$(dlq_depth amqp:big.dlq)
in_target=$("$TOOLS/amqp-fill" "$AMQP_URL" depth big | cut -d' ' -f1)
check "SIGTERM: DLQ ($in_dlq) + target ($in_target) hold all 2,000" test $((in_dlq + in_target)) -ge 2000
expect_match "SIGTERM: the audit has the line" \
  "$(jq -r 'select(.action == "dlq.replay" and .target == "amqp:big.dlq") | .result' "$audit")" \
  '^interrupted: moved [0-9]+, duplicated [0-9]+ \(.*\), left [0-9]+'
finish
