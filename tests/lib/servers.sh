# Real brokers for the test suite: one redis-server and one RabbitMQ node,
# started once per run on private loopback ports with all their files under
# $QDECK_TEST_TMP, and stopped by their own pids — never by name. Follows
# /work/shared/ENVIRONMENT.md: RabbitMQ's scripts are called from
# /usr/lib/rabbitmq/bin (the /usr/sbin wrappers switch user and cookie) with a
# private HOME (cookie), node name, epmd, dist port and config.
#
# Sourced by tests/run.sh, and by test files that stop or restart a broker
# (the exported variables carry the ports, node name and dirs over, and pids
# are always re-read from the pid files, so a restart inside a test file is
# seen by the runner afterwards).
#
#   start_redis stop_redis restart_redis redis_reset
#   start_rabbit stop_rabbit restart_rabbit rabbit_reset rabbit_api
#
# Exports REDIS_PORT REDIS_PID REDIS_URL REDIS_DIR,
# RABBIT_AMQP_PORT RABBIT_MGMT_PORT RABBIT_DIST_PORT RABBIT_EPMD_PORT
# RABBIT_NODENAME RABBIT_DIR RABBIT_PID AMQP_URL MGMT_URL. The node's epmd is
# started first, on RABBIT_EPMD_PORT, and stopped with the node, by its pid.
# User qdeck / s3cret-pw (administrator, full permissions on /) so tests can
# check that the password is never shown; guest stays.
#
# The same node also speaks TLS: AMQP on RABBIT_AMQPS_PORT (AMQPS_URL) and
# the management API on RABBIT_MGMTS_PORT (MGMTS_URL), with certificates
# made by openssl when the node is first started (tens of milliseconds,
# under $RABBIT_DIR/tls): TLS_CA signs the server's certificate (for
# localhost and 127.0.0.1) and TLS_CLIENT_CERT/TLS_CLIENT_KEY; TLS_WRONG_CA
# signs nothing the node knows, nor TLS_STRANGER_CERT/TLS_STRANGER_KEY. Both
# TLS listeners check a client certificate when one is shown (verify_peer)
# but need none (fail_if_no_peer_cert = false).

RABBIT_BIN=/usr/lib/rabbitmq/bin
RABBIT_USER=qdeck
RABBIT_PASS=s3cret-pw

# free_ports N: N distinct free TCP ports on 127.0.0.1 (all held open at once
# while chosen, so they differ from each other).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

# _poll TENTHS CMD...: runs CMD every 0.1 s until it succeeds, at most TENTHS times.
_poll() {
  local n=$1 i=0; shift
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -lt "$n" ] || return 1
    sleep 0.1
  done
}

_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
_dead() { ! kill -0 "$1" 2>/dev/null; }

# ---------------------------------------------------------------- Redis

_redis_pid() { cat "$REDIS_DIR/redis.pid" 2>/dev/null; }

start_redis() {
  : "${QDECK_TEST_TMP:?QDECK_TEST_TMP must be set}"
  REDIS_DIR=${REDIS_DIR:-$QDECK_TEST_TMP/redis}
  mkdir -p "$REDIS_DIR"
  local fixed=${REDIS_PORT:-} try
  if _alive "$(_redis_pid)" && [ -n "$fixed" ] && redis-cli -p "$fixed" ping >/dev/null 2>&1; then
    REDIS_PID=$(_redis_pid); export REDIS_PID; return 0     # already running
  fi
  for try in 1 2 3; do
    REDIS_PORT=${fixed:-$(free_ports 1)}
    rm -f "$REDIS_DIR/redis.pid"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
      --dir "$REDIS_DIR" --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" >/dev/null &&
      _poll 100 redis-cli -p "$REDIS_PORT" ping && break
    # a port taken between choosing and binding: choose again (unless fixed)
    [ -z "$fixed" ] || try=3
    [ "$try" -lt 3 ] || { echo "servers: redis-server did not start on :$REDIS_PORT; log:" >&2
                          tail -5 "$REDIS_DIR/redis.log" >&2; return 1; }
  done
  _poll 50 test -s "$REDIS_DIR/redis.pid"
  REDIS_PID=$(_redis_pid)
  REDIS_URL=redis://127.0.0.1:$REDIS_PORT
  export REDIS_PORT REDIS_PID REDIS_URL REDIS_DIR
}

stop_redis() {
  [ -n "${REDIS_DIR:-}" ] || return 0
  local pid; pid=$(_redis_pid); pid=${pid:-${REDIS_PID:-}}
  _alive "$pid" || return 0
  kill -CONT "$pid" 2>/dev/null
  timeout 5 redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1
  _poll 50 _dead "$pid" || { kill -KILL "$pid" 2>/dev/null; _poll 20 _dead "$pid"; }
  rm -f "$REDIS_DIR/redis.pid"
}

# same port, empty data set
restart_redis() { stop_redis; start_redis; }

redis_reset() { redis-cli -p "$REDIS_PORT" flushall >/dev/null; }

# --------------------------------------------------------------- RabbitMQ

# _tls_certs DIR: a CA, the server's and a client's certificate, and a
# second CA with a client certificate of its own; EC keys, 30 days. Kept
# when they are there (a restart reuses them).
_tls_certs() {
  local d=$1
  [ -s "$d/stranger.pem" ] && return 0
  mkdir -p "$d"
  _tls_ca() { openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 30 \
                -keyout "$d/$1.key" -out "$d/$1.pem" -subj "/CN=$2"; }
  _tls_cert() {   # NAME CN CA EXTENSION
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$d/$1.key" -out "$d/$1.csr" \
      -subj "/CN=$2" &&
      openssl x509 -req -in "$d/$1.csr" -CA "$d/$3.pem" -CAkey "$d/$3.key" -CAcreateserial -days 30 \
        -out "$d/$1.pem" -extfile <(printf '%s\n' "$4")
  }
  { _tls_ca ca "qdeck test CA" && _tls_ca wrong-ca "qdeck wrong CA" &&
    _tls_cert server localhost ca "subjectAltName=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1" &&
    _tls_cert client qdeck-test-client ca "extendedKeyUsage=clientAuth" &&
    _tls_cert stranger qdeck-stranger wrong-ca "extendedKeyUsage=clientAuth"; } >"$d/openssl.out" 2>&1 ||
    { echo "servers: openssl could not make the test certificates:" >&2; tail -5 "$d/openssl.out" >&2; return 1; }
}

# rabbit_env CMD...: runs CMD in the private node's environment.
rabbit_env() {
  local d=$RABBIT_DIR
  # in its own dir, so an erl_crash.dump never lands in the caller's cwd
  (cd "$d" && exec env HOME="$d/home" RABBITMQ_NODENAME="$RABBIT_NODENAME" ERL_CRASH_DUMP="$d/log/erl_crash.dump" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$RABBIT_AMQP_PORT" \
    RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT" ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$RABBIT_EPMD_PORT" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_PID_FILE="$d/rabbit.pid" \
    RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf" "$@")
}

# rabbit_api METHOD PATH [JSON] [USER:PASS]: the management API, quietly;
# fails on any HTTP error.
rabbit_api() {
  curl -sf --max-time 10 -u "${4:-$RABBIT_USER:$RABBIT_PASS}" -X "$1" \
    -H 'content-type: application/json' ${3:+-d "$3"} "http://127.0.0.1:$RABBIT_MGMT_PORT/api/$2"
}

_rabbit_pid() { cat "$RABBIT_DIR/rabbit.pid" 2>/dev/null; }
_epmd_pid() { cat "$RABBIT_DIR/epmd.pid" 2>/dev/null; }

# _start_epmd: the node's private epmd, started by us before the node (which
# then uses it rather than starting one of its own), in a session of its own
# so that a test's process group can be stopped without it, and with its pid
# in epmd.pid so that stop_rabbit stops it by pid.
_start_epmd() {
  _alive "$(_epmd_pid)" && return 0
  rm -f "$RABBIT_DIR/epmd.pid"
  setsid bash -c 'echo $$ > "$1"; exec epmd -port "$2" -address 127.0.0.1' _ "$RABBIT_DIR/epmd.pid" \
    "$RABBIT_EPMD_PORT" </dev/null >>"$RABBIT_DIR/log/epmd.out" 2>&1 &
  _poll 100 epmd -port "$RABBIT_EPMD_PORT" -names ||
    { echo "servers: epmd did not start on :$RABBIT_EPMD_PORT" >&2; return 1; }
}

start_rabbit() {
  : "${QDECK_TEST_TMP:?QDECK_TEST_TMP must be set}"
  RABBIT_DIR=${RABBIT_DIR:-$QDECK_TEST_TMP/rabbit}
  RABBIT_NODENAME=${RABBIT_NODENAME:-qdeck-test-$$@localhost}
  local d=$RABBIT_DIR
  mkdir -p "$d/home" "$d/mnesia" "$d/log"
  if [ -z "${RABBIT_AMQP_PORT:-}" ]; then
    read -r RABBIT_AMQP_PORT RABBIT_MGMT_PORT RABBIT_DIST_PORT RABBIT_EPMD_PORT RABBIT_AMQPS_PORT RABBIT_MGMTS_PORT \
      < <(free_ports 6)
  fi
  export RABBIT_DIR RABBIT_NODENAME RABBIT_AMQP_PORT RABBIT_MGMT_PORT RABBIT_DIST_PORT RABBIT_EPMD_PORT \
    RABBIT_AMQPS_PORT RABBIT_MGMTS_PORT
  local t=$d/tls
  _tls_certs "$t" || return 1
  TLS_CA=$t/ca.pem TLS_WRONG_CA=$t/wrong-ca.pem TLS_CLIENT_CERT=$t/client.pem TLS_CLIENT_KEY=$t/client.key
  TLS_STRANGER_CERT=$t/stranger.pem TLS_STRANGER_KEY=$t/stranger.key
  export TLS_CA TLS_WRONG_CA TLS_CLIENT_CERT TLS_CLIENT_KEY TLS_STRANGER_CERT TLS_STRANGER_KEY
  cat > "$d/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$RABBIT_AMQP_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $RABBIT_MGMT_PORT
collect_statistics_interval = 500
listeners.ssl.1 = 127.0.0.1:$RABBIT_AMQPS_PORT
ssl_options.cacertfile = $t/ca.pem
ssl_options.certfile = $t/server.pem
ssl_options.keyfile = $t/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
management.ssl.ip = 127.0.0.1
management.ssl.port = $RABBIT_MGMTS_PORT
management.ssl.cacertfile = $t/ca.pem
management.ssl.certfile = $t/server.pem
management.ssl.keyfile = $t/server.key
management.ssl.verify = verify_peer
management.ssl.fail_if_no_peer_cert = false
CONF
  echo '[rabbitmq_management,rabbitmq_shovel,rabbitmq_shovel_management].' > "$d/enabled_plugins"
  : > "$d/rabbitmq-env.conf"
  _start_epmd || return 1
  if ! _alive "$(_rabbit_pid)"; then   # else already running: just wait for it
    rm -f "$d/rabbit.pid"
    rabbit_env "$RABBIT_BIN/rabbitmq-server" -detached >>"$d/log/start.out" 2>&1
  fi
  if ! rabbit_env "$RABBIT_BIN/rabbitmqctl" wait --timeout 120 "$d/rabbit.pid" >>"$d/log/start.out" 2>&1; then
    echo "servers: rabbitmq did not start; last log lines:" >&2
    tail -20 "$d/log/start.out" "$d"/log/*.log >&2 2>/dev/null
    return 1
  fi
  RABBIT_PID=$(_rabbit_pid)
  if ! _poll 200 rabbit_api GET overview '' guest:guest; then
    echo "servers: rabbitmq management API did not answer on :$RABBIT_MGMT_PORT" >&2
    return 1
  fi
  # the user survives restarts (same mnesia dir); creating it again is harmless
  rabbit_api PUT "users/$RABBIT_USER" "{\"password\":\"$RABBIT_PASS\",\"tags\":\"administrator\"}" guest:guest >/dev/null &&
    rabbit_api PUT "permissions/%2F/$RABBIT_USER" '{"configure":".*","write":".*","read":".*"}' guest:guest >/dev/null ||
    { echo "servers: could not create rabbitmq user $RABBIT_USER" >&2; return 1; }
  AMQP_URL=amqp://$RABBIT_USER:$RABBIT_PASS@127.0.0.1:$RABBIT_AMQP_PORT/%2F
  MGMT_URL=http://$RABBIT_USER:$RABBIT_PASS@127.0.0.1:$RABBIT_MGMT_PORT/
  AMQPS_URL=amqps://$RABBIT_USER:$RABBIT_PASS@127.0.0.1:$RABBIT_AMQPS_PORT/%2F
  MGMTS_URL=https://$RABBIT_USER:$RABBIT_PASS@127.0.0.1:$RABBIT_MGMTS_PORT/
  export RABBIT_PID AMQP_URL MGMT_URL AMQPS_URL MGMTS_URL
}

stop_rabbit() {
  [ -n "${RABBIT_DIR:-}" ] || return 0
  local pid; pid=$(_rabbit_pid); pid=${pid:-${RABBIT_PID:-}}
  if _alive "$pid"; then
    kill -CONT "$pid" 2>/dev/null   # a test may have left it SIGSTOPped
    rabbit_env timeout 60 "$RABBIT_BIN/rabbitmqctl" stop "$RABBIT_DIR/rabbit.pid" >>"$RABBIT_DIR/log/stop.out" 2>&1
    if ! _poll 100 _dead "$pid"; then
      kill -TERM "$pid" 2>/dev/null
      _poll 100 _dead "$pid" || { kill -KILL "$pid" 2>/dev/null; _poll 20 _dead "$pid"; }
    fi
  fi
  rm -f "$RABBIT_DIR/rabbit.pid"
  # the private epmd outlives the node: stopped by its pid (start_rabbit
  # starts it again)
  pid=$(_epmd_pid)
  if _alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    _poll 50 _dead "$pid" || { kill -KILL "$pid" 2>/dev/null; _poll 20 _dead "$pid"; }
  fi
  rm -f "$RABBIT_DIR/epmd.pid"
}

# same ports, node name and mnesia dir: users and durable queues survive
restart_rabbit() { stop_rabbit; start_rabbit; }

# rabbit_reset: deletes every queue, non-default exchange, policy and shovel
# of vhost / through the management API (one curl for all deletions).
rabbit_reset() {
  local cfg
  cfg=$(
    {
      rabbit_api GET 'queues/%2F?columns=name' | jq -r '.[].name | "queues/%2F/" + @uri'
      rabbit_api GET 'exchanges/%2F?columns=name' |
        jq -r '.[].name | select(. != "" and (startswith("amq.") | not)) | "exchanges/%2F/" + @uri'
      rabbit_api GET 'policies/%2F' | jq -r '.[].name | "policies/%2F/" + @uri'
      rabbit_api GET 'parameters/shovel/%2F' | jq -r '.[].name | "parameters/shovel/%2F/" + @uri'
    } 2>/dev/null | while IFS= read -r p; do
      printf 'url = "http://127.0.0.1:%s/api/%s"\noutput = "/dev/null"\n' "$RABBIT_MGMT_PORT" "$p"
    done
  )
  [ -n "$cfg" ] || return 0
  curl -s --max-time 60 -u "$RABBIT_USER:$RABBIT_PASS" -X DELETE -K - <<<"$cfg"
}
