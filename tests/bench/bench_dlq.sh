#!/usr/bin/env bash
# DLQ replay throughput: `qdeck dlq replay` of 10,000 small persistent
# messages with publisher confirms (target: >= 5,000 msg/s), and the ratio
# to RabbitMQ's own "move messages" — a dynamic shovel with
# src-delete-after=queue-length and ack-mode=on-confirm, as the management
# UI creates it — on the same queues, in the same run, on the same private
# broker (tests/lib/servers.sh enables rabbitmq_shovel and
# rabbitmq_shovel_management). Three rounds each, alternating; the median
# is reported.
#   QDECK_BEFORE=BIN   also replays with BIN (an older qdeck) in every round,
#                      the order of the two rotating by round, and prints the
#                      median of the per-round ratios time(before)/time(after)
#                      (compare.sh: one broker for both, paired rounds, so a
#                      broker's warm-up or a busy minute counts for both)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
qdeck=${QDECK:-$repo/build/qdeck}
tools=${TOOLS:-$repo/build/tools}
count=${BENCH_DLQ_COUNT:-10000}
rounds=${BENCH_DLQ_ROUNDS:-3}
export QDECK_TEST_TMP=$(mktemp -d) HOME=$(mktemp -d)
source "$repo/tests/lib/servers.sh"
cleanup() { stop_rabbit || true; rm -rf "$QDECK_TEST_TMP" "$HOME"; }
trap cleanup EXIT
start_rabbit

fill() { "$tools/amqp-fill" "$AMQP_URL" "$@" >/dev/null; }
depth() { "$tools/amqp-fill" "$AMQP_URL" depth "$1" | cut -d' ' -f1; }
now() { date +%s.%N; }
fill declare bench.dlq
fill declare bench

# qdeck_round [BIN]: seconds for qdeck (or BIN) to move $count messages
qdeck_round() {
  local bin=${1:-$qdeck}
  fill purge bench; fill purge bench.dlq
  fill publish bench.dlq "$count" --size 64
  local t0 t1 out
  t0=$(now)
  out=$("$bin" --amqp "$AMQP_URL" dlq replay amqp:bench.dlq --all --to bench)
  t1=$(now)
  [ "$out" = "moved $count, failed 0, skipped 0" ] || { echo "qdeck replay said: $out" >&2; exit 1; }
  [ "$(depth bench)" = "$count" ] || { echo "target has $(depth bench), not $count" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# shovel_round: seconds from creating the shovel until the target holds all
shovel_round() {
  fill purge bench; fill purge bench.dlq
  fill publish bench.dlq "$count" --size 64
  local uri="amqp://$RABBIT_USER:$RABBIT_PASS@127.0.0.1:$RABBIT_AMQP_PORT/%2F" t0 t1 name="move-$RANDOM"
  t0=$(now)
  rabbit_api PUT "parameters/shovel/%2F/$name" "{\"value\":{\"src-protocol\":\"amqp091\",\"src-uri\":\"$uri\",\"src-queue\":\"bench.dlq\",\"src-delete-after\":\"queue-length\",\"dest-protocol\":\"amqp091\",\"dest-uri\":\"$uri\",\"dest-queue\":\"bench\",\"ack-mode\":\"on-confirm\"}}" >/dev/null
  until [ "$(depth bench)" = "$count" ] && [ "$(depth bench.dlq)" = 0 ]; do sleep 0.01; done
  t1=$(now)
  rabbit_api DELETE "parameters/shovel/%2F/$name" >/dev/null 2>&1 || true
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

q_times=() s_times=() b_times=() pairs=()
for r in $(seq "$rounds"); do
  if [ -n "${QDECK_BEFORE:-}" ] && [ $((r % 2)) = 0 ]; then
    b_times+=("$(qdeck_round "$QDECK_BEFORE")"); q_times+=("$(qdeck_round)")
  elif [ -n "${QDECK_BEFORE:-}" ]; then
    q_times+=("$(qdeck_round)"); b_times+=("$(qdeck_round "$QDECK_BEFORE")")
  else
    q_times+=("$(qdeck_round)")
  fi
  s_times+=("$(shovel_round)")
  if [ -n "${QDECK_BEFORE:-}" ]; then
    pairs+=("$(awk -v b="${b_times[-1]}" -v a="${q_times[-1]}" 'BEGIN { printf "%.4f\n", b / a }')")
    echo "round $r: qdeck ${q_times[-1]} s, before ${b_times[-1]} s, shovel ${s_times[-1]} s"
  else
    echo "round $r: qdeck ${q_times[-1]} s, shovel ${s_times[-1]} s"
  fi
done
q=$(printf '%s\n' "${q_times[@]}" | median)
s=$(printf '%s\n' "${s_times[@]}" | median)
if [ -n "${QDECK_BEFORE:-}" ]; then
  b=$(printf '%s\n' "${b_times[@]}" | median)
  echo "before: median $b s = $(awk -v b="$b" -v n="$count" 'BEGIN { printf "%.0f", n / b }') msg/s, ratio before / shovel: $(awk -v b="$b" -v s="$s" 'BEGIN { printf "%.2f", s / b }')"
  echo "paired after/before speed: $(printf '%s\n' "${pairs[@]}" | median) (median of $rounds rounds: ${pairs[*]})"
fi
awk -v q="$q" -v s="$s" -v n="$count" 'BEGIN {
  qr = n / q; sr = n / s
  printf "qdeck dlq replay (confirms, mandatory): %d messages in %.2f s = %.0f msg/s (target >= 5000: %s)\n", n, q, qr, (qr >= 5000 ? "met" : "NOT met")
  printf "rabbitmq shovel move (on-confirm):      %d messages in %.2f s = %.0f msg/s\n", n, s, sr
  printf "ratio qdeck / shovel: %.2f\n", qr / sr
  exit (qr >= 5000 ? 0 : 1)
}'
