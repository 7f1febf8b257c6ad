#!/usr/bin/env bash
# The bulkhead through a real worker: 8 slots, but [dependency slow]
# max_concurrent = 2 in front of an upstream that takes 300 ms. Tasks that
# find both places taken wait in the worker for one to free up instead of
# bouncing through the delayed set, so
#   - the upstream never sees more than 2 calls at once;
#   - all 24 tasks complete, none retried or dead-lettered;
#   - no task went the retry way, not even once (the worker logs every
#     retry it decides: "retry in").
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

T=$QDECK_TEST_TMP/bulkhead
mkdir -p "$T"
"$TOOLS/slow-upstream" 300 > "$T/upstream.out" 2> "$T/upstream.err" &
upstream=$!
wpid=
cleanup() { [ -z "$wpid" ] || kill "$wpid" 2>/dev/null; kill "$upstream" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT
wait_for 10 grep -q '^port ' "$T/upstream.out"
port=$(awk '/^port / { print $2 }' "$T/upstream.out")

cat > "$T/qdeck.conf" <<CONF
[context t]
redis = $REDIS_URL
[worker]
queues = redis:bh
concurrency = 8
prefetch = 24
max_attempts = 1
[task call]
handler = http
args = url=http://127.0.0.1:$port/,timeout=5
dependency = slow
[dependency slow]
max_concurrent = 2
CONF
chmod 600 "$T/qdeck.conf"

"$QDECK" --config "$T/qdeck.conf" publish redis:bh --type call --payload '{}' --count 24 >/dev/null
"$QDECK" --config "$T/qdeck.conf" worker > "$T/worker.log" 2>&1 &
wpid=$!
check "all 24 tasks complete" wait_for 30 bash -c "[ \"\$(redis-cli -p $REDIS_PORT llen bh)\" = 0 ] &&
  [ \"\$(redis-cli -p $REDIS_PORT keys 'qdeck:processing:*' | xargs -r -n1 redis-cli -p $REDIS_PORT llen | awk '{ s += \$1 } END { print s + 0 }')\" = 0 ]"
kill -TERM "$wpid"; wait "$wpid"; wpid=
kill -TERM "$upstream"; wait "$upstream"
expect_match "the worker processed all 24, retried and dead-lettered none" "$(grep 'stopped (' "$T/worker.log")" \
  'processed 24, failed 0, retried 0, dead-lettered 0'
expect_eq "no task went the retry way (\"retry in\" lines)" "$(grep -c 'retry in' "$T/worker.log")" 0
expect_match "the upstream served 24 calls, at most 2 at once" "$(cat "$T/upstream.err")" 'served 24 requests, at most 2 at once'
finish
