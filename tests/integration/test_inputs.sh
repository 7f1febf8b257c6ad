#!/usr/bin/env bash
# Inputs checked, not guessed, and Unix manners, through the real binary
# against the real RabbitMQ and Redis:
#  - integers are parsed strictly (publish --count 1e9, 12abc, -1, overflow,
#    a config value): one line naming flag and value, exit 2, nothing sent;
#    more than 100,000 messages need --yes; SIGINT stops publish with a
#    "published N of M" summary that matches what the broker holds;
#  - publish to a missing RabbitMQ queue is refused naming --declare, and
#    --declare declares it durable with the worker's dead-letter wiring;
#  - a URL of the wrong scheme for its broker is refused; the Redis port
#    given as the AMQP URL fails within ~2 s, exit 3, "does not speak AMQP"
#    (a wrong password still reads as a refused login);
#  - every command in `qdeck --help`'s table, and every subcommand, answers
#    --help and -h on stdout with exit 0;
#  - `dlq export | head -1` exits 0 with no error text; dlq list and status
#    keep summaries and health lines off stdout;
#  - breaker and guardrail names nobody knows need --force; policy unset and
#    breaker forget remove rows and are audited; mutating commands print
#    one result object with --json.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"

T=$QDECK_TEST_TMP/inputs
mkdir -p "$T"
R="redis-cli -p $REDIS_PORT"
audit=$T/audit.jsonl
cat > "$T/qdeck.conf" <<EOF
[qdeck]
context = t
audit_log = $audit
[context t]
amqp = $AMQP_URL
mgmt = $MGMT_URL
redis = $REDIS_URL
[dependency known-dep]
window_size = 100
[schedule tick]
every = 3600
action = probe
EOF
chmod 600 "$T/qdeck.conf"
q() { "$QDECK" --config "$T/qdeck.conf" "$@"; }
depth() { "$TOOLS/amqp-fill" "$AMQP_URL" depth "$1" 2>/dev/null | cut -d' ' -f1; }

# ---------------------------------------------------------------- strict integers
strict() {   # strict FLAG VALUE: refused with exit 2 and a line naming both, nothing published
  local out rc
  out=$(q publish redis:inputs.num --type t "$1" "$2" 2>&1); rc=$?
  expect_eq "publish $1 $2: exit 2" "$rc" 2
  expect_match "publish $1 $2: one line naming flag and value" "$out" "^qdeck: publish: $1 wants a whole number from [0-9]+ to [0-9]+, got '$2'$"
  expect_eq "publish $1 $2: one line only" "$(wc -l <<<"$out")" 1
}
strict --count 1e9
strict --count 12abc
strict --count -1
strict --count 0
strict --count 99999999999999999999999
strict --count ''
strict --priority 2.5
strict --max-attempts 0x10
expect_eq "refused counts published nothing" "$($R llen inputs.num)" 0

out=$(q publish redis:inputs.num --type t --count 100001 2>&1); rc=$?
expect_eq "--count above 100000 without --yes: exit 2" "$rc" 2
expect_match "--count above 100000 asks for --yes" "$out" 'add --yes'
expect_eq "nothing published without --yes" "$($R llen inputs.num)" 0
out=$(q publish redis:inputs.num --type t --count 3 2>/dev/null); rc=$?
expect_eq "--count 3: exit 0" "$rc" 0
expect_eq "--count 3: three ids on stdout" "$(grep -cE '^[0-9a-f-]{36}$' <<<"$out")" 3
expect_eq "--count 3: three in the list" "$($R llen inputs.num)" 3

out=$(q dlq list redis:inputs.num --limit 1e3 2>&1); rc=$?
expect_eq "dlq --limit 1e3: exit 2" "$rc" 2
expect_match "dlq --limit 1e3: names flag and value" "$out" "--limit wants a whole number from 0 to [0-9]+, got '1e3'"
out=$("$QDECK" --redis "$REDIS_URL" -n 1e2 2>&1); rc=$?
expect_eq "--iterations 1e2: exit 2" "$rc" 2
expect_match "--iterations 1e2: names flag and value" "$out" "--iterations wants a whole number .*, got '1e2'"
out=$(q worker --concurrency 8x 2>&1); rc=$?
expect_eq "worker --concurrency 8x: exit 2" "$rc" 2
expect_match "worker --concurrency 8x: names flag and value" "$out" "--concurrency wants a whole number from 1 to 4096, got '8x'"
printf '[worker]\nconcurrency = 1e3\n[context c]\nredis = %s\n' "$REDIS_URL" > "$T/badnum.conf"
out=$("$QDECK" --config "$T/badnum.conf" status 2>&1); rc=$?
expect_eq "config concurrency = 1e3: exit 2" "$rc" 2
expect_match "config concurrency = 1e3: file, key and value" "$out" "badnum.conf:2: .*concurrency.*'1e3' is not a whole number"

# ---------------------------------------------------------------- publish to a missing queue
"$TOOLS/amqp-fill" "$AMQP_URL" delete inputs.missing >/dev/null 2>&1
out=$(q publish amqp:inputs.missing --type t 2>&1); rc=$?
expect_eq "publish to a missing queue: exit 1" "$rc" 1
expect_match "publish to a missing queue: names --declare" "$out" 'amqp:inputs\.missing does not exist; publish with --declare'
rabbit_api GET queues/%2F/inputs.missing >/dev/null; rc=$?
expect_eq "publish to a missing queue: it is still missing (management API 404)" "$rc" 22
json=$(q publish amqp:inputs.missing --type t --count 2 --declare --json 2>/dev/null); rc=$?
expect_eq "publish --declare: exit 0" "$rc" 0
expect_eq "publish --declare --json: one object with counts" \
  "$(jq -r '"\(.queue) \(.requested) \(.published) \(.confirmed) \(.declared) \(.ok) \(.ids | length)"' <<<"$json")" \
  "amqp:inputs.missing 2 2 2 true true 2"
expect_eq "publish --declare: the messages are there" "$(depth inputs.missing)" 2
q_info=$(rabbit_api GET queues/%2F/inputs.missing)
expect_eq "publish --declare: durable, dead letters through qdeck.dlx as the worker declares it" \
  "$(jq -r '"\(.durable) \(.arguments["x-dead-letter-exchange"]) \(.arguments["x-dead-letter-routing-key"])"' <<<"$q_info")" \
  "true qdeck.dlx inputs.missing"
out=$(q publish amqp:inputs.missing --type t 2>&1); rc=$?
expect_eq "publish to the now existing queue without --declare: exit 0" "$rc" 0

# ---------------------------------------------------------------- SIGINT: summary matches the broker
"$QDECK" --config "$T/qdeck.conf" publish amqp:inputs.missing --type t --count 2000000 --yes >"$T/sig.ids" 2>"$T/sig.err" &
pub=$!
check "publish under way" wait_for 30 bash -c "[ \"\$(wc -l < '$T/sig.ids')\" -gt 1000 ]"
kill -INT "$pub"
wait "$pub"; rc=$?
expect_eq "SIGINT: exit 130" "$rc" 130
err=$(cat "$T/sig.err")
expect_match "SIGINT: summary 'published N of M'" "$err" '^qdeck: Interrupt: published [0-9]+ of 2000000 to amqp:inputs\.missing \([0-9]+ confirmed\); stopped$'
sent=$(sed -nE 's/.*published ([0-9]+) of.*/\1/p' <<<"$err")
confirmed=$(sed -nE 's/.*\(([0-9]+) confirmed\).*/\1/p' <<<"$err")
expect_eq "SIGINT: everything sent was confirmed" "$confirmed" "$sent"
expect_eq "SIGINT: one id printed per message sent" "$(wc -l < "$T/sig.ids")" "$sent"
expect_eq "SIGINT: the queue holds exactly what was reported (+2 from before, +1)" "$(depth inputs.missing)" $((sent + 3))

# ---------------------------------------------------------------- URLs of the wrong kind
out=$("$QDECK" --amqp "http://qdeck:s3cret-pw@127.0.0.1:$RABBIT_MGMT_PORT/" publish amqp:x --type t 2>&1); rc=$?
expect_eq "http:// as the AMQP URL: exit 2" "$rc" 2
expect_match "http:// as the AMQP URL: says so" "$out" 'AMQP URL \(--amqp\) http://qdeck:\*\*\*@.* must be amqp:// or amqps://, not http://'
check "http:// as the AMQP URL: password not shown" bash -c "! grep -q s3cret-pw <<<'$out'"
out=$("$QDECK" --mgmt "$AMQP_URL" status 2>&1); rc=$?
expect_eq "amqp:// as the management URL: exit 2" "$rc" 2
expect_match "amqp:// as the management URL: says so" "$out" 'must be http:// or https://, not amqp://'

out=$("$QDECK" --amqp "amqp://qdeck:s3cret-pw@127.0.0.1:$REDIS_PORT/%2F" publish amqp:x --type t 2>&1); rc=$?
# timed with the plain build: the sanitizers' start-up is not the product's
t0=${EPOCHREALTIME/./}
"$QDECK_PLAIN" --amqp "amqp://qdeck:s3cret-pw@127.0.0.1:$REDIS_PORT/%2F" publish amqp:x --type t >/dev/null 2>&1
ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
expect_eq "Redis port as AMQP: exit 3" "$rc" 3
expect_match "Redis port as AMQP: the peer does not speak AMQP" "$out" "^qdeck: the peer at 127\.0\.0\.1:$REDIS_PORT does not speak AMQP"
expect_nomatch "Redis port as AMQP: not called a refused login" "$out" 'refused the login'
check "Redis port as AMQP: said within 2 s (took ${ms} ms)" test "$ms" -lt 2000
out=$("$QDECK" --amqp "amqp://qdeck:s3cret-pw@127.0.0.1:$REDIS_PORT/%2F" dlq list amqp:x.dlq 2>&1); rc=$?
expect_eq "Redis port as AMQP for dlq: exit 3" "$rc" 3
expect_match "Redis port as AMQP for dlq: does not speak AMQP" "$out" 'does not speak AMQP'
out=$("$QDECK" --amqp "amqp://qdeck:wrong-pw@127.0.0.1:$RABBIT_AMQP_PORT/%2F" publish amqp:x --type t 2>&1); rc=$?
expect_eq "wrong password: exit 3" "$rc" 3
expect_match "wrong password: still a refused login" "$out" 'RabbitMQ at amqp://qdeck:\*\*\*@.* refused the login \(wrong user or password\)'

# ---------------------------------------------------------------- --help everywhere
commands=$("$QDECK" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ && on { on = 0 }')
expect_match "the command table is listed" "$commands" '^dlq$'
for cmd in $commands; do
  for flag in --help -h; do
    out=$("$QDECK" "$cmd" $flag 2>"$T/help.err"); rc=$?
    expect_eq "$cmd $flag: exit 0" "$rc" 0
    expect_match "$cmd $flag: usage on stdout" "$out" "^usage: qdeck $cmd"
    expect_eq "$cmd $flag: nothing on stderr" "$(cat "$T/help.err")" ""
  done
done
for sub in "dlq list" "dlq replay" "dlq export" "policy set" "breaker open" "sched run" "publish amqp:x"; do
  out=$("$QDECK" $sub --help 2>&1); rc=$?
  expect_eq "$sub --help: exit 0" "$rc" 0
  expect_match "$sub --help: usage" "$out" "^usage: qdeck ${sub%% *}"
done

# ---------------------------------------------------------------- pipes, stdout and stderr
q publish redis:inputs.exp:dlq --type t --count 3000 >/dev/null 2>&1
first=$(q dlq export redis:inputs.exp:dlq 2>"$T/export.err" | head -1); rc=${PIPESTATUS[0]}
expect_eq "dlq export | head -1: exit 0" "$rc" 0
expect_eq "dlq export | head -1: no error text" "$(cat "$T/export.err")" ""
expect_eq "dlq export | head -1: one JSON line" "$(jq -r .queue <<<"$first")" "redis:inputs.exp:dlq"
out=$(q dlq export redis:inputs.exp:dlq 2>"$T/export.err" | wc -l)
expect_eq "dlq export to the end still writes every line" "$out" 3000
expect_match "dlq export to the end: summary on stderr" "$(cat "$T/export.err")" '^exported 3000 messages'

out=$(q dlq list redis:inputs.exp:dlq --limit 5 2>"$T/list.err"); rc=$?
expect_eq "dlq list: exit 0" "$rc" 0
expect_eq "dlq list: stdout is the header and 5 rows" "$(wc -l <<<"$out")" 6
expect_nomatch "dlq list: no summary on stdout" "$out" 'messages?, [0-9]+ shown'
expect_match "dlq list: summary on stderr" "$(cat "$T/list.err")" '^redis:inputs\.exp:dlq: 3000 messages, 5 shown$'
out=$(q status 2>"$T/status.err"); rc=$?
expect_eq "status: exit 0" "$rc" 0
expect_match "status: stdout is the queue table" "$out" '^QUEUE +READY'
expect_nomatch "status: no source health lines on stdout" "$out" '^(rabbitmq|redis) '
expect_match "status: source health on stderr" "$(cat "$T/status.err")" '^redis redis://127\.0\.0\.1:[0-9]+/  ok'

# ---------------------------------------------------------------- phantom names
out=$(q breaker open nosuchdep 2>&1); rc=$?
expect_eq "breaker open nosuchdep: exit 2" "$rc" 2
expect_match "breaker open nosuchdep: names --force" "$out" "knows dependency 'nosuchdep'.*--force"
expect_eq "breaker open nosuchdep: no row" "$($R hexists qdeck:breaker nosuchdep)" 0
out=$(q breaker open known-dep 2>&1); rc=$?
expect_eq "breaker open on a [dependency] of the config: exit 0" "$rc" 0
json=$(q breaker open nosuchdep --force --json 2>"$T/force.err"); rc=$?
expect_eq "breaker open nosuchdep --force: exit 0" "$rc" 0
expect_match "breaker open --force: warns" "$(cat "$T/force.err")" "warning: .*nosuchdep.*--force"
expect_eq "breaker open --json: one result object" "$(jq -r '"\(.action) \(.target) \(.command) \(.ok)"' <<<"$json")" \
  "breaker.open nosuchdep open true"
expect_eq "breaker open --force: row written" "$($R hget qdeck:breaker nosuchdep)" open
out=$(q breaker reset nosuchdep 2>&1); rc=$?
expect_eq "a name with a row is known: reset needs no --force" "$rc" 0
json=$(q breaker forget nosuchdep --json); rc=$?
expect_eq "breaker forget: exit 0" "$rc" 0
expect_eq "breaker forget --json" "$(jq -r '"\(.action) \(.target) \(.was) \(.ok)"' <<<"$json")" "breaker.forget nosuchdep reset true"
expect_eq "breaker forget: row gone" "$($R hexists qdeck:breaker nosuchdep)" 0
expect_eq "breaker forget: audited" \
  "$(jq -rs 'map(select(.action == "breaker.forget"))[0] | "\(.target) \(.old) \(.new) \(.result)"' "$audit")" \
  "nosuchdep reset none ok"

out=$(q policy set queue.nope.paused true 2>&1); rc=$?
expect_eq "policy set queue.nope.paused: exit 2" "$rc" 2
expect_match "policy set queue.nope.paused: names --force" "$out" "knows queue 'nope'.*--force"
expect_eq "policy set queue.nope.paused: no row" "$($R hexists qdeck:policy queue.nope.paused)" 0
out=$(q policy set queue.inputs.missing.max_depth 100 2>&1); rc=$?
expect_eq "policy on a queue RabbitMQ has: exit 0" "$rc" 0
out=$(q policy set queue.redis:inputs.num.paused true 2>&1); rc=$?
expect_eq "policy on a list Redis has: exit 0" "$rc" 0
out=$(q policy set dep.nosuchdep.rate 5 2>&1); rc=$?
expect_eq "policy set dep.nosuchdep.rate: exit 2" "$rc" 2
json=$(q policy set queue.nope.paused true --force --json 2>/dev/null); rc=$?
expect_eq "policy set --force: exit 0" "$rc" 0
expect_eq "policy set --json: one result object" "$(jq -r '"\(.action) \(.target) \(.value) \(.was) \(.ok)"' <<<"$json")" \
  "policy.set queue.nope.paused true false true"
json=$(q policy unset queue.nope.paused --json); rc=$?
expect_eq "policy unset: exit 0" "$rc" 0
expect_eq "policy unset --json" "$(jq -r '"\(.action) \(.target) \(.value) \(.was) \(.was_set)"' <<<"$json")" \
  "policy.unset queue.nope.paused false true true"
expect_eq "policy unset: row and meta gone" \
  "$($R hexists qdeck:policy queue.nope.paused) $($R hexists qdeck:policy:meta queue.nope.paused)" "0 0"
expect_eq "policy unset: audited with old and new" \
  "$(jq -rs 'map(select(.action == "policy.unset"))[0] | "\(.target) \(.old) \(.new) \(.result)"' "$audit")" \
  "queue.nope.paused true false ok"
out=$(q --read-only policy unset shed.auto 2>&1); rc=$?
expect_eq "policy unset under --read-only: refused, exit 1" "$rc" 1
out=$(q --read-only breaker forget known-dep 2>&1); rc=$?
expect_eq "breaker forget under --read-only: refused, exit 1" "$rc" 1
expect_eq "breaker forget under --read-only: row kept" "$($R hget qdeck:breaker known-dep)" open

# ---------------------------------------------------------------- --json on the other mutating commands
json=$(q sched pause tick --json); rc=$?
expect_eq "sched pause --json: exit 0" "$rc" 0
expect_eq "sched pause --json: one result object" "$(jq -r '"\(.action) \(.target) \(.ok) \(.result)"' <<<"$json")" \
  "sched.pause tick true paused tick"
json=$(q sched resume tick --json); rc=$?
expect_eq "sched resume --json" "$(jq -r '"\(.action) \(.ok)"' <<<"$json")" "sched.resume true"
json=$(q dlq purge redis:inputs.exp:dlq --all --yes --json); rc=$?
expect_eq "dlq purge --json: exit 0" "$rc" 0
expect_eq "dlq purge --json: one result object" "$(jq -r '"\(.action) \(.target) \(.purged) \(.ok)"' <<<"$json")" \
  "dlq.purge redis:inputs.exp:dlq 3000 true"
printf '%s\n' "$first" > "$T/one.jsonl"
json=$(q dlq import "$T/one.jsonl" --json); rc=$?
expect_eq "dlq import --json: exit 0" "$rc" 0
expect_eq "dlq import --json: one result object" "$(jq -r '"\(.action) \(.imported) \(.failed) \(.ok)"' <<<"$json")" \
  "dlq.import 1 0 true"
json=$(q publish redis:inputs.num --type t --json 2>/dev/null); rc=$?
expect_eq "publish to Redis --json" "$(jq -r '"\(.queue) \(.published) \(.ok)"' <<<"$json")" "redis:inputs.num 1 true"

finish
