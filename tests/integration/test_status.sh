#!/usr/bin/env bash
# `qdeck status --json` against real brokers reports exactly the depths that
# were created: 0, 1 and 10,000 messages, names with spaces and UTF-8, Redis
# lists, and a stream whose consumer group has lag and pending entries.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

declare -A want=([zero]=0 [one]=1 ["ten thousand"]=10000 ["ünïcødé/q:1"]=2)
for q in "${!want[@]}"; do
  "$TOOLS/amqp-fill" "$AMQP_URL" declare "$q" >/dev/null
  [ "${want[$q]}" -gt 0 ] && "$TOOLS/amqp-fill" "$AMQP_URL" publish "$q" "${want[$q]}" >/dev/null
done
"$TOOLS/amqp-fill" "$AMQP_URL" declare "orders.dlq" >/dev/null
"$TOOLS/amqp-fill" "$AMQP_URL" declare "orders" --dlx "" --dlrk "orders.dlq" >/dev/null

R="redis-cli -p $REDIS_PORT"
$R rpush "jobs:ünï cødé" a b c >/dev/null
$R lpush jobs:dated '{"id":"t1","type":"x","payload":{},"created_at":"2020-01-01T00:00:00Z"}' >/dev/null
$R xgroup create events workers '$' MKSTREAM >/dev/null
for i in $(seq 10); do $R xadd events '*' n "$i" >/dev/null; done
$R xreadgroup group workers w1 count 4 streams events '>' >/dev/null
$R xack events workers "$($R xrange events - + count 1 | head -1)" >/dev/null

status_json() { "$QDECK" --mgmt "$MGMT_URL" --amqp "$AMQP_URL" --redis "$REDIS_URL" status --json; }

# the management API lags the broker by its stats interval: wait until it agrees
depths_match() {
  local json; json=$(status_json) || return 1
  for q in "${!want[@]}"; do
    [ "$(jq -r --arg a "amqp:$q" '.sources[].queues[] | select(.queue == $a) | .ready' <<<"$json")" = "${want[$q]}" ] || return 1
  done
}
check "amqp depths 0, 1, 10000 and UTF-8 names reported exactly" wait_for 30 depths_match

json=$(status_json); rc=$?
expect_eq "status exits 0 with both brokers up" "$rc" 0
expect_eq "redis list with UTF-8 name: 3" \
  "$(jq -r '.sources[].queues[] | select(.queue == "redis:jobs:ünï cødé") | .ready' <<<"$json")" 3
expect_eq "stream group lag (10 added, 4 delivered)" \
  "$(jq -r '.sources[].queues[] | select(.queue == "stream:events#workers") | .ready' <<<"$json")" 6
expect_eq "stream group pending (4 delivered, 1 acked)" \
  "$(jq -r '.sources[].queues[] | select(.queue == "stream:events#workers") | .unacked' <<<"$json")" 3
expect_eq "stream length" \
  "$(jq -r '.sources[].queues[] | select(.queue == "stream:events#workers") | .length' <<<"$json")" 10
check "oldest pending entry has an idle time" \
  test "$(jq -r '.sources[].queues[] | select(.queue == "stream:events#workers") | .pending_idle | type' <<<"$json")" = number
check "age of an enveloped list head counts from created_at (years)" \
  test "$(jq -r '.sources[].queues[] | select(.queue == "redis:jobs:dated") | .head_age > 100000000' <<<"$json")" = true
expect_eq "dead-letter wiring resolved" \
  "$(jq -r '.sources[].queues[] | select(.queue == "amqp:orders") | .dead_letter_to' <<<"$json")" "amqp:orders.dlq"
expect_eq "server version read" "$(jq -r '.sources[0].server' <<<"$json")" "RabbitMQ 3.10.8"
check "password never in --json" bash -c "! grep -q s3cret-pw <<<'$json'"
expect_match "management URL redacted" "$(jq -r '.sources[0].url' <<<"$json")" '^http://qdeck:\*\*\*@127\.0\.0\.1:[0-9]+/$'

text=$("$QDECK" --mgmt "$MGMT_URL" --redis "$REDIS_URL" status)
expect_match "text table lists the stream group" "$text" 'stream:events#workers'
check "password never in the table" bash -c "! grep -q s3cret-pw <<<'$text'"

expect_eq "the AMQP login is checked too" "$(jq -r '.sources[] | select(.kind == "amqp") | .status' <<<"$json")" ok

# the management API answers, the AMQP login is refused: not "ok"
bad_amqp=$(sed -E "s#^(amqp://[^:]+:)[^@]*@#\1wrong-pw@#" <<<"$AMQP_URL")
json=$("$QDECK" --mgmt "$MGMT_URL" --amqp "$bad_amqp" status --json 2>"$QDECK_TEST_TMP/work/status.err"); rc=$?
expect_eq "wrong AMQP password: exit 3" "$rc" 3
expect_eq "wrong AMQP password: the management API still reads ok" \
  "$(jq -r '.sources[] | select(.kind == "rabbitmq") | .status' <<<"$json")" ok
expect_eq "wrong AMQP password: the amqp source says login refused" \
  "$(jq -r '.sources[] | select(.kind == "amqp") | .status' <<<"$json")" "login refused"
expect_match "wrong AMQP password: one line on stderr saying so" "$(cat "$QDECK_TEST_TMP/work/status.err")" \
  '^qdeck: amqp: login refused: RabbitMQ at amqp://qdeck:\*\*\*@127\.0\.0\.1:[0-9]+/%2F refused the login \(wrong user or password\)$'
check "wrong AMQP password: no password anywhere" bash -c "! grep -q -e wrong-pw -e s3cret-pw <<<'$json\$(cat "$QDECK_TEST_TMP/work/status.err")'"
text=$("$QDECK" --mgmt "$MGMT_URL" --amqp "$bad_amqp" status 2>&1 >/dev/null)
expect_match "wrong AMQP password: its health line on stderr says the amqp login is refused" "$text" '^amqp amqp://qdeck:\*\*\*@.* login refused$'

out=$("$QDECK" --redis redis://127.0.0.1:1/ status 2>&1); rc=$?
expect_eq "unreachable broker: exit 3" "$rc" 3
expect_match "unreachable broker: one clear line" "$out" 'disconnected'

out=$("$QDECK" --redis http://127.0.0.1:1/ status 2>&1); rc=$?
expect_eq "a Redis URL that is not redis://: usage error, not a crash" "$rc" 2
expect_match "a Redis URL that is not redis://: says so" "$out" 'must be redis:// or unix://'

out=$("$QDECK" status 2>&1); rc=$?
expect_eq "nothing configured: usage error" "$rc" 2
expect_match "nothing configured: says what to do" "$out" 'nothing to watch'

printf '[context a]\nredis = %s\nredis_kyes = *\n' "$REDIS_URL" > "$QDECK_TEST_TMP/typo.conf"
out=$("$QDECK" --config "$QDECK_TEST_TMP/typo.conf" status 2>&1); rc=$?
expect_eq "unknown config key: exit 2" "$rc" 2
expect_match "unknown config key: file, line and key" "$out" "typo.conf:3: unknown key 'redis_kyes'"

# watched lists show at depth 0 before they ever exist, and stay when drained
cat > "$QDECK_TEST_TMP/work/watch.conf" <<CONF
[context w]
redis = $REDIS_URL
redis_watch = jobs:never-used, jobs:drained
CONF
redis-cli -p "$REDIS_PORT" del jobs:drained >/dev/null
json=$("$QDECK" --config "$QDECK_TEST_TMP/work/watch.conf" status --json)
expect_eq "a watched list that never existed shows ready 0" \
  "$(jq -r '.sources[].queues[] | select(.queue == "redis:jobs:never-used") | .ready' <<<"$json")" 0
expect_eq "and so does a drained one" \
  "$(jq -r '.sources[].queues[] | select(.queue == "redis:jobs:drained") | .ready' <<<"$json")" 0

out=$("$QDECK" --redis "$REDIS_URL" --iterations 2 --theme no-such-theme 2>&1); rc=$?
expect_eq "unknown theme: exit 2" "$rc" 2

finish
