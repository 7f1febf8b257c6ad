#!/usr/bin/env bash
# Before against after, in one run: builds REV (default: origin/main, else
# HEAD~1) in a scratch worktree and runs the benchmarks a change must not
# slow down with each binary in turn, on the same machine in the same
# minutes, then prints each figure and the ratio after/before:
#   worker   qdeck worker, default config, noop from RabbitMQ, as a ratio
#            to the bare rabbitmq-c loop measured just before it
#            (bench_worker.sh; RabbitMQ's own rate swings, the ratio less)
#   console  the console's CPU on 2,000 queues (bench_monitor.sh, cpu part)
#   dlq      dlq replay as a ratio to RabbitMQ's shovel (bench_dlq.sh), both
#            binaries on one broker in paired rounds (BENCH_DLQ_ROUNDS, 9),
#            with the median of the per-round before/after time ratios
# Higher is better for worker and dlq, lower for console.
#
#   tests/bench/compare.sh [REV]     BENCH_ROUNDS (1) alternations
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
rev=${1:-$(git -C "$repo" rev-parse -q --verify origin/main || git -C "$repo" rev-parse HEAD~1)}
rounds=${BENCH_ROUNDS:-1}
old=$(mktemp -d /tmp/qdeck-before.XXXXXX)
cleanup() { git -C "$repo" worktree remove --force "$old" 2>/dev/null || rm -rf "$old"; }
trap cleanup EXIT
git -C "$repo" worktree add -q --detach "$old" "$rev"
echo "before: $(git -C "$old" log --oneline -1)"
echo "after:  $(git -C "$repo" log --oneline -1)$(git -C "$repo" diff --quiet HEAD || echo ' (plus uncommitted changes)')"
make -C "$old" --no-print-directory -j2 all tools >/dev/null
make -C "$repo" --no-print-directory -j2 all tools >/dev/null

worker() {
  QDECK=$1/build/qdeck BENCH_SKIP_CELERY=1 BENCH_N=${BENCH_N:-50000} BENCH_HTTP_TASKS=200 BENCH_HTTP_CONCURRENCY=100 \
    bash "$repo/tests/bench/bench_worker.sh" 2>&1 |
    sed -n 's/.*qdeck\/bare, *RabbitMQ, default config: \([0-9.]*\)x against the bare loop just before it.*/\1/p'
}
console() {
  QDECK=$1/build/qdeck BENCH_ONLY=cpu BENCH_SECONDS=${BENCH_SECONDS:-30} bash "$repo/tests/bench/bench_monitor.sh" 2>&1 |
    sed -n 's/^cpu: *\([0-9.]*\) %.*/\1/p'
}
# dlq: "before-ratio after-ratio paired", the ratios against the shovel
dlq() {
  QDECK=$repo/build/qdeck QDECK_BEFORE=$old/build/qdeck BENCH_DLQ_ROUNDS=${BENCH_DLQ_ROUNDS:-9} \
    bash "$repo/tests/bench/bench_dlq.sh" 2>&1 | tee -a "$dlq_log" | awk '
      /ratio before \/ shovel:/ { sub(/.*ratio before \/ shovel: /, ""); b = $1 }
      /^ratio qdeck \/ shovel:/ { a = $NF }
      /^paired after\/before speed:/ { p = $4 }
      END { print b, a, p }'
}
dlq_log=$(mktemp /tmp/qdeck-compare-dlq.XXXXXX)

declare -A fig
for r in $(seq "$rounds"); do
  for what in worker console dlq; do
    if [ "$what" = dlq ]; then
      read -r b a p < <(dlq)
      echo "round $r: dlq before: ${b:-failed}, after: ${a:-failed}, paired after/before: ${p:-failed}"
      fig[dlq.before]="${fig[dlq.before]:-} ${b:-nan}" fig[dlq.after]="${fig[dlq.after]:-} ${a:-nan}"
      fig[dlq.paired]="${fig[dlq.paired]:-} ${p:-nan}"
      continue
    fi
    for side in before after; do
      dir=$repo; [ "$side" = before ] && dir=$old
      v=$("$what" "$dir")
      echo "round $r: $what $side: ${v:-failed}"
      fig[$what.$side]="${fig[$what.$side]:-} ${v:-nan}"
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "nan") }'; }
echo "== before/after (median of $rounds)"
for what in worker console dlq; do
  b=$(median <<<"${fig[$what.before]}"); a=$(median <<<"${fig[$what.after]}")
  awk -v w="$what" -v a="$a" -v b="$b" 'BEGIN {
    unit = (w == "worker") ? "x bare loop" : (w == "console") ? "% of a core" : "x shovel"
    printf "  %-8s before %-7s after %-7s %-12s after/before %.3f\n", w, b, a, unit, (b > 0 ? a / b : 0) }'
done
echo "  dlq paired, the same broker, time(before)/time(after) per round: $(median <<<"${fig[dlq.paired]}") (rounds in $dlq_log)"
