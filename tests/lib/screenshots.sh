#!/usr/bin/env bash
# Makes the PNGs in screenshots/ from a real run: `qdeck demo` (private
# redis-server, synthetic flaky traffic) in a private tmux server, each view
# captured with its colours (capture-pane -e), turned into HTML by aha and
# rendered to PNG by headless chromium.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
qdeck=${QDECK:-$repo/build/qdeck}
out=$repo/screenshots
work=$(mktemp -d)
sock=qdeck-shots-$$
export LANG=C.UTF-8 QDECK_THEME_DIR=$repo/themes

cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

shot() {   # shot NAME: the current screen as screenshots/NAME.png
  local name=$1
  tmux -L "$sock" capture-pane -p -e -N -t qdeck > "$work/$name.ansi"
  aha --black --title "qdeck $name" < "$work/$name.ansi" \
    | sed 's|<pre>|<pre style="font-family: DejaVu Sans Mono, monospace; font-size: 14px; line-height: 1.15;">|' \
    > "$work/$name.html"
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/chromium" --hide-scrollbars \
    --screenshot="$out/$name.png" --window-size=1100,760 "file://$work/$name.html" >/dev/null 2>&1
  echo "screenshots/$name.png"
}

wait_for_text() {   # wait_for_text TEXT SECONDS
  local deadline=$((SECONDS + $2))
  until tmux -L "$sock" capture-pane -p -t qdeck | grep -q -- "$1"; do
    [ $SECONDS -lt $deadline ] || { echo "screenshots: '$1' never appeared" >&2; exit 1; }
    sleep 0.2
  done
}

mkdir -p "$out"
tmux -L "$sock" -f /dev/null new-session -d -s qdeck -x 120 -y 36 "$qdeck demo"
wait_for_text "llm.summarize" 15
# the LLM API fails from 5 s to 25 s of every minute: the breaker is open
# and the slots busy around 15 s; the DLQ and the queues peak near 25 s
sleep 13
tmux -L "$sock" send-keys -t qdeck 5
wait_for_text "DEPENDENCY" 5
sleep 1
shot breakers
tmux -L "$sock" send-keys -t qdeck 3
wait_for_text "SLOTS" 5
sleep 1
shot workers
sleep 8
tmux -L "$sock" send-keys -t qdeck 1
sleep 1
shot overview
tmux -L "$sock" send-keys -t qdeck 2
wait_for_text "READY" 5
sleep 1
shot queues
tmux -L "$sock" send-keys -t qdeck 8
sleep 1
shot scheduler
tmux -L "$sock" send-keys -t qdeck q
