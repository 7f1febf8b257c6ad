#!/usr/bin/env bash
# Fleet-wide rate limit (GCRA in Redis, one Lua script on Redis' own clock),
# timed by Redis TIME, the clock the limiter decides on:
#  - three processes acquiring one call at a time (each sleeping the wait
#    the script names) make at most 50 calls in every second together;
#  - with a burst of b, any window of T seconds holds at most 50 T + b;
#  - three processes reserving slots ahead, as the worker does, get at
#    most 50 and at least 49 slots in every full second, none closer than
#    the interval, with fewer script calls than slots.
# The per-second floor is asked of the reservations: a process that wakes
# late from its sleep loses only its own turn there, since the slots
# reserved ahead keep the rate used.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

out=$QDECK_TEST_TMP/rate
mkdir -p "$out"
pids=()
for i in 1 2 3; do
  "$TOOLS/rate-client" "$REDIS_URL" llm-api 50 1 10 > "$out/client$i.txt" 2> "$out/client$i.err" &
  pids+=($!)
done
check "while they run, the rate key lives under qdeck:rate:" \
  wait_for 5 bash -c "[ \"\$(redis-cli -p $REDIS_PORT exists qdeck:rate:llm-api)\" = 1 ]"
rcs=0
for p in "${pids[@]}"; do wait "$p" || rcs=$((rcs + 1)); done
expect_eq "three clients ran to the end" "$rcs" 0

per_second=$(cat "$out"/client?.txt | awk '{ print int($1 / 1000000) }' | sort -n | uniq -c | awk '{ print $2, $1 }')
echo "$per_second" | awk '{ printf "  second %s: %d calls\n", $1, $2 }'
max=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' <<<"$per_second")
check "at most 50 calls in every second, all clients together (max $max)" test "$max" -le 50
# full seconds only: the first and last are cut by the start and end of the run
full=$(sed '1d;$d' <<<"$per_second")
nfull=$(wc -l <<<"$full")
check "at least 8 full seconds measured ($nfull)" test "$nfull" -ge 8
for i in 1 2 3; do
  n=$(wc -l < "$out/client$i.txt")
  check "client $i got a share ($n calls)" test "$n" -ge 20
done

# a burst of 10: spent once, then the rate again
pids=()
for i in 1 2 3; do
  "$TOOLS/rate-client" "$REDIS_URL" burst-api 50 10 3 > "$out/burst$i.txt" 2>/dev/null &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
read -r n first last < <(cat "$out"/burst?.txt | sort -n | awk 'NR == 1 { f = $1 } { l = $1 } END { print NR, f, l }')
bound=$(awk -v f="$first" -v l="$last" 'BEGIN { printf "%d", 50 * (l - f) / 1e6 + 10 + 1 }')
check "burst 10: $n calls in $(( (last - first) / 1000 )) ms, at most 50/s x span + burst ($bound)" test "$n" -le "$bound"
first_second=$(cat "$out"/burst?.txt | sort -n | awk -v f="$first" '$1 < f + 1000000 { n++ } END { print n }')
check "burst 10: the first second may exceed 50, up to 59 ($first_second)" test "$first_second" -gt 50 -a "$first_second" -le 59

# reservations, as the worker's waiting room makes them: 3 clients each
# reserve up to 8 slots at a time, 1 s ahead at most, and sleep until their
# last slot. Slots are granted in Redis time, so they are checked there.
pids=()
for i in 1 2 3; do
  "$TOOLS/rate-client" "$REDIS_URL" reserve-api 50 1 10 reserve 8 > "$out/reserve$i.txt" 2> "$out/reserve$i.err" &
  pids+=($!)
done
rcs=0
for p in "${pids[@]}"; do wait "$p" || rcs=$((rcs + 1)); done
expect_eq "three reserving clients ran to the end" "$rcs" 0
slots=$(cat "$out"/reserve?.txt | sort -n)
per_second=$(awk '{ print int($1 / 1000000) }' <<<"$slots" | uniq -c | awk '{ print $2, $1 }' | sed '1d;$d')
max=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' <<<"$per_second")
min=$(awk 'BEGIN { m = 1e9 } $2 < m { m = $2 } END { print m }' <<<"$per_second")
check "reserved: at most 50 slots in any second, all clients together (max $max)" test "$max" -le 50
check "reserved: at least 49 in every full second: the rate is used (min $min)" test "$min" -ge 49
gap=$(awk 'NR > 1 { d = $1 - p; if (m == "" || d < m) m = d } { p = $1 } END { print m }' <<<"$slots")
check "reserved: no two slots closer than the 20 ms interval (closest $gap µs)" test "$gap" -ge 19999
read -r granted calls < <(cat "$out"/reserve?.err | awk '{ g += $2; c += $6 } END { print g, c }')
check "reserved: fewer script calls than slots ($calls for $granted)" test "$calls" -lt "$granted"

finish
