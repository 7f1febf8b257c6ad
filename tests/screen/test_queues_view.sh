#!/usr/bin/env bash
# The Queues view against real brokers, driven in tmux: names and depths on
# screen, filter, sort, detail pane, help, any terminal size, and a clean
# exit that restores the terminal.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
trap screen_stop_all EXIT

"$TOOLS/amqp-fill" "$AMQP_URL" declare alpha >/dev/null
"$TOOLS/amqp-fill" "$AMQP_URL" publish alpha 3 >/dev/null
"$TOOLS/amqp-fill" "$AMQP_URL" declare beta >/dev/null
"$TOOLS/amqp-fill" "$AMQP_URL" publish beta 12 >/dev/null
redis-cli -p "$REDIS_PORT" rpush gamma 1 2 3 4 5 6 7 >/dev/null
# a dead-letter target longer than an 80-column detail pane's value column
"$TOOLS/amqp-fill" "$AMQP_URL" declare delta --dlx "" --dlrk delta.dead-letters-for-the-night-shift-xyz >/dev/null

screen_start q "$QDECK --mgmt $MGMT_URL --redis $REDIS_URL --refresh 0.5"
screen_keys q 2
check "names shown" screen_wait q 30 'amqp:alpha'
check "depth of alpha (3 ready) once the API caught up" screen_wait q 30 'amqp:alpha +3 '
check "depth of beta (12 ready)" screen_wait q 10 'amqp:beta +12 '
check "depth of the Redis list (7)" screen_wait q 10 'redis:gamma +7 '
check "password never on screen" bash -c "! tmux -L '$SCREEN_SOCK' capture-pane -p -t q | grep -q s3cret-pw"

# order of the three rows on screen, top to bottom
row_order() { screen_text q | grep -oE '(amqp:alpha|amqp:beta|redis:gamma) ' | tr -d ' ' | tr '\n' ' '; }

screen_keys q : 'sort ready' Enter
check "sorted by ready, descending" bash -c "
  for i in \$(seq 30); do
    [ \"\$(tmux -L '$SCREEN_SOCK' capture-pane -p -t q | grep -oE '(amqp:alpha|amqp:beta|redis:gamma) ' | tr -d ' ' | tr '\n' ' ')\" = 'amqp:beta redis:gamma amqp:alpha ' ] && exit 0
    sleep 0.1
  done; exit 1"
screen_keys q i
check "i inverts the order" bash -c "
  for i in \$(seq 30); do
    [ \"\$(tmux -L '$SCREEN_SOCK' capture-pane -p -t q | grep -oE '(amqp:alpha|amqp:beta|redis:gamma) ' | tr -d ' ' | tr '\n' ' ')\" = 'amqp:alpha redis:gamma amqp:beta ' ] && exit 0
    sleep 0.1
  done; exit 1"
expect_match "row order after invert" "$(row_order)" 'amqp:alpha redis:gamma amqp:beta'

screen_keys q / b e t
check "live filter hides non-matching rows" screen_wait_gone q 5 'amqp:alpha'
check "live filter keeps the match" screen_wait q 2 'amqp:beta'
screen_keys q Enter
check "filter kept after Enter" screen_wait q 2 'bet'
screen_keys q / Escape
check "Esc clears the filter" screen_wait q 5 'amqp:alpha'

screen_keys q g Enter
check "Enter opens the detail pane" screen_wait q 5 'Consumers|consumers'
screen_keys q Escape
check "Esc closes it" screen_wait q 5 'READY'

screen_keys q '?'
check "help lists the filter key" screen_wait q 5 'filter'
check "help lists quit" screen_wait q 2 'quit'
screen_keys q Escape
check "help closes" screen_wait q 5 'READY'

tmux -L "$SCREEN_SOCK" resize-window -t q -x 30 -y 6
check "tiny terminal: a notice, not a crash" screen_wait q 5 'too small'
tmux -L "$SCREEN_SOCK" resize-window -t q -x 200 -y 50
check "grown again: the table is back" screen_wait q 5 'amqp:beta'
check "wide: the name column fits the names, the dead-letter target takes the rest" screen_wait q 5 '^QUEUE[^A-Z]{0,40}READY'

# 80 columns: a long value in the details wraps onto the next line (which
# starts in the value column) instead of being cut
tmux -L "$SCREEN_SOCK" resize-window -t q -x 80 -y 40
screen_keys q / d e l t a Enter
check "filtered to amqp:delta" screen_wait_gone q 5 'amqp:alpha'
screen_keys q g Enter
check "80 columns: the detail pane opens" screen_wait q 5 'amqp:delta +\(Esc closes\)'
# the value's lines, from its label to the next label, joined
dlx_value_is() {
  [ "$(screen_text q | sed -n '/Dead letters to/,/State /p' |
       sed -E 's/.*Dead letters to +//; /State /d; s/^ +//; s/ +$//' | tr -d '\n')" = "$1" ]
}
check "80 columns: the long dead-letter target wraps onto more lines, whole" \
  wait_for 5 dlx_value_is amqp:delta.dead-letters-for-the-night-shift-xyz
screen_keys q Escape / Escape

screen_keys q q
expect_eq "q exits with status 0" "$(screen_exit_status q 10)" 0
check "terminal restored (alternate screen left)" screen_wait_gone q 2 'READY'

finish
