#!/usr/bin/env bash
# Guardrails and breaker commands through the real binary against a real
# Redis: set/get/list (text and --json), refusal of unknown names and bad
# values, read-only refusal of every mutating command (flag and context),
# one audit record per action in the JSONL file and the qdeck:audit stream,
# `breaker list` from worker heartbeats, and propagation: five watcher
# processes (tests/tools/policy-watch, the worker's watcher code) each see a
# `qdeck policy set` and a `qdeck breaker open` within 2 s, also after a
# Redis restart.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"

R="redis-cli -p $REDIS_PORT"
audit=$QDECK_TEST_TMP/policy-audit.jsonl
conf=$QDECK_TEST_TMP/policy.conf
cat > "$conf" <<EOF
[qdeck]
context = ops
audit_log = $audit
[context ops]
redis = $REDIS_URL
[context viewer]
redis = $REDIS_URL
read_only = true
EOF
chmod 600 "$conf"
rm -f "$audit"
q() { "$QDECK" --config "$conf" "$@"; }

# ---------------------------------------------------------------- set / get / list
out=$(q policy list); rc=$?
expect_eq "list on an empty control plane: exit 0" "$rc" 0
expect_match "list shows the fleet-wide guardrails at their defaults" "$out" '^shed\.priority_below +off +- +-'
expect_match "list shows shed.auto default" "$out" '^shed\.auto +false'

out=$(q policy set shed.priority_below 3); rc=$?
expect_eq "set shed.priority_below 3: exit 0" "$rc" 0
expect_match "set says old and new" "$out" 'shed\.priority_below = 3 \(was off\)'
expect_eq "stored canonical in the hash" "$($R hget qdeck:policy shed.priority_below)" 3
expect_eq "get prints the value" "$(q policy get shed.priority_below)" 3
check "meta records who and when" bash -c "$R hget qdeck:policy:meta shed.priority_below | jq -e '(.by | test(\"@\")) and (.at | test(\"^20[0-9-]+T\"))'"

# no worker, config or broker knows these names: they need --force (test_inputs.sh checks the refusal)
q policy set queue.amqp:orders.v2.paused yes --force >/dev/null 2>&1
q policy set dep.llm-api.rate 25 --force >/dev/null 2>&1
q policy set task.resize.max_runtime_ms 1500 --force >/dev/null 2>&1
q policy set budget.max_response_tokens off >/dev/null
expect_eq "bool canonicalised (yes -> true), name with dots and colon" "$(q policy get queue.amqp:orders.v2.paused)" true
expect_eq "rate canonicalised (25 -> 25/s)" "$(q policy get dep.llm-api.rate)" 25/s
expect_eq "unset per-name guardrail reads its default" "$(q policy get queue.other.max_depth)" off

json=$(q policy list --json)
expect_eq "list --json: the 3 globals plus the 3 per-name guardrails set" "$(jq length <<<"$json")" 6
expect_eq "list --json: value and set flag" \
  "$(jq -r '.[] | select(.name == "task.resize.max_runtime_ms") | "\(.value) \(.set)"' <<<"$json")" "1500 true"
expect_eq "list --json: unset global has null by" \
  "$(jq -r '.[] | select(.name == "shed.auto") | "\(.value) \(.set) \(.by)"' <<<"$json")" "false false null"
json=$(q policy get dep.llm-api.rate --json)
expect_eq "get --json" "$(jq -r '"\(.name) \(.value) \(.set)"' <<<"$json")" "dep.llm-api.rate 25/s true"

# ---------------------------------------------------------------- refusals
bad() {   # bad NAME VALUE WANT_RE: refused with exit 2, a clear message, nothing stored
  local out rc
  out=$(q policy set "$1" "$2" 2>&1); rc=$?
  expect_eq "refused: $1=$2 exit 2" "$rc" 2
  expect_match "refused: $1=$2 message" "$out" "$3"
}
bad shed.priority_below -1 "shed\.priority_below wants an integer >= 0 or off, got '-1'"
bad shed.priority_below 2.5 'wants an integer'
bad shed.auto maybe "shed\.auto wants true or false, got 'maybe'"
bad dep.llm-api.rate 0 'wants a rate like 50/s'
bad dep.llm-api.rate 5/m 'wants a rate like 50/s'
bad queue..paused true "unknown guardrail 'queue\.\.paused'"
bad shed.priority 3 "unknown guardrail 'shed\.priority' \(known: shed\.priority_below"
bad dep.x.timeout 3 "unknown guardrail"
expect_eq "refused values left nothing behind" "$($R hlen qdeck:policy)" 5
out=$(q policy get no.such.thing 2>&1); rc=$?
expect_eq "get of an unknown name: exit 2" "$rc" 2
out=$(q policy frob 2>&1); rc=$?
expect_eq "unknown subcommand: exit 2" "$rc" 2
expect_match "unknown subcommand: usage" "$out" 'usage: qdeck policy list'

# ---------------------------------------------------------------- breaker commands
out=$(q breaker open llm-api --force); rc=$?
expect_eq "breaker open: exit 0" "$rc" 0
expect_eq "breaker open stored" "$($R hget qdeck:breaker llm-api)" open
q breaker close llm-api >/dev/null
expect_eq "breaker close = disabled" "$($R hget qdeck:breaker llm-api)" disabled
q breaker reset llm-api >/dev/null
expect_eq "breaker reset" "$($R hget qdeck:breaker llm-api)" reset
out=$(q breaker toggle llm-api 2>&1); rc=$?
expect_eq "breaker unknown subcommand: exit 2" "$rc" 2

$R set qdeck:worker:w1 '{"id":"w1","breakers":{"llm-api":{"state":"OPEN","failure_rate":62.5,"slow_rate":0,"calls":40,"open_remaining":12.3},"geo":{"state":"CLOSED","failure_rate":-1,"slow_rate":-1,"calls":3}}}' >/dev/null
$R set qdeck:worker:w2 '{"id":"w2","breakers":[{"name":"llm-api","state":"CLOSED","failure_rate":10,"slow_rate":0,"calls":30}],"limiters":{"llm-api":{"rate":5,"tokens":2.5,"throttled":7}}}' >/dev/null
$R set qdeck:worker:w3 'not json' >/dev/null          # garbage under the prefix: ignored
$R hset qdeck:worker:odd field value >/dev/null       # not a heartbeat: ignored
$R zadd qdeck:registry:workers "$(date +%s)" w1 "$(date +%s)" w2 "$(date +%s)" w3 "$(date +%s)" odd >/dev/null
out=$(q breaker list); rc=$?
expect_eq "breaker list: exit 0" "$rc" 0
expect_match "breaker list: llm-api command, worst state and rate, calls, half-open in, limiter, states" "$out" \
  '^llm-api +reset +OPEN +62\.5 +0\.0 +70 +12\.3s +2\.5 +7  OPEN x1, CLOSED x1$'
expect_match "breaker list: geo below minimum calls shows no rate" "$out" '^geo +- +CLOSED +- +- +3 +- +- +0  CLOSED x1$'
json=$(q breaker list --json)
expect_eq "breaker list --json: workers per dependency" \
  "$(jq -r '.[] | select(.name == "llm-api") | [.command, (.workers | map(.worker + "=" + .state) | sort | join(","))] | join(" ")' <<<"$json")" \
  "reset w1=OPEN,w2=CLOSED"

# ---------------------------------------------------------------- read-only
before_policy=$($R hgetall qdeck:policy | paste -sd,)
before_breaker=$($R hgetall qdeck:breaker | paste -sd,)
lines_before=$(wc -l < "$audit")
stream_before=$($R xlen qdeck:audit)
refuse() {   # refuse WHAT ARGS...: read-only refuses it with exit 1 and one clear line
  local what=$1 out rc; shift
  out=$("$@" 2>&1); rc=$?
  expect_eq "read-only refuses $what: exit 1" "$rc" 1
  expect_match "read-only refuses $what: says why" "$out" '^qdeck: read-only mode: refusing'
}
refuse "policy set (--read-only)" q --read-only policy set shed.auto true
refuse "breaker open (--read-only)" q --read-only breaker open llm-api
refuse "breaker close (--read-only)" q --read-only breaker close llm-api
refuse "breaker reset (--read-only)" q --read-only breaker reset llm-api
refuse "policy set (context read_only)" q --context viewer policy set shed.auto true
refuse "breaker open (context read_only)" q --context viewer breaker open llm-api
expect_eq "read-only: guardrails unchanged" "$($R hgetall qdeck:policy | paste -sd,)" "$before_policy"
expect_eq "read-only: breaker commands unchanged" "$($R hgetall qdeck:breaker | paste -sd,)" "$before_breaker"
expect_eq "read-only: reads still work" "$(q --read-only policy get shed.priority_below)" 3
out=$(q --context viewer breaker list); rc=$?
expect_eq "read-only: breaker list still works" "$rc" 0

# ---------------------------------------------------------------- audit
expect_eq "audit file: one line per refused action" "$(( $(wc -l < "$audit") - lines_before ))" 6
expect_eq "refusals are not written to Redis (read-only)" "$($R xlen qdeck:audit)" "$stream_before"
check "audit file: every line is JSON with every field" \
  jq -se 'all(.[]; has("time") and has("user") and has("host") and has("context") and has("action") and has("target") and has("old") and has("new") and has("result"))' "$audit"
expect_eq "audit file: ok actions (5 policy sets, 3 breaker commands)" \
  "$(jq -r 'select(.result == "ok") | .action' "$audit" | sort | uniq -c | awk '{print $2 "=" $1}' | paste -sd' ')" \
  "breaker.close=1 breaker.open=1 breaker.reset=1 policy.set=5"
expect_eq "audit file: first set, old null and new value" \
  "$(jq -rs 'map(select(.target == "shed.priority_below"))[0] | "\(.action) \(.old) \(.new) \(.result) \(.context)"' "$audit")" \
  "policy.set null 3 ok ops"
expect_eq "audit file: breaker close records old and new command" \
  "$(jq -rs 'map(select(.action == "breaker.close" and .result == "ok"))[0] | "\(.target) \(.old) \(.new)"' "$audit")" \
  "llm-api open disabled"
expect_eq "audit file: a refusal names its context and result" \
  "$(jq -rs 'map(select(.context == "viewer"))[0] | "\(.action) \(.target) \(.new) \(.result)"' "$audit")" \
  "policy.set shed.auto true refused: read-only"
expect_eq "audit stream: one entry per successful action" "$($R xlen qdeck:audit)" 8
stream=$($R --raw xrange qdeck:audit - + | paste -sd'|')
expect_match "audit stream: fields of a breaker command" "$stream" \
  'action\|breaker\.open\|target\|llm-api\|old\|(reset)?\|new\|open\|result\|ok'
expect_match "audit stream: user and host" "$stream" 'user\|[^|]+\|host\|[^|]+\|context\|ops'

out=$("$QDECK" --redis redis://127.0.0.1:1 policy list 2>&1); rc=$?
expect_eq "unreachable Redis: exit 3" "$rc" 3
expect_match "unreachable Redis: one clear line" "$out" '^qdeck: cannot connect to Redis at redis://127\.0\.0\.1:1'
out=$("$QDECK" --config /dev/null --amqp amqp://x policy set shed.auto true 2>&1); rc=$?
expect_eq "no Redis configured: usage error" "$rc" 2

# ---------------------------------------------------------------- propagation to 5 watchers
pids=()
for i in 1 2 3 4 5; do
  "$TOOLS/policy-watch" "$REDIS_URL" 60 shed.priority_below breaker:llm-api > "$QDECK_TEST_TMP/watch$i.out" 2>&1 &
  pids+=($!)
done
all_ready() { for i in 1 2 3 4 5; do grep -q ' ready ' "$QDECK_TEST_TMP/watch$i.out" || return 1; done; }
check "five watchers loaded the policy" wait_for 10 all_ready

# when (ms) did watcher N first see VALUE for NAME at or after T0, or nothing
seen_at() { awk -v n="$2" -v v="$3" -v t0="$4" '$1 >= t0 && $2 == n && $3 == v { print $1; exit }' "$QDECK_TEST_TMP/watch$1.out"; }
all_seen() { for i in 1 2 3 4 5; do [ -n "$(seen_at "$i" "$1" "$2" "$3")" ] || return 1; done; }
propagation() {   # propagation LABEL NAME VALUE T0_MS
  local worst=0 i t d
  check "$1: all five watchers see it" wait_for 5 all_seen "$2" "$3" "$4"
  for i in 1 2 3 4 5; do
    t=$(seen_at "$i" "$2" "$3" "$4"); [ -n "$t" ] || t=$(( $4 + 99999 ))
    d=$(( t - $4 )); [ "$d" -gt "$worst" ] && worst=$d
  done
  echo "  ($1: slowest watcher after ${worst} ms)"
  check "$1: within 2 s on every watcher (slowest ${worst} ms)" test "$worst" -le 2000
}
t0=$(( ${EPOCHREALTIME/./} / 1000 ))
q policy set shed.priority_below 8 >/dev/null
propagation "policy set" shed.priority_below 8 "$t0"

t0=$(( ${EPOCHREALTIME/./} / 1000 ))
q breaker open llm-api >/dev/null
propagation "breaker open" breaker:llm-api FORCED_OPEN "$t0"
t0=$(( ${EPOCHREALTIME/./} / 1000 ))
q breaker reset llm-api >/dev/null
propagation "breaker reset" breaker:llm-api CLOSED "$t0"

# without the PUBLISH (a lost message): the periodic reload still gets it
t0=$(( ${EPOCHREALTIME/./} / 1000 ))
$R hset qdeck:policy shed.priority_below 9 >/dev/null
propagation "silent change (reload fallback)" shed.priority_below 9 "$t0"

# Redis restarts (empty: no persistence in tests): watchers reconnect
restart_redis >/dev/null 2>&1
t0=$(( ${EPOCHREALTIME/./} / 1000 ))
q policy set shed.priority_below 11 >/dev/null
propagation "after a Redis restart" shed.priority_below 11 "$t0"

# Redis hangs (SIGSTOP) for 4 s: watchers keep their last snapshot, time
# out, reconnect once it answers, and get the next change within 2 s
rpid=$(cat "$REDIS_DIR/redis.pid")
kill -STOP "$rpid"
sleep 4
kill -CONT "$rpid"
t0=$(( ${EPOCHREALTIME/./} / 1000 ))
q policy set shed.priority_below 12 >/dev/null
propagation "after Redis hung for 4 s" shed.priority_below 12 "$t0"
alive=0
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
expect_eq "all five watchers survived restart and hang" "$alive" 5

for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
finish
