#!/usr/bin/env bash
# Celery events processed per second: qdeck's parser and bounded state
# (celery/event.h + celery/state.h, driven by build/tools/celery-replay,
# i.e. the collector thread's work minus the socket read) against
# celery.events.state.State (what Flower runs on every event), fed the same
# synthetic stream in the same run. Prints each rate, qdeck's CPU share per
# 1,000 events/s, and the ratio. No broker needed.
#
#   tests/bench/bench_celery_events.sh      BENCH_TASKS (25000 tasks = 100k+ events)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
tasks=${BENCH_TASKS:-25000}
make -C "$repo" --no-print-directory -j2 tools >/dev/null
tmp=$(mktemp -d /tmp/qdeck-celery-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$repo/tests/bench/celery_events.py" write "$tmp/events.jsonl" "$tasks"
read -r py_n py_s < <(/usr/bin/python3 "$repo/tests/bench/celery_events.py" state "$tmp/events.jsonl")
out=$("$repo/build/tools/celery-replay" "$tmp/events.jsonl")
q_n=$(jq -r .events <<<"$out"); q_s=$(jq -r .seconds <<<"$out")
awk -v qn="$q_n" -v qs="$q_s" -v pn="$py_n" -v ps="$py_s" 'BEGIN {
  q = qn / qs; p = pn / ps
  printf "qdeck collector (parse + state): %d events in %.3f s = %.0f events/s (%.2f%% of a core per 1,000 events/s)\n", qn, qs, q, 100000 / q
  printf "celery.events.state.State:       %d events in %.3f s = %.0f events/s\n", pn, ps, p
  printf "ratio qdeck / Celery State: %.1fx\n", q / p
}'
