#!/usr/bin/env bash
# The test runner behind `make test` (which first builds build/ and the
# ASan+UBSan build-san/). Starts ONE Redis and ONE RabbitMQ for the whole run
# (private loopback ports, files under a mktemp dir, see lib/servers.sh), then
# runs the suites in order:
#   unit         every build/tests/test_* and build-san/tests/test_* (cmocka)
#   integration  tests/integration/*.sh  against the real brokers
#   faults       tests/faults/*.sh       brokers stopped, hung, lying
#   screen       tests/screen/*.sh       the real binary driven in tmux
#
#   tests/run.sh [SUITE...]       default: all four, in that order
#   QDECK_TEST_ONLY=REGEX         only test files/binaries whose path matches
#   QDECK_TEST_TIMEOUT=SECS       per test file (default 300), then it fails
#   QDECK_KEEP_TMP=1              keep the temp dir (it is kept anyway on failure)
#   QDECK, QDECK_PLAIN, TOOLS     override the binaries under test
#   QDECK_TEST_SUITES=DIR         take integration/ faults/ screen/ from DIR
#
# Shell test files run in a scratch cwd with: QDECK (build-san/qdeck via
# lib/qdeck-san),
# QDECK_PLAIN (build/qdeck), TOOLS (build/tools), QDECK_REPO, QDECK_TEST_TMP,
# QDECK_THEME_DIR, SCREEN_SOCK (a tmux socket the runner kills afterwards),
# QDECK_RESULT_FILE, everything lib/servers.sh exports (TLS ports and certificates too), ASAN_OPTIONS and
# UBSAN_OPTIONS logging to $QDECK_TEST_TMP/asan/, HOME and XDG_CONFIG_HOME
# private, and no QDECK_*_URL from the caller. Any sanitizer log fails the
# test that produced it and is printed. Broker state is reset between files.
#
# Output: each file's lines indented; one line per suite, exactly
# "SUITE: N passed, N failed", when it ends (its time on the next line); the
# total alone on the last line, "N passed, N failed" (parsed by CI). Exit 1
# if anything failed. Everything started is stopped by its own pid on exit,
# failure and Ctrl-C included.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1

QDECK_TEST_TMP=$(mktemp -d /tmp/qdeck-test.XXXXXX) || exit 1
mkdir -p "$QDECK_TEST_TMP"/{asan,san,results,home,xdg,work}
export QDECK_TEST_TMP QDECK_REPO=$repo
# The sanitized binary runs through lib/qdeck-san, which copies its stderr
# under san/: UBSan in the combined ASan runtime ignores log_path.
export QDECK_SAN_BIN=${QDECK_SAN_BIN:-$repo/build-san/qdeck}
export QDECK=${QDECK:-$repo/tests/lib/qdeck-san} QDECK_PLAIN=${QDECK_PLAIN:-$repo/build/qdeck}
export TOOLS=${TOOLS:-$repo/build/tools} QDECK_THEME_DIR=$repo/themes
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:log_path=$QDECK_TEST_TMP/asan/asan
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$QDECK_TEST_TMP/asan/ubsan
export HOME=$QDECK_TEST_TMP/home XDG_CONFIG_HOME=$QDECK_TEST_TMP/xdg   # never the developer's config
export LANG=C.UTF-8 TERM=${TERM:-xterm-256color}
[ "$TERM" = dumb ] && export TERM=xterm-256color
unset QDECK_AMQP_URL QDECK_MGMT_URL QDECK_REDIS_URL QDECK_CONTEXT QDECK_TLS_CA QDECK_TLS_CERT QDECK_TLS_KEY \
  QDECK_TLS_VERIFY NO_COLOR TMUX
timeout_secs=${QDECK_TEST_TIMEOUT:-300}
only=${QDECK_TEST_ONLY:-}
suites_dir=${QDECK_TEST_SUITES:-$repo/tests}   # another tree of suite dirs: for testing this runner

source "$repo/tests/lib/servers.sh"

now() { echo "${EPOCHREALTIME/./}"; }                      # microseconds
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

test_pgid=""
finished=0
total_passed=0
total_failed=0
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$test_pgid" ]; then kill -TERM -- "-$test_pgid" 2>/dev/null; sleep 0.2; kill -KILL -- "-$test_pgid" 2>/dev/null; fi
  [ -z "${SCREEN_SOCK:-}" ] || tmux -L "$SCREEN_SOCK" kill-server 2>/dev/null
  stop_rabbit
  stop_redis
  if [ "${QDECK_KEEP_TMP:-0}" = 1 ] || [ "$total_failed" -ne 0 ] || [ "$finished" -eq 0 ]; then
    [ "$finished" -eq 1 ] || echo "logs kept in $QDECK_TEST_TMP" >&2
  else
    rm -rf "$QDECK_TEST_TMP"
  fi
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

suite_passed=0
suite_failed=0

# sanitizer_reports WHAT: prints and removes the sanitizer logs written since
# the last call; false when there were none.
sanitizer_reports() {
  local f found=1
  for f in "$QDECK_TEST_TMP"/asan/*; do
    [ -e "$f" ] || continue
    echo "  FAIL $1: sanitizer report $(basename "$f"):"
    sed -n '/^Shadow bytes around/q; s/^/       /p' "$f" | head -80
    rm -f "$f"; found=0
  done
  for f in "$QDECK_TEST_TMP"/san/stderr.*; do
    [ -e "$f" ] || continue
    if grep -qE 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$f"; then
      echo "  FAIL $1: sanitizer report in the stderr of qdeck pid ${f##*.}:"
      grep -A20 -E 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$f" | head -40 | sed 's/^/       /'
      found=0
    fi
    rm -f "$f"
  done
  [ "$found" -eq 0 ]
}

# servers_ensure: a test may leave a broker stopped or SIGSTOPped when it
# fails half-way; continue it, or start it again on the same ports.
servers_ensure() {
  local pid
  pid=$(cat "$REDIS_DIR/redis.pid" 2>/dev/null) && kill -CONT "$pid" 2>/dev/null
  if ! _poll 20 redis-cli -p "$REDIS_PORT" ping; then
    echo "  (redis was not answering after the last test: starting it again)"
    stop_redis; start_redis || return 1
  fi
  pid=$(cat "$RABBIT_DIR/rabbit.pid" 2>/dev/null) && kill -CONT "$pid" 2>/dev/null
  if ! _alive "$pid" || ! _poll 100 rabbit_api GET overview; then
    echo "  (rabbitmq was not answering after the last test: starting it again)"
    stop_rabbit; start_rabbit || return 1
  fi
  # a test may have restarted a broker (a new pid): the next tests read these
  REDIS_PID=$(cat "$REDIS_DIR/redis.pid" 2>/dev/null || echo "${REDIS_PID:-}")
  RABBIT_PID=$(cat "$RABBIT_DIR/rabbit.pid" 2>/dev/null || echo "${RABBIT_PID:-}")
  export REDIS_PID RABBIT_PID
}

# run_unit_bin BIN: one cmocka binary; counts its test cases.
run_unit_bin() {
  local bin=$1 out rc p f
  out=$(cd "$QDECK_TEST_TMP/work" && timeout -k 5 120 "$repo/$bin" 2>&1); rc=$?
  # a binary may run several groups: add up every "[  PASSED  ] N test(s)."
  p=$(awk '/^\[  PASSED  \] [0-9]+ test/ { s += $4 } END { print s + 0 }' <<<"$out")
  f=$(awk '/^\[  FAILED  \] [0-9]+ test/ { s += $4 } END { print s + 0 }' <<<"$out")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed, timed out, or no cmocka summary
  if [ "$f" -ne 0 ]; then
    grep -vE '^\[ +(RUN|OK) +\]' <<<"$out" | sed 's/^/       /' | head -80
    echo "  FAIL $bin (exit $rc)"
  else
    echo "  ok   $bin: $p passed"
  fi
  if sanitizer_reports "$bin"; then f=$((f + 1)); fi
  suite_passed=$((suite_passed + p)); suite_failed=$((suite_failed + f))
}

_group_gone() { ! pgrep -g "$1" >/dev/null; }

# run_test_file FILE: one shell test file, in its own process group, with a
# timeout; counts its assertions (from QDECK_RESULT_FILE).
run_test_file() {
  local t=$1 name rc res log p=0 f=0 left t_show t0
  t0=$(now)
  name=$(basename "$(dirname "$t")")-$(basename "$t" .sh)
  t_show=${t#"$repo"/}
  echo "-- $t_show"
  if [ ! -x "$QDECK" ] && grep -qE '\$(QDECK\b|\{QDECK\})' "$t"; then
    echo "  FAIL $t_show: needs $QDECK, which is not built"
    suite_failed=$((suite_failed + 1)); return
  fi
  servers_ensure || { echo "  FAIL $t_show: brokers could not be brought back"; suite_failed=$((suite_failed + 1)); return; }
  redis_reset; rabbit_reset
  res=$QDECK_TEST_TMP/results/$name; log=$QDECK_TEST_TMP/results/$name.log
  rm -f "$res"
  : >"$log"   # there before tail follows it, whichever starts first
  export QDECK_RESULT_FILE=$res SCREEN_SOCK=qdeck-test-$$-$name
  # timeout puts the test in a process group of its own (pgid = its pid):
  # on timeout or Ctrl-C the whole group is stopped, the brokers (daemons in
  # sessions of their own) are not.
  (cd "$QDECK_TEST_TMP/work" && exec timeout -k 10 "$timeout_secs" bash "$t") >"$log" 2>&1 </dev/null &
  test_pgid=$!
  # both in the background: the wait builtin returns at once on INT/TERM
  tail -n +1 -s 0.1 -f --pid="$test_pgid" "$log" | sed -u 's/^/  /' &
  local shown=$!
  wait "$test_pgid"; rc=$?
  wait "$shown"
  _poll 20 _group_gone "$test_pgid"   # give processes stopped by the test's own trap a moment
  left=$(pgrep -g "$test_pgid" 2>/dev/null | paste -sd' ')
  if [ -n "$left" ]; then
    echo "  (left running by the test, now stopped: $(ps -o pid=,comm= -p "${left// /,}" | paste -sd' '))"
    kill -TERM -- "-$test_pgid" 2>/dev/null
  fi
  test_pgid=""
  tmux -L "$SCREEN_SOCK" kill-server 2>/dev/null
  rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SCREEN_SOCK"   # tmux leaves its socket file
  [ -s "$res" ] && read -r p f < "$res"
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "  FAIL $t_show: still running after ${timeout_secs}s, stopped"; f=$((f + 1))
  elif [ ! -s "$res" ]; then
    echo "  FAIL $t_show: ended (exit $rc) without reaching finish"; f=$((f + 1))
  elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "  FAIL $t_show: exit $rc with no failed assertion"; f=$((f + 1))
  fi
  if sanitizer_reports "$t_show"; then f=$((f + 1)); fi
  echo "  ($t_show took $(since "$t0") s)"   # what makes the suite long, file by file
  suite_passed=$((suite_passed + p)); suite_failed=$((suite_failed + f))
}

run_suite() {
  local suite=$1 start x
  start=$(now); suite_passed=0; suite_failed=0
  echo "== $suite"
  if [ "$suite" = unit ]; then
    for x in build/tests/test_* build-san/tests/test_*; do
      [ -f "$x" ] && [ -x "$x" ] || continue
      [ -z "$only" ] || [[ $x =~ $only ]] || continue
      run_unit_bin "$x"
    done
  else
    for x in "$suites_dir/$suite"/*.sh; do
      [ -f "$x" ] || continue
      [ -z "$only" ] || [[ $x =~ $only ]] || continue
      run_test_file "$x"
    done
  fi
  echo "$suite: $suite_passed passed, $suite_failed failed"
  echo "  ($suite took $(since "$start") s)"
  total_passed=$((total_passed + suite_passed)); total_failed=$((total_failed + suite_failed))
}

# The whole run is one function, read completely before it starts, so that
# editing this file during a run cannot change the run.
main() {
  suites=("$@")
  [ ${#suites[@]} -gt 0 ] || suites=(unit integration faults screen)
  for s in "${suites[@]}"; do
    case $s in unit|integration|faults|screen) ;; *) echo "run.sh: unknown suite '$s' (unit integration faults screen)" >&2; exit 2 ;; esac
  done
  [ -x "$QDECK" ] || echo "note: $QDECK is not built: tests of the binary will fail" >&2
  [ -d "$TOOLS" ] || echo "note: $TOOLS is not built (make tools)" >&2

  run_start=$(now)
  t=$(now); start_redis || exit 1; echo "servers: redis :$REDIS_PORT ready in $(since "$t") s"
  t=$(now); start_rabbit || exit 1
  echo "servers: rabbitmq $RABBIT_NODENAME amqp :$RABBIT_AMQP_PORT mgmt :$RABBIT_MGMT_PORT ready in $(since "$t") s"

  for s in "${suites[@]}"; do run_suite "$s"; done

  t=$(now); stop_rabbit; stop_redis; echo "servers: stopped in $(since "$t") s"
  echo "total time $(since "$run_start") s"
  if [ "${QDECK_KEEP_TMP:-0}" = 1 ] || [ "$total_failed" -ne 0 ]; then echo "logs kept in $QDECK_TEST_TMP"; fi
  finished=1
  echo "$total_passed passed, $total_failed failed"
  [ "$total_failed" -eq 0 ]
}
main "$@"; exit $?
