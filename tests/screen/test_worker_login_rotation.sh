#!/usr/bin/env bash
# A worker's RabbitMQ password rotated while it runs (rabbitmqctl
# change_password, then its connection dropped): the worker keeps running
# and retries on its backoff timer, its heartbeat carries the consumer's
# health ("amqp: login refused"), /readyz fails with that reason, and the
# Workers view marks it ERROR with the reason, in the crit colour. Changing
# the password back recovers all three, and tasks run again.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
source "$here/../lib/servers.sh"
source "$here/../lib/worker.sh"

T=$QDECK_TEST_TMP/worker-login-rotation
worker_plugins "$T"
: >"$T/runs.log"
user=qdeck-rot
rabbit_api PUT "users/$user" '{"password":"pw-one","tags":""}' >/dev/null
rabbit_api PUT "permissions/%2F/$user" '{"configure":".*","write":".*","read":".*"}' >/dev/null
mport=$(free_ports 1)
cat >"$T/qdeck.conf" <<CONF
[context t]
amqp = amqp://$user:pw-one@127.0.0.1:$RABBIT_AMQP_PORT/%2F
redis = $REDIS_URL

[worker]
queues = amqp:rot.q
plugin_dir = $T/plugins
heartbeat = 0.5

[task rec]
handler = worker_record
args = file=$T/runs.log
CONF
chmod 600 "$T/qdeck.conf"
wpid=
cleanup() {
  screen_stop_all
  [ -n "$wpid" ] && kill -9 "$wpid" 2>/dev/null
  rabbit_api DELETE "users/$user" >/dev/null
}
trap cleanup EXIT
R="redis-cli -p $REDIS_PORT"
ctl() { rabbit_env "$RABBIT_BIN/rabbitmqctl" "$@" >>"$T/ctl.out" 2>&1; }
hb() { $R get "qdeck:worker:$id"; }
health_is() { [ "$(hb | jq -r .health)" = "$1" ]; }
readyz() { curl -s -w ' %{http_code}' "http://127.0.0.1:$mport/readyz" | tr '\n' ' ' | tr -s ' '; }
readyz_is() { [ "$(readyz)" = "$1" ]; }

"$QDECK" --config "$T/qdeck.conf" worker --declare --metrics-addr "127.0.0.1:$mport" >"$T/worker.out" 2>"$T/worker.err" &
wpid=$!
check "the worker is ready" wait_for 15 readyz_is 'ready 200'
id=$($R --scan --pattern 'qdeck:worker:*' | head -1); id=${id#qdeck:worker:}
check "its heartbeat says health ok" wait_for 5 health_is ok

# a second, hand-written worker, so the real one's row can be looked at unselected
now=$(date +%s.%N)
$R set qdeck:worker:zz-1 "{\"id\":\"zz-1\",\"host\":\"zzhost\",\"pid\":1,\"at\":$now,\"interval\":30,\"queues\":[\"redis:x\"],\"slots_busy\":0,\"slots_total\":1,\"processed\":0,\"health\":\"ok\",\"state\":\"running\"}" PX 120000 >/dev/null
$R zadd qdeck:registry:workers "$now" zz-1 >/dev/null   # the worker registry: readers never walk the keyspace
host=$(hostname)
screen_start w "$QDECK --redis $REDIS_URL --refresh 0.3"
screen_keys w 3
check "Workers view: the worker runs" screen_wait w 15 "$host:$wpid +running +amqp:rot\.q"
check "Workers view: both rows" screen_wait w 5 'zzhost:1 +running'
screen_keys w j
check "the hand-written row is selected" screen_wait w 5 '2 workers: 2 running'
sleep 0.5
row_sgr() { screen_colours w | grep -E "$1" | head -1 | sed -E "s/ $2 .*//" | grep -oE $'\e\\[[0-9;]*m' | tr -d '\n'; }
healthy_sgr=$(row_sgr "$host:$wpid" running)

# rotate: new password, and the live connection is dropped
ctl change_password "$user" pw-two
ctl close_all_connections "password rotated"
check "heartbeat: health says the login is refused" wait_for 20 health_is 'amqp: login refused'
check "heartbeat: the worker still says it is running" wait_for 2 bash -c "[ \"\$($R get qdeck:worker:$id | jq -r .state)\" = running ]"
check "/readyz fails with the reason" wait_for 5 readyz_is 'not ready: consumer amqp:rot.q: amqp: login refused 503'
check "Workers view: ERROR with the reason" screen_wait w 10 "$host:$wpid +ERROR +amqp: login refused"
check "Workers view: the summary counts it" screen_wait w 5 '2 running, 0 lost, 0 stopped, 1 in error'
sleep 0.5
error_sgr=$(row_sgr "$host:$wpid" ERROR)
check "the ERROR row has attributes of its own" test -n "$error_sgr"
check "the ERROR row is drawn unlike the healthy one (crit colour)" test "$error_sgr" != "$healthy_sgr"
check "the worker keeps running" kill -0 "$wpid"
retries=$(grep -c 'refused the login (wrong user or password) (retrying in' "$T/worker.err")
check "it retried on its timer ($retries retries logged)" test "$retries" -ge 2
# the n-th retry waits U(c/2, c) with c = min(5, 0.2 * 2^n) (printed to 0.1 s)
expect_eq "every retry waited on the capped, jittered backoff" \
  "$(grep -o 'refused the login (wrong user or password) (retrying in [0-9.]*s' "$T/worker.err" | grep -o '[0-9.]*s$' | tr -d s |
     awk '{ c = 0.2 * 2 ^ (NR - 1); if (c > 5) c = 5; if ($1 < c / 2 - 0.05 || $1 > c + 0.05) print NR ": " $1 " not in [" c / 2 ", " c "]" }')" ""
expect_nomatch "no password in the log" "$(cat "$T/worker.err")" 'pw-one|pw-two'
expect_nomatch "no password on screen" "$(screen_text w)" 'pw-one|pw-two'

# back to the old password: recovers
ctl change_password "$user" pw-one
check "recovered: health ok" wait_for 20 health_is ok
check "recovered: /readyz 200" wait_for 5 readyz_is 'ready 200'
check "recovered: the view shows it running" screen_wait w 10 "$host:$wpid +running +amqp:rot\.q"
"$QDECK" --config "$T/qdeck.conf" publish amqp:rot.q --type rec >"$T/id" 2>/dev/null
check "recovered: a task runs" wait_for 10 grep -q "^E $(cat "$T/id") " "$T/runs.log"

screen_keys w q
expect_eq "console exits 0" "$(screen_exit_status w 10)" 0
kill -TERM "$wpid"; wait "$wpid"; rc=$?; wpid=
expect_eq "SIGTERM: exit 0" "$rc" 0
finish
