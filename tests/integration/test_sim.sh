#!/usr/bin/env bash
# `qdeck sim` (issue 15, "Decide"), on seeded traces generated here
# (tests/lib/sim_trace.py); no broker is needed.
#  - Theory: 200,000 tasks, Poisson λ = 32/s, exponential service of mean
#    100 ms, 1 worker × 4 slots: mean wait and p95 end-to-end within 2 % of
#    an exact FIFO 4-server computation over the same trace
#    (tests/lib/sim_fifo_ref.py), mean wait within 5 % of Erlang C.
#  - A decision table from 3 variants has 3 rows; the token cap lowers the
#    cost to exactly the capped bill and the busy time by the fit's slope
#    times the tokens cut; shedding below priority 5 lowers the p99 of
#    priority >= 5; the fit printed is the least-squares line.
#  - The breaker holds work through an outage in the trace (no dead
#    letters) where the same settings without it dead-letter; a rate limit
#    holds throughput to it.
#  - Same trace, config and seed: the same JSON; another seed: another.
#  - A bad record is one line naming file:line and the field, exit 2.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

T=$QDECK_TEST_TMP/sim
mkdir -p "$T"
gen=$here/../lib/sim_trace.py
# vals JSON EXPR...: each expression over d (the parsed JSON), one per line
# into the array v (one python for many figures)
vals() { local j=$1; shift; mapfile -t v < <(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
for e in sys.argv[2:]: print(eval(e))' "$j" "$@"); }

# --- theory
python3 "$gen" poisson 200000 32 0.1 11 > "$T/poisson.jsonl"
printf '[worker]\nconcurrency = 4\n' > "$T/w4.conf"
sim=$("$QDECK" sim "$T/poisson.jsonl" --config "$T/w4.conf" --workers 1 --json 2>"$T/poisson.err")
check "sim runs the 200,000-task trace" test -n "$sim"
ref=$(python3 "$here/../lib/sim_fifo_ref.py" "$T/poisson.jsonl" 4)
vals "{\"s\": $sim, \"r\": $ref}" "d['s']['variants'][0]['wait']['mean']" "d['r']['wait_mean']" \
  "d['s']['variants'][0]['e2e']['p95']" "d['r']['e2e_p95']" "d['r']['erlang_c_wait']" "d['s']['variants'][0]['completed']"
echo "  sim: wait mean ${v[0]}, e2e p95 ${v[2]}; reference: $ref"
within() {   # NAME GOT WANT TOLERANCE
  local ok; ok=$(awk -v g="$2" -v w="$3" -v t="$4" 'BEGIN { d = (g - w) / w; if (d < 0) d = -d; print (d <= t) ? 1 : 0 }')
  expect_eq "$1 ($2 vs $3, within $4)" "$ok" 1
}
within "mean wait = FIFO reference" "${v[0]}" "${v[1]}" 0.02
within "p95 end-to-end = FIFO reference" "${v[2]}" "${v[3]}" 0.02
within "mean wait = Erlang C" "${v[0]}" "${v[4]}" 0.05
expect_eq "every task completed" "${v[5]}" 200000

# --- decision table
python3 "$gen" llm 20000 25 0 5 > "$T/llm.jsonl"
cat > "$T/llm.conf" <<'CONF'
[worker]
concurrency = 4
[task chat]
price_in = 3
price_out = 15
CONF
cat > "$T/llm.variants" <<'CONF'
[variant base]
[variant cap256]
budget.max_response_tokens = 256
[variant shed-below-5]
shed.priority_below = 5
CONF
table=$("$QDECK" sim "$T/llm.jsonl" --config "$T/llm.conf" --variants "$T/llm.variants" 2>&1)
expect_match "the table has a row per variant" "$(grep -cE '^(base|cap256|shed-below-5) +[0-9]' <<<"$table")" '^3$'
expect_match "the table says the deltas" "$table" '^cap256 vs base: -[0-9]+% cost, -[0-9]+% p99'
dec=$("$QDECK" sim "$T/llm.jsonl" --config "$T/llm.conf" --variants "$T/llm.variants" --json 2>"$T/llm.err")
fit=$(grep '^fit chat' "$T/llm.err")
hi=$("$QDECK" sim "$T/llm.jsonl" --config "$T/llm.conf" --variants "$T/llm.variants" --json --min-priority 5 2>/dev/null)
# what the cap must do, from the trace alone: the capped bill, and the fit's
# slope times the tokens cut as the busy time saved (busy = utilisation x
# slots x span, span = completed / throughput)
vals "{\"all\": $dec, \"hi\": $hi}" "len(d['all']['variants'])" "sorted(d['all']['variants'][0])" \
  "sorted(d['all']['variants'][1]['e2e'])" "d['all']['variants'][1]['cost']" \
  "d['all']['variants'][1]['cost'] < d['all']['variants'][0]['cost']" \
  "'%.6f' % sum((1 if i == 0 else -1) * r['utilization'] * 4 * r['completed'] / r['throughput'] for i, r in enumerate(d['all']['variants'][:2]))" \
  "d['hi']['variants'][0]['e2e']['p99']" "d['hi']['variants'][2]['e2e']['p99']" \
  "d['hi']['variants'][2]['e2e']['p99'] < d['hi']['variants'][0]['e2e']['p99']" \
  "d['hi']['variants'][2]['shed'] == 20000 - d['hi']['variants'][2]['completed'] > 0"
mapfile -t w < <(python3 - "$T/llm.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
x = [r["tokens_out"] for r in recs]; y = [r["service"] for r in recs]
mx, my = sum(x) / len(x), sum(y) / len(y)
b = sum((a - mx) * (c - my) for a, c in zip(x, y)) / sum((a - mx) ** 2 for a in x)
print(sum(r["tokens_in"] * 3 + min(r["tokens_out"], 256) * 15 for r in recs) / 1e6)
print(b * sum(max(0, t - 256) for t in x))
print(b)
PY
)
expect_eq "JSON has 3 rows" "${v[0]}" 3
expect_eq "JSON row keys are the issue's" "${v[1]}" \
  "['arrivals', 'completed', 'cost', 'dead_lettered', 'drain_time', 'e2e', 'expired', 'name', 'peak_depth', 'shed', 'slo_attainment', 'throughput', 'tokens_in', 'tokens_out', 'utilization', 'wait']"
expect_eq "wait and e2e carry mean/p50/p95/p99/max" "${v[2]}" "['max', 'mean', 'p50', 'p95', 'p99']"
within "capped cost = the capped bill" "${v[3]}" "${w[0]}" 1e-6
expect_eq "the cap lowers cost" "${v[4]}" True
within "busy time saved = slope x tokens cut" "${v[5]}" "${w[1]}" 0.01
within "printed slope = least squares" "$(sed -E 's/.* \+ ([0-9.e-]+)\*tokens_out.*/\1/' <<<"$fit")" "${w[2]}" 0.001
expect_match "the fit prints its error" "$fit" 'rmse [0-9.]+ s, R² 0\.9[0-9]+'
echo "  priority >= 5 p99: base ${v[6]}, shed ${v[7]}"
expect_eq "shedding below 5 lowers the p99 of priority >= 5" "${v[8]}" True
expect_eq "what was shed is the low priorities' share" "${v[9]}" True

# --- guards: the breaker through an outage, a rate limit
python3 "$gen" burst 3000 50 3 > "$T/burst.jsonl"
cat > "$T/burst.conf" <<'CONF'
[worker]
concurrency = 4
max_attempts = 3
retry_base = 0.2
retry_cap = 2
[task call]
dependency = api
[dependency api]
window_size = 20
minimum_calls = 10
failure_rate = 50
open_wait = 5
CONF
cat > "$T/burst.variants" <<'CONF'
[variant breaker]
[variant never-trips]
dep.api.minimum_calls = 100000
dep.api.window_size = 100000
[variant rate10]
dep.api.rate = 10
CONF
g=$("$QDECK" sim "$T/burst.jsonl" --config "$T/burst.conf" --variants "$T/burst.variants" --json 2>/dev/null)
vals "$g" "d['variants'][0]['dead_lettered']" "d['variants'][1]['dead_lettered']" \
  "d['variants'][2]['throughput'] <= 10.05 and d['variants'][2]['completed'] == 3000" \
  "all(r['completed'] + r['shed'] + r['dead_lettered'] + r['expired'] == r['arrivals'] for r in d['variants'])"
echo "  dead-lettered: breaker ${v[0]}, never-trips ${v[1]}"
expect_eq "the breaker holds work through the outage" "${v[0]}" 0
expect_match "without it the outage dead-letters" "${v[1]}" '^[1-9][0-9]{2,}$'
expect_eq "rate 10/s: throughput at most 10/s, nothing lost" "${v[2]}" True
expect_eq "every arrival ends completed, shed, dead-lettered or expired" "${v[3]}" True

# --- deadlines: 10 tasks at t=0 of 1 s each, 1.5 s to start, one slot
for i in $(seq 10); do echo '{"t":0,"type":"a","service":1,"deadline":1.5}'; done > "$T/deadline.jsonl"
printf '[worker]\nconcurrency = 1\n' > "$T/one.conf"
vals "$("$QDECK" sim "$T/deadline.jsonl" --config "$T/one.conf" --json 2>/dev/null)" \
  "(d['variants'][0]['completed'], d['variants'][0]['expired'])" "d['variants'][0]['peak_depth']"
expect_eq "past its deadline a task expires unstarted" "${v[0]}" "(2, 8)"
expect_eq "peak depth counts the waiting, not the one that started" "${v[1]}" 9

# --- determinism
python3 "$gen" llm 5000 25 0.05 9 > "$T/flaky.jsonl"
printf '[worker]\nconcurrency = 4\nmax_attempts = 2\nretry_base = 0.1\n' > "$T/flaky.conf"
one=$("$QDECK" sim "$T/flaky.jsonl" --config "$T/flaky.conf" --scale 1.5 --seed 7 --json 2>/dev/null)
two=$("$QDECK" sim "$T/flaky.jsonl" --config "$T/flaky.conf" --scale 1.5 --seed 7 --json 2>/dev/null)
other=$("$QDECK" sim "$T/flaky.jsonl" --config "$T/flaky.conf" --scale 1.5 --seed 8 --json 2>/dev/null)
check "a JSON answer" test -n "$one"
expect_eq "same trace, config and seed: same JSON" "$two" "$one"
check "another seed: another answer" test "$other" != "$one"

# --- bad input
printf '{"t":0,"type":"a","service":0.1}\n\n{"t":1,"type":"a"}\n' > "$T/bad.jsonl"
out=$("$QDECK" sim "$T/bad.jsonl" 2>&1); rc=$?
expect_eq "a bad record: exit 2" "$rc" 2
expect_eq "one line naming file:line and the field" "$out" "qdeck: sim: $T/bad.jsonl:3: service: missing (required)"
printf '[variant a]\nworkers = lots\n' > "$T/bad.variants"
out=$("$QDECK" sim "$T/flaky.jsonl" --variants "$T/bad.variants" 2>&1 >/dev/null | grep -v '^sim:\|^fit'); rc=$?
expect_eq "a bad variant value names file:line and key" "$out" \
  "qdeck: sim: $T/bad.variants:2: workers: wants a whole number from 1 to 100000, got 'lots'"
printf '[variant a]\ndep.nope.rate = 1\n' > "$T/bad.variants"
out=$("$QDECK" sim "$T/flaky.jsonl" --variants "$T/bad.variants" 2>&1 >/dev/null | grep -v '^sim:\|^fit')
expect_match "an unknown dependency is named" "$out" "bad.variants:2: dep.nope.rate: no dependency 'nope' in the config"
printf '[variant a]\nworkers = 2\n[variant a]\n' > "$T/bad.variants"
out=$("$QDECK" sim "$T/flaky.jsonl" --variants "$T/bad.variants" 2>&1 >/dev/null | grep -v '^sim:\|^fit')
expect_match "a variant named twice is refused at its line" "$out" "bad.variants:3: variant 'a' is defined twice"
finish
