#!/usr/bin/env bash
# A worker whose RabbitMQ login is refused says so instead of looking busy:
#  - started with a wrong password it exits 3 within 5 s with one line on
#    stderr naming the broker (password as ***) and the refused login;
#  - the same with --declare, and when only the AMQP password is wrong
#    (a Redis-only worker is not affected);
#  - a broker that is merely away is not fatal at start: the worker keeps
#    trying (and /readyz says why).
# The password rotated while running is tests/screen/test_worker_login_rotation.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"
source "$here/../lib/worker.sh"

T=$QDECK_TEST_TMP/worker-amqp-login
worker_plugins "$T"
bad_amqp=${AMQP_URL/:$RABBIT_PASS@/:wrong-pw@}
write_conf() {   # write_conf FILE AMQP_URL QUEUES
  cat >"$1" <<CONF
[context t]
amqp = $2
redis = $REDIS_URL

[worker]
queues = $3
plugin_dir = $T/plugins
heartbeat = 0.5

[task rec]
handler = worker_record
args = file=$T/runs.log
CONF
  chmod 600 "$1"
}
wpid=
trap '[ -n "$wpid" ] && kill -9 "$wpid" 2>/dev/null' EXIT

# run_worker CONF ARGS...: runs it for at most 10 s; sets rc, secs, err
run_worker() {
  local conf=$1; shift
  local t0=$EPOCHREALTIME
  timeout -s KILL 10 "$QDECK" --config "$conf" worker "$@" >"$T/out" 2>"$T/err"; rc=$?
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  err=$(cat "$T/err")
}

write_conf "$T/bad.conf" "$bad_amqp" amqp:login.q
run_worker "$T/bad.conf"
echo "  (wrong password: exit $rc after ${secs}s)"
expect_eq "wrong password: exit 3" "$rc" 3
check "wrong password: within 5 s (${secs}s)" awk -v s="$secs" 'BEGIN { exit !(s < 5) }'
expect_eq "wrong password: exactly one line on stderr" "$(grep -c . <<<"$err")" 1
expect_match "wrong password: the line names the broker and the refused login" "$err" \
  '^qdeck: RabbitMQ at amqp://qdeck:\*\*\*@127\.0\.0\.1:[0-9]+/%2F refused the login \(wrong user or password\)$'
expect_nomatch "wrong password: no password on stderr" "$err" 'wrong-pw|s3cret-pw'
expect_eq "wrong password: nothing on stdout" "$(cat "$T/out")" ""
expect_eq "wrong password: no heartbeat was ever written" \
  "$(redis-cli -p "$REDIS_PORT" --scan --pattern 'qdeck:worker:*' | wc -l)" 0

run_worker "$T/bad.conf" --declare
expect_eq "wrong password with --declare: exit 3" "$rc" 3
expect_match "wrong password with --declare: the same line" "$err" '^qdeck: RabbitMQ at .* refused the login \(wrong user or password\)$'

# a wrong vhost is refused at login as well
write_conf "$T/vhost.conf" "${AMQP_URL%/%2F}/no-such-vhost" amqp:login.q
run_worker "$T/vhost.conf"
expect_eq "unknown vhost: exit 3" "$rc" 3
expect_match "unknown vhost: says the vhost was refused" "$err" '^qdeck: RabbitMQ at .* refused access to the vhost: .*no-such-vhost'

# the AMQP password does not matter to a worker that reads only Redis
write_conf "$T/redis-only.conf" "$bad_amqp" redis:login-jobs
"$QDECK" --config "$T/redis-only.conf" worker >"$T/ro.out" 2>"$T/ro.err" &
wpid=$!
hb_health() { redis-cli -p "$REDIS_PORT" --scan --pattern 'qdeck:worker:*' | while read -r k; do redis-cli -p "$REDIS_PORT" get "$k"; done | jq -r '.health'; }
health_is() { [ "$(hb_health)" = "$1" ]; }
check "Redis-only worker with a wrong AMQP password runs, healthy" wait_for 10 health_is ok
kill -TERM "$wpid"; wait "$wpid"; rc=$?; wpid=
expect_eq "Redis-only worker: SIGTERM exits 0" "$rc" 0

# nobody listening: not a login problem, the consumers keep trying
port=$(free_ports 1)
mport=$(free_ports 1)
write_conf "$T/away.conf" "amqp://qdeck:s3cret-pw@127.0.0.1:$port/%2F" amqp:login.q
"$QDECK" --config "$T/away.conf" worker --metrics-addr "127.0.0.1:$mport" >"$T/away.out" 2>"$T/away.err" &
wpid=$!
check "broker away: /readyz 503 naming the consumer" wait_for 10 bash -c \
  "curl -s http://127.0.0.1:$mport/readyz | grep -q 'not ready: consumer amqp:login.q: amqp: unreachable'"
check "broker away: the worker is still running" kill -0 "$wpid"
expect_nomatch "broker away: no password in the log" "$(cat "$T/away.err")" 's3cret-pw'
kill -TERM "$wpid"; wait "$wpid"; rc=$?; wpid=
expect_eq "broker away: SIGTERM exits 0" "$rc" 0
finish
