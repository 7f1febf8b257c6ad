#!/usr/bin/env bash
# The Overview view and the console's modes: per-source health and top
# queues, --iterations N exiting by itself (how CI runs the sanitized binary
# through real refreshes), NO_COLOR, and switching themes live.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
trap screen_stop_all EXIT

"$TOOLS/amqp-fill" "$AMQP_URL" declare deep >/dev/null
"$TOOLS/amqp-fill" "$AMQP_URL" publish deep 250 >/dev/null
redis-cli -p "$REDIS_PORT" rpush shallow x >/dev/null

screen_start ov "$QDECK --mgmt $MGMT_URL --redis $REDIS_URL --refresh 0.5"
check "both sources healthy in the header" screen_wait ov 20 'rabbitmq ok \| redis ok'
check "overview names the server versions" screen_wait ov 10 'RabbitMQ 3\.10\.8'
check "overview shows Redis" screen_wait ov 10 'Redis 7\.'
check "top by depth lists the deepest queue first" bash -c "
  for i in \$(seq 100); do
    tmux -L '$SCREEN_SOCK' capture-pane -p -t ov | grep -A1 'Top by depth' | grep -q 'amqp:deep .* 250 ' && exit 0
    sleep 0.1
  done; exit 1"
check "URL shown redacted" screen_wait ov 5 'qdeck:\*\*\*@127\.0\.0\.1'
check "password never on screen" bash -c "! tmux -L '$SCREEN_SOCK' capture-pane -p -t ov | grep -q s3cret-pw"

screen_keys ov : 'theme light' Enter
check ":theme switches the theme" screen_wait ov 5 'theme light'
screen_keys ov : 'theme nope' Enter
check ":theme with an unknown name says so" screen_wait ov 5 "no theme 'nope'"
screen_keys ov : 'frobnicate' Enter
check "unknown command says so" screen_wait ov 5 "unknown command ':frobnicate'"
screen_keys ov Tab
check "Tab goes to the Queues view" screen_wait ov 5 'QUEUE'
screen_keys ov BTab
check "Shift-Tab comes back" screen_wait ov 5 'Top by depth'
screen_keys ov q
expect_eq "quit exits 0" "$(screen_exit_status ov 10)" 0

screen_start it "$QDECK --mgmt $MGMT_URL --redis $REDIS_URL --refresh 0.2 --iterations 5"
expect_eq "--iterations 5 exits by itself with 0" "$(screen_exit_status it 20)" 0

# a counted run is a check: every broker dead on every refresh fails it
dead_err=$QDECK_TEST_TMP/work/dead-brokers.err
screen_start dead "$QDECK --mgmt http://qdeck:s3cret-pw@127.0.0.1:1/ --redis redis://127.0.0.1:1/ --refresh 0.2 -n 2 2>'$dead_err'"
expect_eq "-n 2 with every broker dead exits 3" "$(screen_exit_status dead 20)" 3
check "dead brokers: stderr says so" wait_for 5 grep -q 'no source could be read' "$dead_err"
expect_eq "dead brokers: one qdeck: line on stderr (besides the log)" "$(grep -c '^qdeck: ' "$dead_err")" 1
expect_match "dead brokers: the line names each source and why" "$(grep '^qdeck: ' "$dead_err")" \
  '^qdeck: no source could be read in 2 refreshes: rabbitmq http://qdeck:\*\*\*@127\.0\.0\.1:1/: [a-z]+.*; redis redis://127\.0\.0\.1:1/: [a-z]+'
expect_nomatch "dead brokers: no password in it" "$(cat "$dead_err")" 's3cret-pw'
screen_start half "$QDECK --mgmt http://qdeck:s3cret-pw@127.0.0.1:1/ --redis $REDIS_URL --refresh 0.2 -n 2"
expect_eq "-n 2 with one broker alive exits 0" "$(screen_exit_status half 20)" 0

screen_start mono "NO_COLOR=1 $QDECK --redis $REDIS_URL --refresh 0.5"
check "NO_COLOR console runs" screen_wait mono 10 'redis ok'
# an explicit foreground/background colour; 39/49 (the terminal's default) are fine
colour_re=$'\e\\[([0-9]+;)*(3[0-7]|4[0-7]|9[0-7]|10[0-7]|38;5;[0-9]+|48;5;[0-9]+)m'
no_colours() { ! screen_colours mono | grep -qE "$colour_re"; }
has_colours() { screen_colours ov2 | grep -qE "$colour_re"; }
check "NO_COLOR: no colour escapes at all" no_colours
screen_keys mono q
expect_eq "NO_COLOR console quits with 0" "$(screen_exit_status mono 10)" 0
screen_start ov2 "$QDECK --redis $REDIS_URL --refresh 0.5"
screen_wait ov2 10 'redis ok'
check "without NO_COLOR the same screen has colours (the check above can fail)" has_colours
screen_keys ov2 q

# a terminal that is not UTF-8: every character of the console's own text
# is one ASCII column (' · ' as ' . '), never a '?' per byte
screen_start ascii "LC_ALL=C $QDECK --redis $REDIS_URL --refresh 0.5"
check "C locale: the console runs" screen_wait ascii 10 'redis ok'
check "C locale: separators as ' . '" screen_wait ascii 5 ' \. refreshed [0-9.]+s ago'
check "C locale: no '??' where a separator was" bash -c "! tmux -L '$SCREEN_SOCK' capture-pane -p -t ascii | grep -qF '??'"
check "C locale: nothing but ASCII on the screen" bash -c \
  "! tmux -L '$SCREEN_SOCK' capture-pane -p -t ascii | LC_ALL=C grep -q \$'[\x80-\xff]'"
screen_keys ascii q
expect_eq "C locale: q exits 0" "$(screen_exit_status ascii 10)" 0

out=$("$QDECK" --redis "$REDIS_URL" --theme no-such-theme 2>&1 </dev/null); rc=$?
expect_eq "unknown --theme refused before the screen: exit 2" "$rc" 2
expect_match "unknown --theme names the theme" "$out" "no theme 'no-such-theme'"

finish
