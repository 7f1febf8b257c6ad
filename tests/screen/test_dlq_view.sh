#!/usr/bin/env bash
# View 6 (DLQ) driven in tmux against a real RabbitMQ: the picker lists the
# dead-letter queues, Enter pages the messages, space marks two, r asks and
# replays them on the console's write queue: the status line names what
# was done, the view updates (3 left), the target queue grows by two. Then
# detail, search, edit in $EDITOR and replay, keys answering while the
# broker is hung, the typed confirmation of a purge (a wrong name cancels),
# and read-only refusal.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
trap 'screen_stop_all; kill -CONT "$RABBIT_PID" 2>/dev/null' EXIT

fill() { "$TOOLS/amqp-fill" "$AMQP_URL" "$@" >/dev/null; }
depth() { "$TOOLS/amqp-fill" "$AMQP_URL" depth "$1" | cut -d' ' -f1; }
depth_is() { [ "$(depth "$1")" = "$2" ]; }
status_line() { screen_text "$1" | tail -n 1 | grep -Eq -- "$2"; }   # the screen's last line
status_sgr() { screen_colours "$1" | tail -n 1 | grep -oE $'\e\\[[0-9;]*m' | tr -d '\n'; }
fill declare orders.dlq
fill declare orders --dlx "" --dlrk orders.dlq
fill publish orders 5
"$TOOLS/dlq-reject" "$AMQP_URL" orders 5
check "5 dead messages" wait_for 10 depth_is orders.dlq 5

editor=$QDECK_TEST_TMP/fix-body.sh
printf '#!/bin/sh\nsed -i "s/\\"n\\":[[:space:]]*2/\\"n\\": 222/" "$1"\n' > "$editor"
chmod +x "$editor"
screen_start d "EDITOR=$editor $QDECK --amqp $AMQP_URL --mgmt $MGMT_URL --redis $REDIS_URL --refresh 0.5 --log $QDECK_TEST_TMP/dlqview.log"
check "console up" screen_wait d 30 'Overview'
screen_keys d 6
check "view 6 picks among dead-letter queues" screen_wait d 20 'amqp:orders\.dlq'
screen_keys d Enter
check "messages listed with their reason" screen_wait d 15 'sha:[0-9a-f]+ +- +rejected'
check "header counts 5 messages" screen_wait d 5 'amqp:orders\.dlq  5 messages'
screen_keys d Space Space
check "two marked" screen_wait d 5 'marked 2'
screen_keys d r
check "replaying marked messages asks first, with the count" screen_wait d 5 'replay the 2 marked messages of amqp:orders\.dlq to where they died\? y to confirm'
expect_eq "nothing replayed before the answer" "$(depth orders)" 0
screen_keys d y
check "the status line names what was done" wait_for 15 status_line d \
  '^replayed 2 of 2 to amqp:orders from amqp:orders\.dlq: moved 2, failed 0, skipped 0'
ok_sgr=$(status_sgr d)
check "view updates: 3 messages left" screen_wait d 15 'amqp:orders\.dlq  3 messages'
expect_eq "target queue grew by two" "$(depth orders)" 2
expect_eq "DLQ holds 3" "$(depth orders.dlq)" 3

screen_keys d Enter
check "detail shows headers" screen_wait d 5 'x-death'
check "detail shows the body" screen_wait d 5 '"n": ?[234]'
screen_keys d Escape
check "back to the list" screen_wait d 5 'space mark'

screen_keys d / '"n":4' Enter
check "search across the DLQ" screen_wait d 10 '1 match'
screen_keys d / Escape
check "search cleared" screen_wait d 10 'amqp:orders\.dlq  3 messages  rows'

# e: the body in $EDITOR (a script here), replayed as edited
screen_keys d g
screen_keys d e
check "edited body replayed" screen_wait d 15 'amqp:orders\.dlq  2 messages'
expect_eq "target grew by one more" "$(depth orders)" 3
expect_eq "the edited body reached the target" \
  "$("$QDECK" --amqp "$AMQP_URL" dlq list amqp:orders --grep '"n":222' --json | jq '.messages | length')" 1

# the UI thread never waits on the network: a hung broker leaves keys working
kill -STOP "$RABBIT_PID"
screen_keys d l
screen_keys d 2
check "broker hung: keys still switch views" screen_wait d 3 'READY'
screen_keys d 6
check "broker hung: back in the DLQ view" screen_wait d 3 'space mark'
kill -CONT "$RABBIT_PID"
screen_keys d l
check "broker resumed: the list reads again" screen_wait d 60 'amqp:orders\.dlq  2 messages  rows'

screen_keys d P
check "purge asks for the queue name" screen_wait d 5 'Type amqp:orders\.dlq to confirm'
screen_keys d 'amqp:orders.dlq' 1 Enter
check "a wrong name cancels" screen_wait d 5 'cancelled'
expect_eq "nothing purged after a wrong name" "$(depth orders.dlq)" 2
screen_keys d P
screen_keys d 'amqp:orders.dlq' Enter
check "purge with the right name, named in the status line" wait_for 15 status_line d '^purged 2 from amqp:orders\.dlq'
check "view shows the empty DLQ" screen_wait d 10 'amqp:orders\.dlq  0 messages'
expect_eq "DLQ empty" "$(depth orders.dlq)" 0

# a replay that fails says so in the error colour: its target queue is gone
fill publish orders 1
"$TOOLS/dlq-reject" "$AMQP_URL" orders 1
check "one dead message again" wait_for 10 depth_is orders.dlq 1
fill delete orders
screen_keys d l
check "the view lists it" screen_wait d 15 'amqp:orders\.dlq  1 messages'
screen_keys d r
check "the failed replay is named in the status line" wait_for 15 status_line d '^replayed 0 of 1 .*failed 1'
check "a failure is drawn unlike a success (error colour)" test "$(status_sgr d)" != "$ok_sgr"
expect_eq "the message stays in the DLQ" "$(depth orders.dlq)" 1
fill purge orders.dlq
fill declare orders --dlx "" --dlrk orders.dlq
screen_keys d q
expect_eq "quit exits 0" "$(screen_exit_status d 15)" 0
check "console actions in the audit log" grep -q '"action":"dlq.replay".*"result":"moved 2, failed 0, skipped 0"' "$HOME/.local/state/qdeck/audit.jsonl"

# read-only: r is refused
fill publish orders 1
"$TOOLS/dlq-reject" "$AMQP_URL" orders 1
screen_start ro "$QDECK --read-only --amqp $AMQP_URL --mgmt $MGMT_URL --refresh 0.5"
screen_keys ro 6
check "read-only console lists the DLQ" screen_wait ro 20 'amqp:orders\.dlq'
screen_keys ro Enter
check "read-only console shows messages" screen_wait ro 15 'rejected'
screen_keys ro r
check "read-only: replay refused on screen" screen_wait ro 5 'read-only'
screen_keys ro R
check "read-only: replay-all refused" screen_wait ro 5 'read-only'
expect_eq "read-only: nothing moved" "$(depth orders.dlq)" 1
screen_keys ro q
expect_eq "read-only console quits 0" "$(screen_exit_status ro 15)" 0
finish
