# Screen helpers for tests that drive the real binary in tmux, as tmux's own
# regress/ tests do: a private server (-L), keys sent with send-keys, the
# screen read with capture-pane, and polling for expected text rather than
# sleeping. Sourced by tests; needs QDECK_TEST_TMP.

SCREEN_SOCK=${SCREEN_SOCK:-qdeck-test-$$}

# screen_start NAME COMMAND...: runs COMMAND (shell text) in a 120x40 pane
# that stays after the program exits. A small sh around it records the exit
# status in a file, which screen_exit_status reads: tmux 3.3 sometimes leaves
# an exited pane process unreaped for seconds, so #{pane_dead_status} can be
# empty. (So #{pane_pid} is that sh, not the program.)
screen_status_file() { echo "${QDECK_TEST_TMP:-/tmp}/screen-status/$SCREEN_SOCK.$1"; }
screen_start() {
  local name=$1; shift
  local st; st=$(screen_status_file "$name")
  mkdir -p "$(dirname "$st")"; rm -f "$st"
  LANG=C.UTF-8 tmux -L "$SCREEN_SOCK" -f /dev/null new-session -d -s "$name" -x 120 -y 40 \
    "($*)"$'\n'"echo \$? > '$st'" \; set-option -t "$name" remain-on-exit on
}

screen_text() { tmux -L "$SCREEN_SOCK" capture-pane -p -t "$1"; }

screen_keys() { local name=$1; shift; tmux -L "$SCREEN_SOCK" send-keys -t "$name" "$@"; }

screen_pid() { tmux -L "$SCREEN_SOCK" display-message -p -t "$1" '#{pane_pid}'; }

# screen_wait NAME SECONDS REGEX: true once the screen matches REGEX.
screen_wait() {
  local name=$1 secs=$2 re=$3 i=0
  while [ "$i" -lt "$((secs * 10))" ]; do
    screen_text "$name" | grep -Eq -- "$re" && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

# screen_wait_gone NAME SECONDS REGEX: true once nothing matches REGEX.
screen_wait_gone() {
  local name=$1 secs=$2 re=$3 i=0
  while [ "$i" -lt "$((secs * 10))" ]; do
    screen_text "$name" | grep -Eq -- "$re" || return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

# screen_exit_status NAME SECONDS: waits up to SECONDS for the program to
# exit and prints its exit status (128+N after signal N), or "running".
screen_exit_status() {
  local name=$1 secs=$2 i=0 dead=0 st f
  f=$(screen_status_file "$name")
  while :; do
    if [ -s "$f" ]; then cat "$f"; return 0; fi
    # no status file: the wrapping sh itself was killed; ask tmux
    st=$(tmux -L "$SCREEN_SOCK" display-message -p -t "$name" '#{pane_dead}:#{pane_dead_status}' 2>/dev/null)
    # the sh may have written the file and exited since the look above:
    # once the pane is dead, the file, if any, is complete
    if [ "${st%%:*}" = 1 ] && [ -s "$f" ]; then cat "$f"; return 0; fi
    case $st in
      1:[0-9]*) echo "${st#1:}"; return 0 ;;
      1:) dead=$((dead + 1)); [ "$dead" -lt 10 ] || { echo signal; return 0; } ;;
    esac
    [ "$i" -lt "$((secs * 10))" ] || [ "$dead" -gt 0 ] || break
    sleep 0.1; i=$((i + 1))
  done
  echo "running"
  return 1
}

screen_kill() { tmux -L "$SCREEN_SOCK" kill-session -t "$1" 2>/dev/null || true; }
screen_stop_all() { tmux -L "$SCREEN_SOCK" kill-server 2>/dev/null || true; }

# screen_colours NAME: the screen with its SGR escapes (capture-pane -e).
screen_colours() { tmux -L "$SCREEN_SOCK" capture-pane -p -e -t "$1"; }
