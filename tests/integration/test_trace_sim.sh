#!/usr/bin/env bash
# Issue 15's reality check: a 900-task trace (Poisson λ = 14/s, exponential
# service of mean 200 ms carried in each record's payload for the sleep
# handler) is replayed in real time with `qdeck trace replay` into a real
# `qdeck worker` of 4 slots; `qdeck trace export` returns all 900 records;
# the measured p95 end-to-end is within 20 % of what `qdeck sim` predicts
# for the same trace and config. The same again, at the same time on its
# own queue and type, with a breaker and a rate limit in the config (the
# sleep handler never fails, so the breaker stays closed; the rate limit,
# 16/s with a burst of 4, throttles the bursts). Both runs go in parallel
# (the sleep handler costs no CPU), so the file takes about 70 s: the
# trace's own length.
# run.sh: alone (the p95 it measures must not share the CPU with another lane)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/worker.sh"

T=$QDECK_TEST_TMP/trace-sim
mkdir -p "$T"
worker_plugins "$T"
R="redis-cli -p $REDIS_PORT"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

# TYPE -> the trace (seed fixed): t, type, service, payload {"ms"}
trace() {
  python3 - "$1" <<'PY'
import json, random, sys
r = random.Random(15)
t = 0.0
for _ in range(900):
    t += r.expovariate(14.0)
    ms = max(1, round(r.expovariate(1 / 0.2) * 1000))
    print(json.dumps({"t": round(t, 6), "type": sys.argv[1], "service": ms / 1000, "payload": {"ms": ms}}))
PY
}

# NAME TYPE EXTRA-CONFIG: the config of one run
config() {
  cat >"$T/$1.conf" <<CONF
[context t]
redis = $REDIS_URL
[worker]
queues = redis:$1
concurrency = 4
plugin_dir = $T/plugins
max_attempts = 3
[task $2]
handler = sleep
timeout = 30
$3
CONF
  chmod 600 "$T/$1.conf"
}

config plain nap ""
config guarded napg "dependency = up
[dependency up]
failure_rate = 50
minimum_calls = 20
open_wait = 5
rate = 16
burst = 4"
trace nap >"$T/plain.jsonl"
trace napg >"$T/guarded.jsonl"

for run in plain guarded; do
  "$QDECK" --config "$T/$run.conf" worker >"$T/$run-worker.log" 2>&1 &
  pids+=($!)
done
for run in plain guarded; do
  "$QDECK" --config "$T/$run.conf" trace replay "$T/$run.jsonl" --to "redis:$run" >"$T/$run-replay.out" 2>&1 &
  pids+=($!)
done
xlen_is() { [ "$($R xlen qdeck:trace)" = "$1" ]; }
check "1800 attempts traced (both runs)" wait_for 150 xlen_is 1800

# p95 of a JSONL file's field (nearest rank)
p95() { jq -s "[.[].$2] | sort | .[(length * 0.95 | ceil) - 1]" "$1"; }
for run in plain guarded; do
  type=nap; [ "$run" = guarded ] && type=napg
  expect_match "$run: replayed in real time" "$(cat "$T/$run-replay.out")" "replayed 900 of 900 task\(s\) to redis:$run in ([6-9][0-9]|[1-9][0-9]{2})\."
  check "$run: trace export" "$QDECK" --config "$T/$run.conf" trace export --type "$type" --out "$T/$run-real.jsonl"
  expect_eq "$run: trace export returns all 900 records" "$(wc -l <"$T/$run-real.jsonl")" 900
  expect_eq "$run: every one ok at its first attempt" "$(jq -r '[.outcome, .attempt] | @tsv' "$T/$run-real.jsonl" | sort | uniq -c | awk '{ print $1, $2, $3 }')" "900 ok 1"
  sim=$("$QDECK" sim "$T/$run.jsonl" --config "$T/$run.conf" --json 2>"$T/$run-sim.err")
  predicted=$(jq '.variants[0].e2e.p95' <<<"$sim")
  measured=$(p95 "$T/$run-real.jsonl" e2e)
  ratio=$(awk -v m="$measured" -v p="$predicted" 'BEGIN { printf "%.3f", m / p }')
  echo "  $run: p95 end-to-end measured ${measured}s, predicted ${predicted}s, ratio $ratio"
  check "$run: measured p95 e2e within 20 % of qdeck sim's prediction (ratio $ratio)" \
    awk -v r="$ratio" 'BEGIN { exit !(r >= 0.8 && r <= 1.2) }'
done
finish
