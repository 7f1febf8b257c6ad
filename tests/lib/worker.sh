# Helpers for the tests that run `qdeck worker` (sourced after assert.sh).

# worker_plugins DIR: DIR/plugins holds the shipped plugins and the test
# plugins (worker_*.so) of the binary under test, for [worker] plugin_dir.
worker_plugins() {
  local bin_dir
  bin_dir=$(dirname "$QDECK_SAN_BIN")
  mkdir -p "$1/plugins"
  ln -sf "$bin_dir"/plugins/*.so "$bin_dir"/tests/plugins/worker_*.so "$1/plugins/"
}

# worker_contract_setup DIR QUEUE: the fixture the worker-contract tests
# (test_worker_amqp, test_worker_redis) share: plugins, DIR/runs.log (the
# worker_record plugin's), DIR/crash.sh (kills itself with SIGSEGV),
# DIR/qdeck.conf consuming QUEUE with task types rec, slow (past its
# watchdog timeout), bad (always fails) and crash (exec of crash.sh), and
# the poison bodies DIR/text (not JSON), DIR/binary, DIR/big (over 10 MB).
worker_contract_setup() {
  local dir=$1 queue=$2
  worker_plugins "$dir"
  : >"$dir/runs.log"
  printf '#!/bin/sh\nkill -SEGV $$\n' >"$dir/crash.sh"
  chmod +x "$dir/crash.sh"
  cat >"$dir/qdeck.conf" <<CONF
[context t]
amqp = $AMQP_URL
mgmt = $MGMT_URL
redis = $REDIS_URL

[worker]
queues = $queue
concurrency = 4
plugin_dir = $dir/plugins
retry_base = 0.4
retry_cap = 1.6
max_attempts = 4
shutdown_timeout = 10

[task rec]
handler = worker_record
args = file=$dir/runs.log

[task slow]
handler = worker_record
args = file=$dir/runs.log,ms=5000
timeout = 0.3

[task bad]
handler = fail
args = always=true

[task crash]
handler = exec
args = cmd=$dir/crash.sh
CONF
  chmod 600 "$dir/qdeck.conf"
  printf 'this is not JSON' >"$dir/text"
  head -c 4096 /dev/urandom >"$dir/binary"
  head -c 10500000 /dev/zero | tr '\0' 'a' >"$dir/big"
}
