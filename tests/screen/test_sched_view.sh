#!/usr/bin/env bash
# The Scheduler view (8) in tmux against the real Redis: a stand-in worker
# (tests/tools/sched-node) leads the scheduler; the view shows the leader,
# every [schedule NAME] with its schedule, action, target and state, the
# run count going up with next/last run times, a pause made with the CLI,
# an invalid job in the crit colour, and "no scheduler leader" once the
# only node stops.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"

dir=$QDECK_TEST_TMP/schedview-$$
mkdir -p "$dir"
cat > "$dir/qdeck.conf" <<EOF
[context test]
redis = $REDIS_URL

[schedule tick]
every = 1
action = probe

[schedule nightly]
cron = 30 2 * * *
action = trim
pattern = qdeck:task:*

[schedule broken]
every = 0
action = probe
EOF
chmod 600 "$dir/qdeck.conf"
node_pid=""
cleanup() { screen_stop_all; [ -z "$node_pid" ] || kill -TERM "$node_pid" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

"$TOOLS/sched-node" --redis "$REDIS_URL" --sched --config "$dir/qdeck.conf" >"$dir/node.out" 2>"$dir/node.err" &
node_pid=$!
check "the node leads" wait_for 10 bash -c "[ -n \"\$(redis-cli -p $REDIS_PORT get qdeck:sched:leader)\" ]"
id=$(awk '/^id /{print $2}' "$dir/node.out")

screen_start s "$QDECK --config $dir/qdeck.conf --refresh 0.5"
screen_keys s 8
check "tab 8 is Scheduler" screen_wait s 10 '8 Scheduler'
check "the leader is named" screen_wait s 10 "leader: $id"
check "columns" screen_wait s 5 'JOB +SCHEDULE +ACTION +TARGET +STATE +NEXT +LAST +RUNS +LAST RESULT'
check "interval job row" screen_wait s 5 'tick +every 1s +probe +brokers +active +(in [0-9.]+s|[0-9.]+s ago) +[0-9.]+s ago +[0-9]+ +redis ok'
check "cron job row with its next run" screen_wait s 5 'nightly +cron 30 2 \* \* \* +trim +qdeck:task:\* +active +in [0-9]+h'
check "invalid job shows why" screen_wait s 5 'broken .* invalid .*invalid: neither'
# the run count is the field before the result ("redis ok ...")
runs_on_screen() { screen_text s | grep -E '^tick ' | awk '{ for (i = 2; i <= NF; i++) if ($i == "redis") { print $(i - 1); exit } }'; }
export -f screen_text runs_on_screen; export SCREEN_SOCK
r0=$(runs_on_screen)
expect_match "run count on screen" "$r0" '^[0-9]+$'
check "run count goes up on screen" wait_for 6 bash -c "[ \"\$(runs_on_screen)\" -gt ${r0:-0} ]"

"$QDECK" --config "$dir/qdeck.conf" sched pause tick >/dev/null
check "a pause made with the CLI shows" screen_wait s 5 'tick .* paused '
screen_keys s j   # off the first row (broken), which is drawn in the selection colour
sleep 0.3
esc=$'\e'
row_sgr() { screen_colours s | grep -E "^(${esc}\[[0-9;]*m)*$1 " | head -1 | sed -E "s/ $2 .*//" | grep -oE $'\e\\[[0-9;]*m' | tr -d '\n'; }
invalid_sgr=$(row_sgr broken invalid); paused_sgr=$(row_sgr tick paused)
check "the invalid job's state has a colour" test -n "$invalid_sgr"
check "invalid (crit) is drawn unlike paused (warn)" test "$invalid_sgr" != "$paused_sgr"

# actions from the view: r runs the selected job (nightly) now, p resumes tick
screen_keys s r
check "r: the leader runs the selected job now" screen_wait s 10 'nightly .* 1 deleted 0 keys'
screen_keys s G p
check "p: resumes the paused job" screen_wait s 10 'tick .* active '
audit=$HOME/.local/state/qdeck/audit.jsonl
expect_match "console run is audited" "$(cat "$audit" 2>/dev/null)" '"action":"sched.run".*"target":"nightly"'
expect_match "console resume is audited" "$(cat "$audit" 2>/dev/null)" '"action":"sched.resume".*"target":"tick"'
screen_start ro "$QDECK --read-only --config $dir/qdeck.conf --refresh 0.5"
screen_keys ro 8
check "read-only console shows the jobs" screen_wait ro 10 'tick '
screen_keys ro G p
check "read-only: p refused with a message" screen_wait ro 5 'read-only mode: refusing pause tick'
check "read-only: refusal audited" wait_for 5 grep -q '"action":"sched.pause","target":"tick".*"result":"refused: read-only"' "$audit"
expect_eq "read-only: nothing changed" "$(redis-cli -p "$REDIS_PORT" hget qdeck:sched:job:tick paused)" 0
screen_keys ro q

kill -TERM "$node_pid"; wait "$node_pid"; node_pid=""
check "no leader once the only node stopped" screen_wait s 10 'no scheduler leader'

screen_keys s q
expect_eq "q exits with status 0" "$(screen_exit_status s 10)" 0
finish
