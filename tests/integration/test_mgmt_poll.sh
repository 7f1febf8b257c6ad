#!/usr/bin/env bash
# The console asks RabbitMQ's management API no faster than the broker
# refreshes its statistics, and reads the queues on screen exactly with
# passive declares over AMQP instead.
#  1. Through a counting HTTP proxy in front of the management API: with the
#     default interval (5 s, RabbitMQ's collect_statistics_interval) a
#     console refreshing every 0.5 s fetches the queue list (one page here)
#     at most once per 5 s.
#  2. With mgmt_interval = 60 (no poll after the first in this test): a
#     quiet queue on screen, read on its backed-off timer, and the selected
#     queue, read every refresh, show messages published after that poll
#     within seconds (passive declares), while a queue filtered off the
#     screen does not: the Overview's total counts the visible queue's
#     messages only.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
source "$here/../lib/servers.sh"

T=$QDECK_TEST_TMP/mgmt-poll-$$
mkdir -p "$T"
proxy_pid=
cleanup() {
  screen_stop_all
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
  wait 2>/dev/null
  for q in poll-a poll-b; do "$TOOLS/amqp-fill" "$AMQP_URL" delete "$q" >/dev/null 2>&1; done
}
trap cleanup EXIT

# a counting proxy in front of the management API (tests/lib/counting-proxy.py)
PROXY_PORT=$(free_ports 1)
: >"$T/requests"
python3 "$QDECK_REPO/tests/lib/counting-proxy.py" "$PROXY_PORT" "http://127.0.0.1:$RABBIT_MGMT_PORT" "$T/requests" &
proxy_pid=$!
check "counting proxy up" wait_for 10 curl -sf -u guest:guest "http://127.0.0.1:$PROXY_PORT/api/overview"

for q in poll-a poll-b; do "$TOOLS/amqp-fill" "$AMQP_URL" declare "$q" >/dev/null; done

# 1. polls per statistics interval
screen_start p "$QDECK --mgmt http://guest:guest@127.0.0.1:$PROXY_PORT/ --amqp $AMQP_URL --refresh 0.5"
screen_keys p 2
check "the console lists the queues" screen_wait p 30 'amqp:poll-a'
: >"$T/requests"
start=$(date +%s.%N)
sleep 11   # the window measured: 22 refreshes of 0.5 s
polls=$(grep -c ' /api/queues/' "$T/requests")
end=$(date +%s.%N)
allowed=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%d", (e - s) / 5 + 1 }')
echo "  ($polls queue-list requests in $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }') s at a 0.5 s refresh)"
check "at most one queue-list poll per 5 s statistics interval ($polls, allowed $allowed)" test "$polls" -le "$allowed"
check "but it does poll" test "$polls" -ge 1
screen_keys p q

# 2. exact reads for what is on screen only
cat >"$T/qdeck.conf" <<CONF
[context slow]
amqp = $AMQP_URL
mgmt = $MGMT_URL
mgmt_interval = 60
CONF
chmod 600 "$T/qdeck.conf"
screen_start e "$QDECK --config $T/qdeck.conf --refresh 0.5"
screen_keys e 2
check "both queues listed" screen_wait e 30 'amqp:poll-b'
# both on screen, poll-a selected: the other row is quiet and read on a
# longer timer, but still read, long before the 60 s poll
sleep 6
"$TOOLS/amqp-fill" "$AMQP_URL" publish poll-b 2 >/dev/null
check "a quiet row on screen still shows a new depth within seconds" screen_wait e 10 'amqp:poll-b +2 '
"$TOOLS/amqp-fill" "$AMQP_URL" purge poll-b >/dev/null
screen_keys e / p o l l - a Enter
check "poll-b filtered off the screen" screen_wait_gone e 5 'amqp:poll-b'
"$TOOLS/amqp-fill" "$AMQP_URL" publish poll-a 4 >/dev/null
"$TOOLS/amqp-fill" "$AMQP_URL" publish poll-b 6 >/dev/null
check "the selected queue shows its exact depth at once (passive declare)" screen_wait e 5 'amqp:poll-a +4 '
screen_keys e 1
check "the queue off screen was not read: the total counts poll-a's 4 only" screen_wait e 5 'ready 4 '
expect_nomatch "nor poll-b's 6" "$(screen_text e)" 'ready 10 '
screen_keys e q
finish
