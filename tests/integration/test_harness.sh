#!/usr/bin/env bash
# The harness itself, before any test of qdeck trusts it: the private
# RabbitMQ takes queues and exact depths from amqp-fill (0, 1 and 10,000
# messages; names with a space, UTF-8, `/` and `:`), its management API
# catches up with them, the qdeck user and the guest user work, the reset
# between test files left nothing behind, and the private Redis answers.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

fill() { "$TOOLS/amqp-fill" "$AMQP_URL" "$@"; }
api() { curl -sf --max-time 5 "${MGMT_URL}api/$1"; }

expect_eq "reset left no queue in vhost /" "$(api 'queues/%2F?columns=name' | jq length)" 0
expect_eq "reset left an empty Redis" "$(redis-cli -p "$REDIS_PORT" dbsize)" 0

declare -A want=(["q zero"]=0 ["q one"]=1 ["q ten thousand"]=10000 ["ünïcødé/q:1"]=2)
for q in "${!want[@]}"; do
  check "declare '$q'" fill declare "$q"
  [ "${want[$q]}" -eq 0 ] || check "publish ${want[$q]} to '$q'" fill publish "$q" "${want[$q]}" --size 64 --timestamp
done
for q in "${!want[@]}"; do
  expect_eq "exact depth of '$q' (passive declare)" "$(fill depth "$q")" "${want[$q]} 0"
done

# messages_ready of QUEUE in the management API, or "none"
mgmt_ready() {
  api 'queues/%2F?columns=name,messages_ready' |
    jq -r --arg q "$1" '(.[] | select(.name == $q) | .messages_ready // "none") // "none"'
}
ready_is() { [ "$(mgmt_ready "$1")" = "$2" ]; }
for q in "${!want[@]}"; do
  check "management API catches up: '$q' ready ${want[$q]}" wait_for 30 ready_is "$q" "${want[$q]}"
done
q=$(api "queues/%2F/$(jq -rn --arg q 'ünïcødé/q:1' '$q | @uri')" | jq -r '"\(.name) \(.durable)"')
expect_eq "UTF-8 name with / and : round-trips, durable" "$q" "ünïcødé/q:1 true"

check "dead-letter options declare" fill declare dlx.src --dlx "" --dlrk "q zero"
expect_eq "dead-letter arguments stored" \
  "$(api 'queues/%2F/dlx.src' | jq -c '.arguments')" '{"x-dead-letter-exchange":"","x-dead-letter-routing-key":"q zero"}'
check "declare-many" fill declare-many "many." 25
check "25 queues made" wait_for 10 bash -c "[ \"\$(curl -sf '${MGMT_URL}api/queues/%2F?columns=name' | jq '[.[] | select(.name | startswith(\"many.\"))] | length')\" = 25 ]"
check "purge" fill purge "q one"
expect_eq "purged to 0" "$(fill depth "q one")" "0 0"
check "delete" fill delete "q one"
out=$(fill depth "q one" 2>&1); rc=$?
expect_eq "deleted queue: amqp-fill exits 1" "$rc" 1
expect_match "deleted queue: says NOT_FOUND" "$out" "NOT_FOUND"
out=$(fill publish "no such queue" 1 2>&1); rc=$?
expect_eq "publish to a missing queue: exits 1 (mandatory)" "$rc" 1
out=$("$TOOLS/amqp-fill" "${AMQP_URL/s3cret-pw/wrong}" depth "q zero" 2>&1); rc=$?
expect_eq "wrong password: amqp-fill exits 1" "$rc" 1
expect_match "wrong password: one clear line" "$out" 'ACCESS_REFUSED|refused'

expect_eq "qdeck user is an administrator" "$(api "users/qdeck" | jq -r '[.tags] | flatten | join(",")')" administrator
check "guest still works on loopback" curl -sf --max-time 5 -u guest:guest "http://127.0.0.1:$RABBIT_MGMT_PORT/api/overview"
# local addresses of every listening socket of a pid, sorted, unique
listen_addrs() { ss -Hltnp | awk -v p="pid=$1," '$0 ~ p { sub(/:[0-9]+$/, "", $4); print $4 }' | sort -u | paste -sd,; }
expect_eq "rabbitmq listens on loopback only (amqp, amqps, mgmt, mgmt over TLS, dist)" \
  "$(listen_addrs "$RABBIT_PID")" 127.0.0.1
expect_eq "rabbitmq listens on its 5 private ports, and no other" \
  "$(ss -Hltnp | awk -v p="pid=$RABBIT_PID," '$0 ~ p { n = split($4, a, ":"); print a[n] }' | sort -n | paste -sd,)" \
  "$(printf '%s\n' "$RABBIT_AMQP_PORT" "$RABBIT_AMQPS_PORT" "$RABBIT_MGMT_PORT" "$RABBIT_MGMTS_PORT" \
     "$RABBIT_DIST_PORT" | sort -n | paste -sd,)"
expect_eq "redis listens on loopback only" "$(listen_addrs "$REDIS_PID")" 127.0.0.1
expect_eq "server version" "$(api overview | jq -r .rabbitmq_version)" 3.10.8
check "shovel plugin enabled" api shovels/%2F
expect_match "URL exports" "$AMQP_URL $MGMT_URL $REDIS_URL" \
  "^amqp://qdeck:s3cret-pw@127\.0\.0\.1:$RABBIT_AMQP_PORT/%2F http://qdeck:s3cret-pw@127\.0\.0\.1:$RABBIT_MGMT_PORT/ redis://127\.0\.0\.1:$REDIS_PORT$"
check "RABBIT_PID is the running beam" bash -c "ps -o comm= -p '$RABBIT_PID' | grep -q beam"
check "REDIS_PID is the running redis-server" bash -c "ps -o comm= -p '$REDIS_PID' | grep -q redis-server"

R=(redis-cli -p "$REDIS_PORT")
"${R[@]}" rpush "jobs:ünï cødé" a b c >/dev/null
expect_eq "redis list of 3" "$("${R[@]}" llen "jobs:ünï cødé")" 3
expect_eq "redis list order" "$("${R[@]}" lrange "jobs:ünï cødé" 0 -1 | paste -sd,)" "a,b,c"
expect_eq "redis persistence off" "$("${R[@]}" config get save | tail -1)$("${R[@]}" config get appendonly | tail -1)" "no"

finish
