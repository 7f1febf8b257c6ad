#!/usr/bin/env bash
# `qdeck dlq` against a real RabbitMQ: messages the broker dead-lettered
# itself (x-death) and messages carrying qdeck's own headers; browsing
# 1,000 of them leaves the same 1,000 in the same order with the same
# headers; replay by id / grep / all through the default exchange (no copy
# to queues bound elsewhere), with returns reported; --set edits;
# export → purge → import byte-exact (binary body included); read-only
# refusals and the audit trail.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"

fill() { "$TOOLS/amqp-fill" "$AMQP_URL" "$@" >/dev/null; }
depth() { "$TOOLS/amqp-fill" "$AMQP_URL" depth "$1" | cut -d' ' -f1; }
depth_is() { [ "$(depth "$1")" = "$2" ]; }
Q=("$QDECK" --amqp "$AMQP_URL" --redis "$REDIS_URL")
# publish ROUTING_KEY JSON_PROPERTIES PAYLOAD [ENCODING]: through the management API
publish() {
  rabbit_api POST 'exchanges/%2F/amq.default/publish' \
    "$(jq -nc --arg rk "$1" --argjson p "$2" --arg pl "$3" --arg enc "${4:-string}" \
       '{routing_key: $rk, properties: $p, payload: $pl, payload_encoding: $enc}')" | grep -q '"routed":true'
}

fill declare orders.dlq
fill declare orders --dlx "" --dlrk orders.dlq
fill publish orders 1000
check "1,000 messages dead-lettered by the broker" "$TOOLS/dlq-reject" "$AMQP_URL" orders 1000
check "DLQ holds 1,000" wait_for 20 depth_is orders.dlq 1000

# ---- browsing changes nothing
check "export before browsing" "${Q[@]}" dlq export amqp:orders.dlq --out before.jsonl
list=$("${Q[@]}" dlq list amqp:orders.dlq --limit 300); rc=$?
expect_eq "list exits 0" "$rc" 0
expect_eq "list --limit 300 shows 300 rows" "$(grep -c ' rejected ' <<<"$list")" 300
expect_match "list: reason and original queue decoded from x-death" "$list" '^0 +sha:[0-9a-f]+ +- +rejected +1 .* orders'
json=$("${Q[@]}" dlq list amqp:orders.dlq --grep '"n":777' --json)
expect_eq "grep scans the whole DLQ: one match" "$(jq '.messages | length' <<<"$json")" 1
expect_eq "grep match is message 777 (position 777)" "$(jq '.messages[0].position' <<<"$json")" 777
expect_eq "--json total" "$(jq .total <<<"$json")" 1000
id=$(jq -r '.messages[0].id' <<<"$json")
show=$("${Q[@]}" dlq show amqp:orders.dlq "$id" --json)
expect_eq "show: x-death count" "$(jq '.headers["x-death"][0].count' <<<"$show")" 1
expect_eq "show: body" "$(jq -r .body <<<"$show" | tr -d ' ')" '{"n":777}'
expect_eq "show: death count" "$(jq .deaths <<<"$show")" 1
check "show text: has the body" bash -c "'${Q[0]}' --amqp '$AMQP_URL' dlq show amqp:orders.dlq '$id' | grep -q '\"n\":.777'"
check "export after browsing" "${Q[@]}" dlq export amqp:orders.dlq --out after.jsonl
expect_eq "browsing left 1,000" "$(depth orders.dlq)" 1000
check "same 1,000 messages, same order, same headers (exports identical)" cmp before.jsonl after.jsonl
expect_eq "export has 1,000 lines" "$(wc -l < before.jsonl)" 1000
expect_eq "export keeps x-death" "$(head -1 before.jsonl | jq -r '.headers["x-death"][0].reason')" rejected

# ---- replay one by id: to the original queue, through the default exchange
rabbit_api PUT 'exchanges/%2F/fan' '{"type":"fanout","durable":true}' >/dev/null
fill declare sibling
rabbit_api POST 'bindings/%2F/e/fan/q/orders' '{"routing_key":""}' >/dev/null
rabbit_api POST 'bindings/%2F/e/fan/q/sibling' '{"routing_key":""}' >/dev/null
out=$("${Q[@]}" dlq replay amqp:orders.dlq --id "$id"); rc=$?
expect_eq "replay --id exits 0" "$rc" 0
expect_match "replay tally" "$out" '^moved 1, failed 0, skipped 0$'
expect_eq "target grew by one" "$(depth orders)" 1
expect_eq "DLQ shrank by one" "$(depth orders.dlq)" 999
expect_eq "sibling bound to another exchange got no copy" "$(depth sibling)" 0
replayed=$("${Q[@]}" dlq list amqp:orders --json)
expect_eq "replayed message carries x-qdeck-replays=1" \
  "$("${Q[@]}" dlq show amqp:orders "$id" --json | jq '.headers["x-qdeck-replays"]')" 1
expect_eq "replayed message keeps its body" "$(jq -r '.messages[0].id' <<<"$replayed")" "$id"

# ---- a target that does not exist: returned, DLQ copy stays, reported
out=$("${Q[@]}" dlq replay amqp:orders.dlq --grep '"n":5}' --to no-such-queue 2>&1); rc=$?
expect_eq "returned message: exit 1" "$rc" 1
expect_match "returned message: reported" "$out" 'NO_ROUTE'
expect_match "returned message: tally says failed" "$out" 'moved 0, failed 1, skipped 0'
expect_eq "returned message: DLQ copy kept" "$(depth orders.dlq)" 999

# ---- more returns than channel numbers: a DLQ of 2,100 replayed to a
# queue that does not exist asks once per batch whether the queue exists
# (a passive declare on a one-shot channel), never once per message: one
# per message wrapped the channel numbers onto the replay's own open
# channels ("second 'channel.open' seen") and lost the connection
fill declare big.dlq
fill publish big.dlq 2100
check "2,100 in big.dlq" wait_for 20 depth_is big.dlq 2100
out=$("${Q[@]}" dlq replay amqp:big.dlq --all --to no-such-queue 2>/dev/null); rc=$?
expect_eq "2,100 returned: exit 1 (failures), not a lost connection" "$rc" 1
expect_match "2,100 returned: all failed, none moved" "$out" '^moved 0, failed 2100, skipped 0'
expect_eq "2,100 returned: every DLQ copy kept" "$(depth big.dlq)" 2100

# ---- dry run and --limit
out=$("${Q[@]}" dlq replay amqp:orders.dlq --all --limit 3 --dry-run); rc=$?
expect_eq "dry run exits 0" "$rc" 0
expect_eq "dry run lists what would move" "$(grep -c '^would move .* -> orders$' <<<"$out")" 3
expect_eq "dry run moves nothing" "$(depth orders.dlq)" 999
out=$("${Q[@]}" dlq replay amqp:orders.dlq --all --limit 10 --rate 100)
expect_match "replay --limit 10 --rate 100" "$out" '^moved 10, failed 0, skipped 0$'
expect_eq "target has 11" "$(depth orders)" 11
"${Q[@]}" dlq export amqp:orders.dlq --out rest.jsonl 2>/dev/null
expect_eq "the rest kept their order (first is now message 10)" \
  "$(head -1 rest.jsonl | jq -r .body_base64 | base64 -d | tr -d ' ')" '{"n":10}'

# ---- qdeck's own dead messages: headers and envelope
fill declare payments
fill declare mixed.dlq
publish mixed.dlq '{"message_id":"task-42","delivery_mode":2,"content_type":"application/json","headers":{"x-qdeck-reason":"poison","x-qdeck-attempts":5,"x-qdeck-error":"ValueError: bad input","x-qdeck-original-queue":"payments"}}' \
  '{"id":"task-42","type":"charge","payload":{"amount":10},"attempt":5,"max_attempts":5,"priority":1,"created_at":"2026-01-01T00:00:00Z","idempotency_key":"k42","deadline":null}'
publish mixed.dlq '{"message_id":"bin-1","headers":{"x-qdeck-original-queue":"payments"}}' "$(printf 'AAEC/4BiaW5hcnk=')" base64
publish mixed.dlq '{"message_id":"text-1","headers":{"x-qdeck-original-queue":"payments"}}' 'plain text, not JSON'
redis-cli -p "$REDIS_PORT" hset qdeck:task:task-42 status FAILED error "ValueError: bad input" attempt 5 >/dev/null
json=$("${Q[@]}" dlq list amqp:mixed.dlq --json)
expect_eq "qdeck reason" "$(jq -r '.messages[0].reason' <<<"$json")" poison
expect_eq "qdeck attempts" "$(jq -r '.messages[0].attempts' <<<"$json")" 5
expect_eq "qdeck original queue" "$(jq -r '.messages[0].original_queue' <<<"$json")" payments
expect_eq "qdeck task type from the envelope" "$(jq -r '.messages[0].type' <<<"$json")" charge
expect_eq "last error" "$(jq -r '.messages[0].last_error' <<<"$json")" "ValueError: bad input"
expect_eq "binary body listed, not dropped" "$(jq -r '.messages[1].format' <<<"$json")" binary
show=$("${Q[@]}" dlq show amqp:mixed.dlq task-42 --json)
expect_eq "result store record shown" "$(jq -r .result.status <<<"$show")" FAILED
text=$("${Q[@]}" dlq show amqp:mixed.dlq bin-1)
expect_match "binary body as a hex dump" "$text" '00000000  00 01 02 ff 80 62 69 6e'

check "export mixed" "${Q[@]}" dlq export amqp:mixed.dlq --out mixed1.jsonl
out=$("${Q[@]}" dlq replay amqp:mixed.dlq --id text-1 --set payload.x=1 2>&1); rc=$?
expect_eq "--set on a non-JSON body refused" "$rc" 1
expect_match "--set refusal says why" "$out" 'not JSON'
out=$("${Q[@]}" dlq replay amqp:mixed.dlq --id task-42 --set payload.amount=12 --set header:x-ticket=OPS-7); rc=$?
expect_eq "replay with --set exits 0" "$rc" 0
show=$("${Q[@]}" dlq show amqp:payments task-42 --json)
expect_eq "--set payload.amount applied" "$(jq -r .body <<<"$show" | jq .payload.amount)" 12
expect_eq "attempt restarted in the envelope" "$(jq -r .body <<<"$show" | jq .attempt)" 0
expect_eq "x-qdeck-attempts restarted" "$(jq '.headers["x-qdeck-attempts"]' <<<"$show")" 0
expect_eq "--set header applied" "$(jq -r '.headers["x-ticket"]' <<<"$show")" OPS-7
expect_eq "other properties kept (message_id)" "$(jq -r .properties.message_id <<<"$show")" task-42
check "replay text and binary" "${Q[@]}" dlq replay amqp:mixed.dlq --all
expect_eq "binary and text bodies replayed too" "$(depth payments)" 3
show=$("${Q[@]}" dlq show amqp:payments bin-1 --json)
expect_eq "binary body replayed byte for byte" "$(jq -r .body_base64 <<<"$show")" 'AAEC/4BiaW5hcnk='

# ---- export → purge → import, byte-exact
check "import the mixed export back" "${Q[@]}" dlq import mixed1.jsonl
check "export of the imported" "${Q[@]}" dlq export amqp:mixed.dlq --out mixed2.jsonl
check "mixed: import restores byte-exact" cmp mixed1.jsonl mixed2.jsonl
out=$("${Q[@]}" dlq purge amqp:orders.dlq --all 2>&1); rc=$?
expect_eq "purge without --yes: usage error" "$rc" 2
out=$("${Q[@]}" dlq purge amqp:orders.dlq --all --yes); rc=$?
expect_eq "purge --all exits 0" "$rc" 0
expect_match "purge says how many" "$out" '^purged 989$'
expect_eq "DLQ empty after purge" "$(depth orders.dlq)" 0
out=$("${Q[@]}" dlq import rest.jsonl); rc=$?
expect_eq "import exits 0" "$rc" 0
expect_match "import tally" "$out" '^imported 989, failed 0$'
"${Q[@]}" dlq export amqp:orders.dlq --out restored.jsonl 2>/dev/null
check "export → purge → import → export is byte-exact" cmp rest.jsonl restored.jsonl
first=$(head -1 restored.jsonl | jq -r .id)
check "purge one by id" "${Q[@]}" dlq purge amqp:orders.dlq --id "$first" --yes
expect_eq "purge --id removed one" "$(depth orders.dlq)" 988

# ---- read-only and the audit trail
audit=$HOME/.local/state/qdeck/audit.jsonl
out=$("${Q[@]}" --read-only dlq replay amqp:orders.dlq --all 2>&1); rc=$?
expect_eq "read-only replay: exit 1" "$rc" 1
expect_match "read-only replay: clear message" "$out" 'refused: read-only'
out=$("${Q[@]}" --read-only dlq purge amqp:orders.dlq --all --yes 2>&1); rc=$?
expect_eq "read-only purge: exit 1" "$rc" 1
out=$("${Q[@]}" --read-only dlq import rest.jsonl 2>&1); rc=$?
expect_eq "read-only import: exit 1" "$rc" 1
expect_eq "nothing changed under read-only" "$(depth orders.dlq)" 988
printf '[context ro]\namqp = %s\nread_only = true\n' "$AMQP_URL" > ro.conf; chmod 600 ro.conf
out=$("$QDECK" --config ro.conf dlq replay amqp:orders.dlq --all 2>&1); rc=$?
expect_eq "read_only context: exit 1" "$rc" 1
check "read-only still lists" "$QDECK" --config ro.conf dlq list amqp:orders.dlq --limit 1
expect_eq "audit: refusals recorded" "$(jq -r 'select(.result == "refused: read-only") | .action' "$audit" | sort | uniq -c | awk '{print $2 "=" $1}' | paste -sd' ')" \
  "dlq.import=1 dlq.purge=1 dlq.replay=2"
expect_match "audit: a replay with who, what, how many, result" \
  "$(jq -c 'select(.action == "dlq.replay" and .result == "moved 10, failed 0, skipped 0")' "$audit")" \
  '"user":"[^"]+".*"target":"amqp:orders.dlq".*"new":"--all --limit 10"'
expect_match "audit: purge recorded" "$(jq -r 'select(.action == "dlq.purge") | .result' "$audit")" 'purged 989'
expect_match "audit: delete by id recorded" "$(jq -r 'select(.action == "dlq.delete") | .result' "$audit")" 'purged 1'
expect_match "audit: import recorded" "$(jq -r 'select(.action == "dlq.import") | .result' "$audit")" 'imported 989'
expect_match "audit also on the qdeck:audit stream" "$(redis-cli -p "$REDIS_PORT" xrange qdeck:audit - + | grep -c dlq.replay)" '^[1-9]'
check "no password in the audit log" bash -c "! grep -q s3cret-pw '$audit'"

# ---- errors
out=$("${Q[@]}" dlq list amqp:no-such.dlq 2>&1); rc=$?
expect_eq "missing queue: exit 1" "$rc" 1
expect_match "missing queue: named" "$out" 'no-such.dlq.*NOT_FOUND'
out=$("$QDECK" --amqp amqp://qdeck:s3cret-pw@127.0.0.1:1/%2F dlq list amqp:x 2>&1); rc=$?
expect_eq "unreachable broker: exit 3" "$rc" 3
check "unreachable: password not shown" bash -c "! grep -q s3cret-pw <<<'$out'"
out=$("${Q[@]}" dlq replay amqp:orders.dlq 2>&1); rc=$?
expect_eq "replay without a selection: exit 2" "$rc" 2

finish
