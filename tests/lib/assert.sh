# Assertions for shell tests. Source it, assert, end with `finish`.
#
#   check NAME CMD...            passes when CMD exits 0 (its output is shown on failure)
#   expect_eq NAME GOT WANT      passes when GOT = WANT
#   expect_match NAME TEXT RE    passes when TEXT matches the extended regex RE
#   expect_nomatch NAME TEXT RE  passes when no line of TEXT matches RE
#   wait_for SECS CMD...         not an assertion: polls CMD every 0.1 s until it
#                                succeeds (true) or SECS pass (false, and the last
#                                output of CMD goes to stderr) — never sleep for
#                                correctness, wait for the condition. SECS may be
#                                fractional. Typical: check "depth 5" wait_for 30 cmd
#   finish                       prints "NAME: N passed, N failed"; exits 1 on any failure
#
# Every assertion can fail, and a failure prints what was wanted and what
# was got. When the runner sets QDECK_RESULT_FILE, finish also writes the two
# counts there ("PASSED FAILED"), which is what the runner adds up.

ASSERT_PASSED=0
ASSERT_FAILED=0
ASSERT_FILE=$(basename "${BASH_SOURCE[1]:-$0}" .sh)

_pass() { ASSERT_PASSED=$((ASSERT_PASSED + 1)); echo "  ok   $1"; }
_fail() {
  ASSERT_FAILED=$((ASSERT_FAILED + 1))
  echo "  FAIL $1"; shift
  local l
  for l in "$@"; do printf '%s\n' "$l" | sed 's/^/       /'; done
}
_clip() { local s=$1; [ "${#s}" -le 1500 ] && printf '%s' "$s" || printf '%s…[%d chars]' "${s:0:1500}" "${#s}"; }

check() {
  local name=$1; shift
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -eq 0 ]; then _pass "$name"
  else _fail "$name" "want: exit 0 from: $*" "got:  exit $rc${out:+, output:}" ${out:+"$(_clip "$out")"}; fi
}

expect_eq() {
  if [ "$2" = "$3" ]; then _pass "$1"
  else _fail "$1" "want: $(_clip "$3")" "got:  $(_clip "$2")"; fi
}

expect_match() {
  if grep -Eq -- "$3" <<<"$2"; then _pass "$1"
  else _fail "$1" "want: text matching /$3/" "got:  $(_clip "$2")"; fi
}

expect_nomatch() {
  local hit
  if ! hit=$(grep -E -m3 -- "$3" <<<"$2"); then _pass "$1"
  else _fail "$1" "want: no line matching /$3/" "got:  $(_clip "$hit")"; fi
}

wait_for() {
  local secs=$1; shift
  local out now end
  end=$(( ${EPOCHREALTIME/./} + $(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000000 }') ))
  while :; do
    out=$("$@" 2>&1) && return 0
    now=${EPOCHREALTIME/./}
    [ "$now" -lt "$end" ] || break
    sleep 0.1
  done
  printf 'wait_for: still false after %ss: %s\n%s\n' "$secs" "$*" "$(_clip "$out")" >&2
  return 1
}

# The Celery tests need Debian's python3-celery (make test installs it with
# tests/lib/deps.sh test): without it they fail here, at once, saying so.
require_celery() {
  check "python3-celery and python3-redis are installed (tests/lib/deps.sh test installs them)" \
    /usr/bin/python3 -c 'import celery, redis' || finish
}

finish() {
  echo "$ASSERT_FILE: $ASSERT_PASSED passed, $ASSERT_FAILED failed"
  [ -z "${QDECK_RESULT_FILE:-}" ] || echo "$ASSERT_PASSED $ASSERT_FAILED" > "$QDECK_RESULT_FILE"
  [ "$ASSERT_FAILED" -eq 0 ] || exit 1
  exit 0
}
