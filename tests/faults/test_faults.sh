#!/usr/bin/env bash
# Faults a console meets in an incident, against the real brokers: Redis
# and RabbitMQ stopped mid-run and SIGSTOPped (hung), a wrong password, and a
# management API that answers HTML, truncated JSON or nothing (through
# fault-proxy.py in front of the real API). Each time the console keeps
# running, shows the state, answers keys, and recovers by itself.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"
source "$here/../lib/screen.sh"
trap 'screen_stop_all; [ -n "${proxy_pid:-}" ] && kill "$proxy_pid" 2>/dev/null; kill -CONT "$REDIS_PID" "$RABBIT_PID" 2>/dev/null' EXIT

"$TOOLS/amqp-fill" "$AMQP_URL" declare fault.q >/dev/null
"$TOOLS/amqp-fill" "$AMQP_URL" publish fault.q 5 >/dev/null
redis-cli -p "$REDIS_PORT" rpush fault:list a b c >/dev/null

conf=$QDECK_TEST_TMP/faults.conf
cat > "$conf" <<CONF
[context faults]
mgmt = $MGMT_URL
redis = $REDIS_URL
timeout = 1
CONF
chmod 600 "$conf"
log=$QDECK_TEST_TMP/faults.log

screen_start con "$QDECK --config $conf --refresh 0.5 --log $log -v"
check "console shows both sources" screen_wait con 30 'amqp:fault\.q'
screen_keys con 2
check "queues view lists the Redis list" screen_wait con 10 'redis:fault:list'

# keys_answer: the view switches both ways within 2 s
keys_answer() {
  screen_keys con 1 && screen_wait con 2 'Top by depth|Overview' &&
  screen_keys con 2 && screen_wait con 2 'READY'
}

# --- Redis stopped, then back
stop_redis
check "redis stopped: shown as disconnected" screen_wait con 10 'redis[^|]*disconnected'
check "redis stopped: keys still answer" keys_answer
check "redis stopped: last data kept" screen_wait con 2 'redis:fault:list'
restart_redis
check "redis back: reconnected by itself" screen_wait_gone con 40 'redis[^|]*disconnected'

# --- Redis hung (SIGSTOP)
kill -STOP "$REDIS_PID"
check "redis hung: shown as not answering" screen_wait con 10 'redis[^|]*not answering'
check "redis hung: keys still answer" keys_answer
kill -CONT "$REDIS_PID"
check "redis resumed: recovers" screen_wait_gone con 40 'redis[^|]*not answering'

# --- RabbitMQ hung (SIGSTOP of the beam process)
kill -STOP "$RABBIT_PID"
check "rabbitmq hung: shown as not answering" screen_wait con 10 'rabbitmq[^|]*not answering'
check "rabbitmq hung: keys still answer" keys_answer
kill -CONT "$RABBIT_PID"
check "rabbitmq resumed: recovers" screen_wait_gone con 40 'rabbitmq[^|]*not answering'

# --- RabbitMQ stopped, then started again
stop_rabbit
check "rabbitmq stopped: shown as disconnected" screen_wait con 15 'rabbitmq[^|]*disconnected'
check "rabbitmq stopped: keys still answer" keys_answer
check "rabbitmq stopped: last data kept" screen_wait con 2 'amqp:fault\.q'
restart_rabbit
check "rabbitmq back: reconnected by itself" screen_wait_gone con 60 'rabbitmq[^|]*disconnected'
check "console still running after all that" test "$(screen_exit_status con 0)" = running
screen_keys con q
check "quit after faults exits 0" test "$(screen_exit_status con 10)" = 0
check "log names the failures, never the password" \
  bash -c "grep -q 'not answering' '$log' && ! grep -q 's3cret-pw' '$log'"

# --- wrong password
out=$("$QDECK" --mgmt "${MGMT_URL/s3cret-pw/wrong-pw}" status 2>&1); rc=$?
expect_eq "wrong password: exit 3" "$rc" 3
expect_match "wrong password: says auth failed" "$out" 'auth failed'
check "wrong password: never printed" bash -c "! grep -q wrong-pw <<<'$out'"
screen_start auth "$QDECK --mgmt ${MGMT_URL/s3cret-pw/wrong-pw} --refresh 0.5"
check "wrong password: console shows auth failed" screen_wait auth 15 'auth failed'
screen_keys auth q
screen_kill auth

# --- management API behind a faulty proxy
mode=$QDECK_TEST_TMP/proxy.mode
echo pass > "$mode"
coproc PROXY { exec python3 "$here/../lib/fault-proxy.py" "$MGMT_URL" "$mode"; }
proxy_pid=$PROXY_PID
read -r proxy_port <&"${PROXY[0]}"
proxy_url="http://qdeck:s3cret-pw@127.0.0.1:$proxy_port/"
conf2=$QDECK_TEST_TMP/proxy.conf
printf '[context proxy]\nmgmt = %s\ntimeout = 1\n' "$proxy_url" > "$conf2"
chmod 600 "$conf2"
screen_start px "$QDECK --config $conf2 --refresh 0.5"
check "through proxy: ok" screen_wait px 20 'amqp:fault\.q'
echo html > "$mode"
check "HTML answer: bad response" screen_wait px 10 'not JSON'
check "HTML answer: keys still answer" bash -c "tmux -L '$SCREEN_SOCK' send-keys -t px 2 && sleep 0.3 && tmux -L '$SCREEN_SOCK' capture-pane -p -t px | grep -q READY"
echo truncate > "$mode"
check "truncated JSON: bad response" screen_wait px 10 'truncated JSON'
echo hang > "$mode"
check "no answer: not answering" screen_wait px 10 'not answering'
echo pass > "$mode"
check "proxy healed: recovers" screen_wait_gone px 30 'not answering|not JSON|truncated'
screen_keys px q
check "quit exits 0" test "$(screen_exit_status px 10)" = 0

finish
