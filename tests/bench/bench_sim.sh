#!/usr/bin/env bash
# `qdeck sim` speed (issue 15 target: >= 1,000,000 simulated tasks per CPU
# second) on two seeded traces generated here:
#   - 200,000 tasks, Poisson λ = 32/s, exponential service 100 ms, 1 worker x 4 slots;
#   - 1,000,000 tasks of 10 types on 5 queues, 1 % failed attempts (retries),
#     type0 behind a dependency with a rate limit and a bulkhead, 4 workers x 8 slots.
# For each: the engine's own CPU time (the "sim:" line: events from the
# first arrival to the last settlement), the whole command's CPU time
# (reading the JSONL with cJSON, the fit, the percentiles), and as the
# baseline measured in the same run, a plain FIFO c-server in python over
# the same trace (tests/lib/sim_fifo_ref.py: parse + one heap per task),
# printed as ratios.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
qdeck=${QDECK_PLAIN:-$repo/build/qdeck}
tmp=$(mktemp -d /tmp/bench-sim.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cpu() { /usr/bin/time -f '%U %S' -o "$tmp/time" "$@" > "$tmp/out" 2> "$tmp/err"; awk '{ print $1 + $2 }' "$tmp/time"; }

run() {   # NAME TRACE SLOTS ARGS...
  local name=$1 trace=$2 slots=$3; shift 3
  local n whole engine_line engine base
  n=$(wc -l < "$trace")
  whole=$(cpu "$qdeck" sim "$trace" "$@" --json)
  engine_line=$(grep '^sim: ' "$tmp/err" | tail -1)
  engine=$(sed -E 's/.* in ([0-9.]+) s CPU.*/\1/' <<<"$engine_line")
  base=$(cpu python3 "$repo/tests/lib/sim_fifo_ref.py" "$trace" "$slots")
  awk -v name="$name" -v n="$n" -v e="$engine" -v w="$whole" -v b="$base" 'BEGIN {
    printf "%s: %d tasks\n", name, n
    printf "  engine:        %8.3f s CPU  %12.0f tasks per CPU-second\n", e, n / e
    printf "  whole command: %8.3f s CPU  %12.0f tasks per CPU-second (JSONL read, fit, exact percentiles)\n", w, n / w
    printf "  baseline (python FIFO %s-server over the same trace): %8.3f s CPU  %12.0f tasks per CPU-second\n", "c", b, n / b
    printf "  ratio: engine %.1fx, whole command %.1fx the baseline\n", b / e, b / w
  }'
  echo "  ($engine_line)"
}

python3 "$repo/tests/lib/sim_trace.py" poisson 200000 32 0.1 11 > "$tmp/poisson.jsonl"
printf '[worker]\nconcurrency = 4\n' > "$tmp/w4.conf"
run "poisson 200k, 1x4" "$tmp/poisson.jsonl" 4 --config "$tmp/w4.conf"

python3 "$repo/tests/lib/sim_trace.py" mix 1000000 10 3000 5 > "$tmp/mix.jsonl"
cat > "$tmp/mix.conf" <<'CONF'
[worker]
concurrency = 8
max_attempts = 3
retry_base = 0.05
[task type0]
dependency = api
price_in = 1
price_out = 2
[dependency api]
rate = 400
max_concurrent = 6
CONF
run "10 types 1M, 4x8" "$tmp/mix.jsonl" 32 --config "$tmp/mix.conf" --workers 4
