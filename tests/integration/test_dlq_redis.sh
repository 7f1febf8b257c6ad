#!/usr/bin/env bash
# `qdeck dlq` on Redis: a list DLQ (<key>:dlq) with qdeck envelopes, a
# Celery-style JSON item and a binary item; a stream DLQ. Paged reads leave
# the DLQ untouched; replay moves atomically to the original key with the
# attempt restarted and the replay counted; --set edits; export → purge →
# import byte-exact for both; the result-store record is shown.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

R=(redis-cli -p "$REDIS_PORT")
Q=("$QDECK" --redis "$REDIS_URL")
env_item() { printf '{"id":"t%s","type":"email","payload":{"to":"u%s"},"attempt":5,"max_attempts":5,"priority":0,"created_at":"2026-11-25T06:00:00Z","idempotency_key":"k%s","deadline":null,"dead_reason":"%s","last_error":"SMTP 550 for u%s"}' "$1" "$1" "$1" "$2" "$1"; }

# ---- list DLQ: 1,200 items (more than two pages), oldest at the tail
for i in $(seq 1 1200); do env_item "$i" failed; printf '\0'; done | xargs -0 "${R[@]}" lpush jobs:dlq >/dev/null
printf 'raw\x00\xff\xfe' | "${R[@]}" -x lpush jobs:dlq >/dev/null
"${R[@]}" hset qdeck:task:t7 status FAILED error "SMTP 550 for u7" attempt 5 >/dev/null
expect_eq "1,201 items" "$("${R[@]}" llen jobs:dlq)" 1201

json=$("${Q[@]}" dlq list redis:jobs:dlq --limit 3 --json)
expect_eq "oldest first: t1" "$(jq -r '.messages[0].id' <<<"$json")" t1
expect_eq "reason from the envelope" "$(jq -r '.messages[0].reason' <<<"$json")" failed
expect_eq "original queue from the key" "$(jq -r '.messages[0].original_queue' <<<"$json")" jobs
expect_eq "attempts" "$(jq -r '.messages[0].attempts' <<<"$json")" 5
expect_eq "last error" "$(jq -r '.messages[0].last_error' <<<"$json")" "SMTP 550 for u1"
json=$("${Q[@]}" dlq list redis:jobs:dlq --grep 'u1150"' --json)
expect_eq "grep across pages" "$(jq -r '.messages[0].id' <<<"$json")" t1150
json=$("${Q[@]}" dlq list redis:jobs:dlq --grep 'raw' --json)
expect_eq "binary item listed" "$(jq -r '.messages[0].format' <<<"$json")" binary
expect_eq "result store" "$("${Q[@]}" dlq show redis:jobs:dlq t7 --json | jq -r .result.status)" FAILED

check "export" "${Q[@]}" dlq export redis:jobs:dlq --out l1.jsonl
"${Q[@]}" dlq list redis:jobs:dlq --limit 0 >/dev/null
check "export after browsing" "${Q[@]}" dlq export redis:jobs:dlq --out l2.jsonl
check "browsing changed nothing" cmp l1.jsonl l2.jsonl

out=$("${Q[@]}" dlq replay redis:jobs:dlq --id t2 t3 --set payload.to=fixed@example.com); rc=$?
expect_eq "replay by id: exit 0" "$rc" 0
expect_match "replay tally" "$out" '^moved 2, failed 0, skipped 0$'
expect_eq "target got two" "$("${R[@]}" llen jobs)" 2
expect_eq "DLQ lost two" "$("${R[@]}" llen jobs:dlq)" 1199
item=$("${R[@]}" lindex jobs 0)
expect_eq "attempt restarted" "$(jq .attempt <<<"$item")" 0
expect_eq "replay counted" "$(jq .replays <<<"$item")" 1
expect_eq "--set applied" "$(jq -r .payload.to <<<"$item")" fixed@example.com
out=$("${Q[@]}" dlq replay redis:jobs:dlq --grep raw --set header:x=1 2>&1); rc=$?
expect_eq "--set header on a list item: refused" "$rc" 1
out=$("${Q[@]}" dlq replay redis:jobs:dlq --all --limit 100 --to jobs2); rc=$?
expect_match "--to and --limit" "$out" '^moved 100, failed 0, skipped 0$'
expect_eq "--to target" "$("${R[@]}" llen jobs2)" 100
expect_eq "--to target keeps order (oldest first out)" "$("${R[@]}" lindex jobs2 -1 | jq -r .id)" t1

check "export the rest" "${Q[@]}" dlq export redis:jobs:dlq --out rest.jsonl
out=$("${Q[@]}" dlq purge redis:jobs:dlq --all --yes)
expect_match "purge" "$out" '^purged 1099$'
expect_eq "purged" "$("${R[@]}" exists jobs:dlq)" 0
check "import" "${Q[@]}" dlq import rest.jsonl
check "export again" "${Q[@]}" dlq export redis:jobs:dlq --out rest2.jsonl
check "list: export → purge → import byte-exact (binary item included)" cmp rest.jsonl rest2.jsonl

# ---- stream DLQ
for i in 1 2 3 4; do "${R[@]}" xadd ev:dlq "$i-1" envelope "$(env_item "$i" poison | sed 's/"id":"t/"id":"s/')" error "bad image $i" >/dev/null; done
json=$("${Q[@]}" dlq list stream:ev:dlq --json)
expect_eq "stream: 4 listed" "$(jq '.messages | length' <<<"$json")" 4
expect_eq "stream: id from the envelope" "$(jq -r '.messages[1].id' <<<"$json")" s2
expect_eq "stream: reason" "$(jq -r '.messages[1].reason' <<<"$json")" poison
expect_eq "stream: original stream" "$(jq -r '.messages[1].original_queue' <<<"$json")" ev
check "stream export" "${Q[@]}" dlq export stream:ev:dlq --out s1.jsonl
out=$("${Q[@]}" dlq replay stream:ev:dlq --id 2-1)
expect_match "stream: replay by entry id" "$out" '^moved 1, failed 0, skipped 0$'
expect_eq "stream: target got it" "$("${R[@]}" xlen ev)" 1
expect_eq "stream: DLQ lost it" "$("${R[@]}" xlen ev:dlq)" 3
expect_eq "stream: attempt restarted" "$("${R[@]}" xrange ev - + | sed -n 3p | jq .attempt)" 0
check "stream: purge" "${Q[@]}" dlq purge stream:ev:dlq --all --yes
check "stream: import" "${Q[@]}" dlq import s1.jsonl
check "stream: export again" "${Q[@]}" dlq export stream:ev:dlq --out s2.jsonl
check "stream: export → purge → import byte-exact (same entry IDs)" cmp s1.jsonl s2.jsonl

out=$("${Q[@]}" dlq list redis:ev:dlq 2>&1); rc=$?
expect_eq "a stream addressed as a list: refused" "$rc" 2
expect_match "says what the key is" "$out" 'is a stream, not a list'

# what qdeck worker dead-letters when a body is not JSON: a wrapper naming
# the original queue by its address, the bytes in raw_base64. The replay
# sends the original bytes back to the original list.
"${R[@]}" del work work:dlq >/dev/null
"${R[@]}" rpush work:dlq "{\"dead_reason\":\"poison\",\"last_error\":\"not JSON\",\"attempt\":0,\"original_queue\":\"redis:work\",\"raw_base64\":\"$(printf 'not json\001\377' | base64)\"}" >/dev/null
out=$("${Q[@]}" dlq replay redis:work:dlq --all)
expect_match "wrapped poison: replayed" "$out" '^moved 1, failed 0, skipped 0$'
expect_eq "to the list named by the address, not a key called redis:work" "$("${R[@]}" exists redis:work)" 0
hex() { od -An -tx1 | tr -d ' \n'; }
expect_eq "the original bytes, unwrapped" "$("${R[@]}" --raw lrange work 0 0 | head -c -1 | hex)" \
  "$(printf 'not json\001\377' | hex)"
finish
