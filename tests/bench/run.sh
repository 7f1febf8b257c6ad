#!/usr/bin/env bash
# Runs every benchmark in tests/bench/ (bench_*.sh), each printing its own
# figures, targets and ratios against a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")"
status=0
for b in bench_*.sh; do
  echo "== $b"
  bash "$b" || status=1
done
exit $status
