#!/usr/bin/env bash
# Makes the PNGs in screenshots/ from a real run: `qdeck demo` (private
# redis-server, three workers, synthetic flaky traffic) in a private tmux
# server at 120x40, each view captured with its colours (capture-pane -e),
# then the same console resized to 80x24 for the Overview and the Queues.
# Every screen is captured first, the ones that show the demo's failure
# wave (the LLM API fails from 5 s to 25 s after start: the breaker opens,
# dead letters pile up, until the scheduled redrive at 30 s) first of all,
# and rendered afterwards: aha
# turns each capture into HTML, headless chromium renders it to PNG.
#
#   make screenshots        (tests/lib/deps.sh screenshots, then this)
#
# Names: screenshots/<view>.png at 120x40, screenshots/<view>-80x24.png.
# One demo run, about 40 s; waits are on what the screen shows, each with
# a deadline, and a screen that never shows it fails the run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
qdeck=${QDECK:-$repo/build/qdeck}
out=${SCREENSHOTS_DIR:-$repo/screenshots}
work=$(mktemp -d)
sock=qdeck-shots-$$
export LANG=C.UTF-8 QDECK_THEME_DIR=$repo/themes

cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

screen() { tmux -L "$sock" capture-pane -p -t qdeck; }
keys() { tmux -L "$sock" send-keys -t qdeck "$@"; }

wait_for_text() {   # wait_for_text REGEX SECONDS
  local deadline=$((SECONDS + $2))
  until screen | grep -Eq -- "$1"; do
    [ $SECONDS -lt $deadline ] || { echo "screenshots: '$1' never appeared; the screen was:" >&2; screen >&2; exit 1; }
    sleep 0.2
  done
}

capture() {   # capture NAME: the current screen, with colours, for later
  tmux -L "$sock" capture-pane -p -e -N -t qdeck > "$work/$1.ansi"
  shots+=("$1")
}

# view KEY TITLE_REGEX NAME: switch to a view, wait for its title and one
# more refresh, capture it
view() {
  keys "$1"
  wait_for_text "$2" 10
  sleep 1.2
  capture "$3"
}

render() {   # render NAME WIDTH HEIGHT
  local name=$1
  aha --black --title "qdeck $name" < "$work/$name.ansi" \
    | sed 's|<pre>|<pre style="font-family: DejaVu Sans Mono, monospace; font-size: 14px; line-height: 1.15; margin: 4px;">|' \
    > "$work/$name.html"
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/chromium" --hide-scrollbars \
    --screenshot="$out/$name.png" --window-size="$2,$3" "file://$work/$name.html" >/dev/null 2>&1
  [ -s "$out/$name.png" ] || { echo "screenshots: chromium made no $out/$name.png" >&2; exit 1; }
  echo "screenshots/$name.png"
}

shots=()
mkdir -p "$out"
tmux -L "$sock" -f /dev/null new-session -d -s qdeck -x 120 -y 40 "$qdeck demo"
wait_for_text "llm.summarize" 20
# a guardrail off its default, so the Guardrails view and the Overview's
# panel show who set it and when (the demo's Redis is named in the header)
redis=$(screen | grep -Eo 'unix://[^ ]+redis\.sock' | head -1)
[ -n "$redis" ] || { echo "screenshots: the demo's Redis socket is not on screen" >&2; exit 1; }
"$qdeck" policy set 'queue.redis:email.send.max_depth' 2000 --redis "$redis" >/dev/null

# the wave: the breaker opens, dead letters arrive; the DLQ first, before
# the scheduled redrive takes them away
keys 1
wait_for_text "llm-api +OPEN" 40
keys 6
wait_for_text "redis:llm.summarize:dlq" 10
keys Down
sleep 0.5
keys Enter
wait_for_text "redis:llm.summarize:dlq +[1-9][0-9]* messages" 10
sleep 0.5
capture dlq
keys Escape
view 5 "DEPENDENCY" breakers
view 1 "Alerts" overview
view 2 "READY" queues
# the same console at 80x24, still in the wave: the Overview degrades, the
# Queues view narrows
tmux -L "$sock" resize-window -t qdeck -x 80 -y 24
view 1 "Alerts|Queues" overview-80x24
view 2 "READY" queues-80x24
tmux -L "$sock" resize-window -t qdeck -x 120 -y 40
view 3 "SLOTS" workers
view 4 "TASK TYPE" latency
view 7 "GUARDRAIL" guardrails
view 9 "KIND" events
view 8 "NEXT" scheduler
keys q

for name in "${shots[@]}"; do
  case $name in
    *-80x24) render "$name" 700 412 ;;
    *) render "$name" 1040 668 ;;
  esac
done
