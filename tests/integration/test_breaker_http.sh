#!/usr/bin/env bash
# The circuit breaker against a real HTTP upstream, driven through the same
# dependency stack the worker wraps handler calls in (tests/tools/dep-drive):
# the upstream starts failing, the breaker opens, calls fail fast without
# reaching the upstream, the upstream heals, and after open_wait the
# half-open probes close the breaker again.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"

dir=$QDECK_TEST_TMP/breaker-http
mkdir -p "$dir"
port=$(free_ports 1)
flag=$dir/failing
hits=$dir/hits

python3 "$here/../lib/flaky-upstream.py" "$port" "$flag" "$hits" &
upstream=$!
trap 'kill $upstream 2>/dev/null' EXIT
check "upstream answers" wait_for 10 curl -sf "http://127.0.0.1:$port/"

cat > "$dir/qdeck.conf" <<EOF
[dependency upstream]
window_size = 10
minimum_calls = 10
failure_rate = 50
open_wait = 2
half_open_calls = 3
EOF
"$TOOLS/dep-drive" "$dir/qdeck.conf" upstream "http://127.0.0.1:$port/" 9 50 > "$dir/drive.out" 2> "$dir/drive.err" &
drive=$!

check "healthy calls go through" wait_for 5 grep -q ' call call 200 ' "$dir/drive.out"
touch "$flag"
t_fail=$(( ${EPOCHREALTIME/./} / 1000 ))
check "failing upstream opens the breaker" wait_for 5 grep -q 'transition CLOSED OPEN failure rate' "$dir/drive.out"
t_open=$(awk '$2 == "transition" && $4 == "OPEN" { print $1; exit }' "$dir/drive.out")
sleep 1   # well inside open_wait (2 s)
hits_during_open=$(awk -v a="$t_open" -v b="$(( t_open + 1000 ))" '$1 > a + 50 && $1 < b { n++ } END { print n + 0 }' "$hits")
expect_eq "while OPEN no call reaches the upstream" "$hits_during_open" 0
fast=$(awk -v a="$t_open" '$1 > a && $2 == "call" && $3 == "open" { n++; if ($5 > m) m = $5 } END { print n + 0, m + 0 }' "$dir/drive.out")
read -r nfast slowest <<<"$fast"
check "calls fail fast while OPEN ($nfast refused)" test "$nfast" -ge 20
check "a refused call costs under 1 ms (slowest ${slowest} us)" test "$slowest" -lt 1000
rm -f "$flag"   # the upstream heals
check "half-open after open_wait" wait_for 5 grep -q 'transition OPEN HALF_OPEN wait over' "$dir/drive.out"
check "probes succeed and close it" wait_for 5 grep -q 'transition HALF_OPEN CLOSED probes passed' "$dir/drive.out"
t_half=$(awk '$2 == "transition" && $4 == "HALF_OPEN" { print $1; exit }' "$dir/drive.out")
waited=$(( t_half - t_open ))
check "OPEN lasted open_wait (${waited} ms, want 2000..2600)" test "$waited" -ge 2000 -a "$waited" -le 2600
# in line order: calls made from the HALF_OPEN transition on, up to and
# including the one whose outcome closed it (its line follows the transition)
probes=$(awk '$2 == "transition" && $4 == "HALF_OPEN" { on = 1 }
              on && $2 == "call" && $3 == "call" { n++; if (closed) { print n; exit } }
              on && $2 == "transition" && $4 == "CLOSED" { closed = 1 }' "$dir/drive.out")
expect_eq "exactly half_open_calls probes decided it" "$probes" 3
check "healthy calls flow again after closing" wait_for 5 bash -c "awk -v a=$t_half '\$1 > a + 200 && \$3 == \"call\" && \$4 == \"200\"' '$dir/drive.out' | grep -q ."
wait "$drive"; rc=$?
expect_eq "every permit ended exactly once (in_flight 0, no double end)" "$rc" 0
echo "  ($(cat "$dir/drive.err"); upstream failed at +0, opened after $(( t_open - t_fail )) ms)"
finish
