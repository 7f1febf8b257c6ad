#!/usr/bin/env bash
# The test runner behind `make test`, which has it build build/ and the
# ASan+UBSan build-san/ (QDECK_TEST_BUILD) while the brokers start. Runs the
# suites in order:
#   unit         every build/tests/test_* and build-san/tests/test_* (cmocka)
#   integration  tests/integration/*.sh  against the real brokers
#   faults       tests/faults/*.sh       brokers stopped, hung, lying
#   screen       tests/screen/*.sh       the real binary driven in tmux
#
# Lanes: the shell suites' files mostly wait (on brokers, workers, timers),
# so they run in QDECK_TEST_LANES lanes at once (default 2). Each lane has
# its own Redis and RabbitMQ (private loopback ports chosen up front, files
# under $QDECK_TEST_TMP/laneN, see lib/servers.sh), started ONCE per run in
# the background while the unit suite runs, and its own QDECK_TEST_TMP,
# HOME, XDG_CONFIG_HOME and sanitizer log dir: a test file only ever sees
# its own lane's brokers and files. Within a suite the lanes take the next
# file from one queue (the long files first, see slow_first), so a suite
# ends when its last file does; suites still run one after the other. A
# file's output is buffered and printed whole when it ends (lanes never
# interleave), so files appear in the order they finish. A file with the
# line "# run.sh: alone" runs first in its suite, in lane 1, while the
# other lanes wait: test_trace_sim (it measures real time against a model,
# which a neighbour's CPU would skew) and test_install (it relinks the
# build-san/qdeck every lane runs).
#
#   tests/run.sh [SUITE...]       default: all four, in that order
#   QDECK_TEST_ONLY=REGEX         only test files/binaries whose path matches
#   QDECK_TEST_LANES=N            lanes for the shell suites (default 2; never
#                                 more than there are files to run; 1 = serial,
#                                 each file's output then shown as it runs)
#   QDECK_TEST_TIMEOUT=SECS       per test file (default 300), then it fails
#   QDECK_KEEP_TMP=1              keep the temp dir (it is kept anyway on failure)
#   QDECK, QDECK_PLAIN, TOOLS     override the binaries under test
#   QDECK_TEST_SUITES=DIR         take integration/ faults/ screen/ from DIR
#   QDECK_TEST_BUILD=CMD          run CMD (bash) once the lanes' brokers are
#                                 starting, before any suite; exit 2 if it
#                                 fails (make test builds this way)
#
# Shell test files run in a scratch cwd with: QDECK (build-san/qdeck via
# lib/qdeck-san), QDECK_PLAIN (build/qdeck), TOOLS (build/tools), QDECK_REPO,
# QDECK_TEST_TMP (the lane's), QDECK_TEST_LANE (its number), QDECK_THEME_DIR,
# SCREEN_SOCK (a tmux socket the runner kills afterwards), QDECK_RESULT_FILE,
# everything lib/servers.sh exports for the lane's brokers (TLS ports and
# certificates too), ASAN_OPTIONS and UBSAN_OPTIONS logging to
# $QDECK_TEST_TMP/asan/, HOME and XDG_CONFIG_HOME private to the lane, and no
# QDECK_*_URL from the caller. Any sanitizer log fails the test that produced
# it and is printed. Broker state is reset between files.
#
# Output: each file's lines indented; one line per suite, exactly
# "SUITE: N passed, N failed", when it ends (its time on the next line); the
# total alone on the last line, "N passed, N failed" (parsed by CI). Exit 1
# if anything failed. Everything started (brokers, their epmd, test process
# groups, tmux servers) is stopped by its own pid on exit, failure and
# Ctrl-C included.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1

root=$(mktemp -d /tmp/qdeck-test.XXXXXX) || exit 1
QDECK_TEST_TMP=$root
mkdir -p "$root"/{asan,san,results,home,xdg,work}
export QDECK_TEST_TMP QDECK_REPO=$repo
# The sanitized binary runs through lib/qdeck-san, which copies its stderr
# under san/: UBSan in the combined ASan runtime ignores log_path.
export QDECK_SAN_BIN=${QDECK_SAN_BIN:-$repo/build-san/qdeck}
export QDECK=${QDECK:-$repo/tests/lib/qdeck-san} QDECK_PLAIN=${QDECK_PLAIN:-$repo/build/qdeck}
export TOOLS=${TOOLS:-$repo/build/tools} QDECK_THEME_DIR=$repo/themes
export LANG=C.UTF-8 TERM=${TERM:-xterm-256color}
[ "$TERM" = dumb ] && export TERM=xterm-256color
unset QDECK_AMQP_URL QDECK_MGMT_URL QDECK_REDIS_URL QDECK_CONTEXT QDECK_TLS_CA QDECK_TLS_CERT QDECK_TLS_KEY \
  QDECK_TLS_VERIFY NO_COLOR TMUX
# the caller's brokers, if any, are never the lanes'
unset REDIS_PORT REDIS_DIR REDIS_PID RABBIT_DIR RABBIT_NODENAME RABBIT_PID RABBIT_AMQP_PORT RABBIT_MGMT_PORT \
  RABBIT_DIST_PORT RABBIT_EPMD_PORT RABBIT_AMQPS_PORT RABBIT_MGMTS_PORT
timeout_secs=${QDECK_TEST_TIMEOUT:-300}
only=${QDECK_TEST_ONLY:-}
suites_dir=${QDECK_TEST_SUITES:-$repo/tests}   # another tree of suite dirs: for testing this runner
lanes=${QDECK_TEST_LANES:-2}
[[ $lanes =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: QDECK_TEST_LANES must be a number of lanes, 1 or more, not '$lanes'" >&2; exit 2; }

# The files that take longest (measured, see README "Tests and
# measurements"), started first so that no lane ends a suite alone with one
# of them. Only an order: a file missing here runs after them all the same.
slow_first=(integration/test_trace_sim.sh integration/test_deb.sh integration/test_sim.sh
  integration/test_dlq_amqp.sh integration/test_redis_idle_cost.sh integration/test_worker_amqp_guardrails.sh
  integration/test_celery_events.sh faults/test_worker_kill_flush.sh faults/test_faults.sh
  screen/test_dlq_view_rounds.sh screen/test_worker_login_rotation.sh)

source "$repo/tests/lib/servers.sh"

now() { echo "${EPOCHREALTIME/./}"; }                      # microseconds
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

# lane_env I: this shell becomes lane I: its temp dir, HOME, sanitizer logs
# and brokers (ports chosen by main, written to laneI/ports).
lane_env() {
  QDECK_TEST_LANE=$1
  QDECK_TEST_TMP=$root/lane$1
  read -r REDIS_PORT RABBIT_AMQP_PORT RABBIT_MGMT_PORT RABBIT_DIST_PORT RABBIT_EPMD_PORT RABBIT_AMQPS_PORT \
    RABBIT_MGMTS_PORT < "$QDECK_TEST_TMP/ports"
  REDIS_DIR=$QDECK_TEST_TMP/redis RABBIT_DIR=$QDECK_TEST_TMP/rabbit RABBIT_NODENAME=qdeck-test-$$-$1@localhost
  HOME=$QDECK_TEST_TMP/home XDG_CONFIG_HOME=$QDECK_TEST_TMP/xdg
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:log_path=$QDECK_TEST_TMP/asan/asan
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$QDECK_TEST_TMP/asan/ubsan
  export QDECK_TEST_LANE QDECK_TEST_TMP REDIS_PORT RABBIT_AMQP_PORT RABBIT_MGMT_PORT RABBIT_DIST_PORT \
    RABBIT_EPMD_PORT RABBIT_AMQPS_PORT RABBIT_MGMTS_PORT REDIS_DIR RABBIT_DIR RABBIT_NODENAME HOME \
    XDG_CONFIG_HOME ASAN_OPTIONS UBSAN_OPTIONS
  # what start_redis/start_rabbit exported, once they have run (brokers.env)
  [ ! -s "$QDECK_TEST_TMP/brokers.env" ] || source "$QDECK_TEST_TMP/brokers.env"
}

# the unit suite (and anything outside a lane) keeps its logs at the root
export HOME=$root/home XDG_CONFIG_HOME=$root/xdg   # never the developer's config
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:log_path=$root/asan/asan
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$root/asan/ubsan

used_lanes=0      # lanes whose dirs (and maybe brokers) exist
lane_starters=()  # pids of the background broker starts, by lane
lane_workers=()   # pids of the lanes running a suite's files
finished=0
total_passed=0
total_failed=0

# stop_lane I: the test lane I is running (its process group and tmux
# server, from laneI/current), then its brokers and their epmd.
stop_lane() {
  (
    lane_env "$1"
    local pgid sock log
    if [ -s "$QDECK_TEST_TMP/current" ] && read -r pgid sock log <"$QDECK_TEST_TMP/current"; then
      echo "lane $1: stopped in the middle of a test file; its output so far: $log" >&2
      kill -TERM -- "-$pgid" 2>/dev/null; sleep 0.2; kill -KILL -- "-$pgid" 2>/dev/null
      tmux -L "$sock" kill-server 2>/dev/null
      rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock"
    fi
    stop_rabbit
    stop_redis
  )
}

cleanup() {
  trap - EXIT INT TERM
  local i pid
  # first the lanes themselves, so that none starts another file
  for pid in "${lane_workers[@]}" "${lane_starters[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for ((i = 1; i <= used_lanes; i++)); do stop_lane "$i" & done
  wait
  if [ "${QDECK_KEEP_TMP:-0}" = 1 ] || [ "$total_failed" -ne 0 ] || [ "$finished" -eq 0 ]; then
    [ "$finished" -eq 1 ] || echo "logs kept in $root" >&2
  else
    rm -rf "$root"
  fi
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

suite_passed=0
suite_failed=0

# sanitizer_reports WHAT: prints and removes the sanitizer logs written since
# the last call (in this lane's dir); false when there were none.
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
  out=$(cd "$root/work" && timeout -k 5 120 "$repo/$bin" 2>&1); rc=$?
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

# run_test_file FILE COUNTS: one shell test file, in its own process group,
# with a timeout, in the current lane; appends "PASSED FAILED" (its
# assertions, from QDECK_RESULT_FILE, and the runner's own failures) to COUNTS.
run_test_file() {
  local t=$1 counts=$2 name rc res log p=0 f=0 left t_show t0 test_pgid shown
  t0=$(now)
  name=$(basename "$(dirname "$t")")-$(basename "$t" .sh)
  t_show=${t#"$repo"/}
  echo "-- $t_show"
  if [ ! -x "$QDECK" ] && grep -qE '\$(QDECK\b|\{QDECK\})' "$t"; then
    echo "  FAIL $t_show: needs $QDECK, which is not built"
    echo "0 1" >>"$counts"; return
  fi
  servers_ensure || { echo "  FAIL $t_show: brokers could not be brought back"; echo "0 1" >>"$counts"; return; }
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
  echo "$test_pgid $SCREEN_SOCK $log" >"$QDECK_TEST_TMP/current"   # for cleanup, on Ctrl-C
  if [ "$lanes" -eq 1 ]; then
    # one lane: shown as it runs; both in the background, as the wait
    # builtin returns at once on INT/TERM
    tail -n +1 -s 0.1 -f --pid="$test_pgid" "$log" | sed -u 's/^/  /' &
    shown=$!
    wait "$test_pgid"; rc=$?
    wait "$shown"
  else
    wait "$test_pgid"; rc=$?
    sed 's/^/  /' "$log"
  fi
  _poll 20 _group_gone "$test_pgid"   # give processes stopped by the test's own trap a moment
  left=$(pgrep -g "$test_pgid" 2>/dev/null | paste -sd' ')
  if [ -n "$left" ]; then
    echo "  (left running by the test, now stopped: $(ps -o pid=,comm= -p "${left// /,}" | paste -sd' '))"
    kill -TERM -- "-$test_pgid" 2>/dev/null
  fi
  tmux -L "$SCREEN_SOCK" kill-server 2>/dev/null
  rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SCREEN_SOCK"   # tmux leaves its socket file
  rm -f "$QDECK_TEST_TMP/current"
  [ -s "$res" ] && read -r p f < "$res"
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "  FAIL $t_show: still running after ${timeout_secs}s, stopped"; f=$((f + 1))
  elif [ ! -s "$res" ]; then
    echo "  FAIL $t_show: ended (exit $rc) without reaching finish"; f=$((f + 1))
  elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "  FAIL $t_show: exit $rc with no failed assertion"; f=$((f + 1))
  fi
  if sanitizer_reports "$t_show"; then f=$((f + 1)); fi
  # what makes the suite long, file by file (and where it ran)
  echo "  ($t_show took $(since "$t0") s${QDECK_TEST_LANE:+ in lane $QDECK_TEST_LANE})"
  echo "$p $f" >>"$counts"
}

# suite_files SUITE: its files that QDECK_TEST_ONLY selects, the slow_first
# ones first.
suite_files() {
  local x s
  for s in "${slow_first[@]}"; do
    [ "${s%%/*}" = "$1" ] && [ -f "$suites_dir/$s" ] || continue
    [ -z "$only" ] || [[ $suites_dir/$s =~ $only ]] || continue
    echo "$suites_dir/$s"
  done
  for x in "$suites_dir/$1"/*.sh; do
    [ -f "$x" ] || continue
    [ -z "$only" ] || [[ $x =~ $only ]] || continue
    [[ " ${slow_first[*]} " == *" $1/${x##*/} "* ]] && continue
    echo "$x"
  done
}

# next_file QUEUE: the next line of QUEUE not yet taken by any lane; false
# when all are. QUEUE.next holds how many were taken (under a lock).
next_file() {
  local n
  n=$(flock "$1.next" bash -c 'n=$(cat "$1.next"); echo $((n + 1)) > "$1.next"; echo "$n"' _ "$1") || return 1
  sed -n "$((n + 1))p" "$1" | grep .
}

# lane_work I QUEUE COUNTS: lane I runs files from QUEUE until it is empty;
# each file's output is printed whole, under a lock, when the file ends.
lane_work() {
  lane_env "$1"
  local t out=$QDECK_TEST_TMP/file.out
  while t=$(next_file "$2"); do
    run_test_file "$t" "$3" >"$out" 2>&1
    flock "$root/print.lock" cat "$out"
  done
}

# start_lane I: lane I's Redis and RabbitMQ; what they export is written to
# laneI/brokers.env for the lane's shells. Prints one line; false on failure.
start_lane() {
  lane_env "$1"
  local t0 v
  t0=$(now)
  start_redis && start_rabbit || return 1
  for v in REDIS_PID REDIS_URL RABBIT_PID AMQP_URL MGMT_URL AMQPS_URL MGMTS_URL TLS_CA TLS_WRONG_CA TLS_CLIENT_CERT \
           TLS_CLIENT_KEY TLS_STRANGER_CERT TLS_STRANGER_KEY; do
    printf 'export %s=%q\n' "$v" "${!v}"
  done >"$QDECK_TEST_TMP/brokers.env"
  echo "servers: lane $1: redis :$REDIS_PORT, rabbitmq $RABBIT_NODENAME amqp :$RABBIT_AMQP_PORT" \
    "mgmt :$RABBIT_MGMT_PORT, ready in $(since "$t0") s"
}

# lanes_start N: N lanes' dirs and ports (all chosen at once, so distinct),
# and their brokers started in the background.
lanes_start() {
  local i ports
  read -r -a ports < <(free_ports $((7 * $1)))
  for ((i = 1; i <= $1; i++)); do
    mkdir -p "$root/lane$i"/{asan,san,results,home,xdg,work}
    echo "${ports[@]:$((7 * (i - 1))):7}" >"$root/lane$i/ports"
    used_lanes=$i
    start_lane "$i" >"$root/lane$i/start.out" 2>&1 &
    lane_starters+=($!)
  done
}

# lanes_ready: waits for every lane's brokers; false if any did not start.
lanes_ready() {
  local i ok=0
  for ((i = 1; i <= used_lanes; i++)); do
    wait "${lane_starters[i - 1]}" || ok=1
    cat "$root/lane$i/start.out"
  done
  lane_starters=()
  return "$ok"
}

run_suite() {
  local suite=$1 start x i queue counts
  start=$(now); suite_passed=0; suite_failed=0
  echo "== $suite"
  if [ "$suite" = unit ]; then
    for x in build/tests/test_* build-san/tests/test_*; do
      [ -f "$x" ] && [ -x "$x" ] || continue
      [ -z "$only" ] || [[ $x =~ $only ]] || continue
      run_unit_bin "$x"
    done
  else
    queue=$root/queue.$suite counts=$root/counts.$suite
    : >"$queue.alone"; : >"$queue"
    while IFS= read -r x; do
      if grep -q '^# run\.sh: alone' "$x"; then echo "$x" >>"$queue.alone"; else echo "$x" >>"$queue"; fi
    done < <(suite_files "$suite")
    : >"$counts"
    # first the files that must have the machine to themselves, in lane 1
    # while the others wait; then everything else in every lane
    for x in "$queue.alone" "$queue"; do
      echo 0 >"$x.next"
      lane_workers=()
      for ((i = 1; i <= used_lanes; i++)); do
        lane_work "$i" "$x" "$counts" &
        lane_workers+=($!)
        [ "$x" != "$queue.alone" ] || break
      done
      for i in "${lane_workers[@]}"; do wait "$i"; done
      lane_workers=()
    done
    read -r suite_passed suite_failed < <(awk '{ p += $1; f += $2 } END { print p + 0, f + 0 }' "$counts")
  fi
  echo "$suite: $suite_passed passed, $suite_failed failed"
  echo "  ($suite took $(since "$start") s)"
  total_passed=$((total_passed + suite_passed)); total_failed=$((total_failed + suite_failed))
}

# The whole run is one function, read completely before it starts, so that
# editing this file during a run cannot change the run.
main() {
  local s t n=0
  suites=("$@")
  [ ${#suites[@]} -gt 0 ] || suites=(unit integration faults screen)
  for s in "${suites[@]}"; do
    case $s in unit|integration|faults|screen) ;; *) echo "run.sh: unknown suite '$s' (unit integration faults screen)" >&2; exit 2 ;; esac
  done
  run_start=$(now)
  # no more lanes than files to run in the biggest suite
  for s in "${suites[@]}"; do
    [ "$s" = unit ] || { t=$(suite_files "$s" | wc -l); [ "$t" -le "$n" ] || n=$t; }
  done
  [ "$n" -le "$lanes" ] || n=$lanes
  if [ "$n" -gt 0 ]; then
    echo "servers: starting $n lane(s) of brokers"
    lanes_start "$n"   # in the background, while the build and the unit suite run
  fi
  if [ -n "${QDECK_TEST_BUILD:-}" ]; then
    t=$(now)
    bash -c "$QDECK_TEST_BUILD" || { echo "run.sh: the build failed: $QDECK_TEST_BUILD" >&2; exit 2; }
    echo "build: done in $(since "$t") s"
  fi
  [ -x "$QDECK" ] || echo "note: $QDECK is not built: tests of the binary will fail" >&2
  [ -d "$TOOLS" ] || echo "note: $TOOLS is not built (make tools)" >&2

  for s in "${suites[@]}"; do
    if [ "$s" != unit ] && [ ${#lane_starters[@]} -gt 0 ]; then
      lanes_ready || { echo "servers: a lane's brokers did not start" >&2; exit 1; }
    fi
    run_suite "$s"
  done

  t=$(now)
  for ((s = 1; s <= used_lanes; s++)); do stop_lane "$s" & done
  wait
  echo "servers: stopped in $(since "$t") s"
  echo "total time $(since "$run_start") s"
  if [ "${QDECK_KEEP_TMP:-0}" = 1 ] || [ "$total_failed" -ne 0 ]; then echo "logs kept in $root"; fi
  finished=1
  echo "$total_passed passed, $total_failed failed"
  [ "$total_failed" -eq 0 ]
}
main "$@"; exit $?
