#!/usr/bin/env bash
# Hot-path cost of the resilience primitives (targets: breaker
# acquire+record and histogram record each <= 100 ns median), next to an
# empty loop and a plain counter increment measured in the same run, so the
# figures read as ratios on whatever machine runs them.
#   BENCH_RUNS (default 31), BENCH_OPS (default 1000000)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
tools=${TOOLS:-$repo/build/tools}
exec "$tools/bench-resilience" "${BENCH_RUNS:-31}" "${BENCH_OPS:-1000000}"
