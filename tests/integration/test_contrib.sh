#!/usr/bin/env bash
# The examples under contrib/ cannot rot:
# - contrib/qdeck.conf parses (exit 0 against the suite's brokers, 2 would be
#   a config error), so does a copy with every ";key = value" uncommented,
#   every key `--help-config` lists is shown in it, and each of its contexts,
#   pointed at a closed port, is "unreachable" (3), not a bad URL (2);
# - contrib/systemd/qdeck-worker.service passes `systemd-analyze verify`, is
#   hardened, gives the worker shutdown_timeout + 10 s to stop, and its
#   ExecStart, run as systemd would (credentials dir, %S), starts a worker
#   with that config that becomes ready and stops cleanly on SIGTERM;
# - contrib/kubernetes/worker-deployment.yaml parses, probes the paths and
#   port the worker serves, and its container args with its ConfigMap's
#   config and its Secret's variables start a worker that answers both
#   probes with 200 and stops cleanly on SIGTERM within the grace period.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"
source "$here/../lib/worker.sh"

contrib=$QDECK_REPO/contrib
T=$QDECK_TEST_TMP/contrib
mkdir -p "$T"
py() { /usr/bin/python3 "$QDECK_REPO/tests/lib/contrib.py" "$@"; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
worker_plugins "$T"

# ------------------------------------------------------------ qdeck.conf
example=$T/qdeck.conf
cp "$contrib/qdeck.conf" "$example"
chmod 600 "$example"
brokers=(--amqp "$AMQP_URL" --mgmt "$MGMT_URL" --redis "$REDIS_URL")

out=$("$QDECK" --config "$example" "${brokers[@]}" status 2>&1); rc=$?
expect_eq "contrib/qdeck.conf loads: status exits 0 against the suite's brokers" "$rc" 0
expect_nomatch "contrib/qdeck.conf: nothing to warn about once mode 600" "$out" 'warning|unknown|error'

sed -E 's/^;([a-z_]+ =)/\1/' "$example" >"$T/all-keys.conf"
chmod 600 "$T/all-keys.conf"
expect_match "the copy with every commented key set differs" "$(diff "$example" "$T/all-keys.conf")" '^> [a-z_]+ ='
check "every commented-out key is a valid key with a valid value (status exits 0)" \
  "$QDECK" --config "$T/all-keys.conf" "${brokers[@]}" status

"$QDECK" --help-config >"$T/help-config.txt"
expect_eq "every key of --help-config is shown in contrib/qdeck.conf" \
  "$(py missing-keys "$example" "$T/help-config.txt")" ""

read -r closed < <(free_ports 1)
py local-urls "$example" "$closed" "$T/no-such.sock" >"$T/closed.conf"
chmod 600 "$T/closed.conf"
ctxs=$(py contexts "$example")
expect_match "contrib/qdeck.conf has contexts" "$ctxs" '^prod$'
for c in $ctxs; do
  out=$(timeout 30 "$QDECK" --config "$T/closed.conf" --context "$c" status 2>&1); rc=$?
  expect_eq "context $c, hosts at a closed port: exit 3 (unreachable), not 2 (bad config)" "$rc" "3"
  expect_nomatch "context $c: no password on stderr" "$out" 'CHANGE-ME'
done

shutdown_timeout=$(py get "$example" worker shutdown_timeout)
[ -n "$shutdown_timeout" ] || shutdown_timeout=$(awk '$1 == "shutdown_timeout" { print $4 }' "$T/help-config.txt")
expect_match "shutdown_timeout known ($shutdown_timeout)" "$shutdown_timeout" '^[0-9]+$'
"$TOOLS/amqp-fill" "$AMQP_URL" declare orders >/dev/null   # the example's AMQP queue

# wait_ready URL: both probes answer 200
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1"; }
is_200() { [ "$(status_of "$1")" = 200 ]; }
# stops_within SECS PID: SIGTERM, then the process is gone within SECS
stops_within() { kill -TERM "$2" && wait_for "$1" _dead "$2"; }

# ------------------------------------------------------------- systemd
unit=$contrib/systemd/qdeck-worker.service
key() { sed -n "s/^$1=//p" "$unit"; }
if command -v systemd-analyze >/dev/null; then
  sed "s#^ExecStart=/usr/bin/qdeck #ExecStart=$QDECK_PLAIN #" "$unit" >"$T/qdeck-worker.service"
  out=$(systemd-analyze verify --man=no "$T/qdeck-worker.service" 2>&1); rc=$?
  expect_eq "systemd-analyze verify: clean" "$rc $out" "0 "
else
  _fail "systemd-analyze is not installed (Debian's systemd, in tests/lib/deps.sh)"
fi
expect_match "unit: a dedicated user" "$(key DynamicUser)$(key User)" '^(yes|qdeck)$'
for k in ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes PrivateTmp=yes KillSignal=SIGTERM \
         Restart=on-failure; do
  expect_eq "unit: $k" "${k%%=*}=$(key "${k%%=*}")" "$k"
done
expect_eq "unit: TimeoutStopSec = shutdown_timeout + 10" "$(key TimeoutStopSec)" "$((shutdown_timeout + 10))"

# ExecStart as systemd runs it: %d the credentials dir holding the config, %S /var/lib
read -ra exec_words <<<"$(key ExecStart)"
expect_eq "unit: ExecStart runs /usr/bin/qdeck" "${exec_words[0]}" /usr/bin/qdeck
cred=$T/credentials state=$T/state
mkdir -p "$cred" "$state/$(key StateDirectory)"
cp "$example" "$cred/$(key LoadCredential | cut -d: -f1)"
read -r sd_port < <(free_ports 1)
cmd=("$QDECK")
for w in "${exec_words[@]:1}"; do
  w=${w//%d/$cred}; w=${w//%S/$state}
  [[ $w =~ ^127\.0\.0\.1:[0-9]+$ ]] && { sd_listen=$w; w=127.0.0.1:$sd_port; }
  cmd+=("$w")
done
expect_eq "unit: ExecStart names the metrics address the example config has" \
  "${sd_listen:-}" "$(py get "$example" worker metrics_addr)"
sd_env=()
while IFS= read -r e; do sd_env+=("${e//%S/$state}"); done < <(key Environment)
workdir=$(key WorkingDirectory); workdir=${workdir//%S/$state}
(cd "$workdir" && exec env "${sd_env[@]}" QDECK_AMQP_URL="$AMQP_URL" QDECK_MGMT_URL="$MGMT_URL" \
   QDECK_REDIS_URL="$REDIS_URL" "${cmd[@]}" --plugin-dir "$T/plugins") >"$T/sd.out" 2>"$T/sd.err" &
sd_pid=$!; pids+=("$sd_pid")
check "unit's worker: /healthz 200" wait_for 30 is_200 "http://127.0.0.1:$sd_port/healthz"
check "unit's worker: /readyz 200 (every consumer of the example config connected)" \
  wait_for 30 is_200 "http://127.0.0.1:$sd_port/readyz"
check "unit's worker: SIGTERM stops it within TimeoutStopSec" stops_within "$(key TimeoutStopSec)" "$sd_pid"
wait "$sd_pid"; expect_eq "unit's worker: exit 0 after SIGTERM" "$?" 0
expect_nomatch "unit's worker: no error logged" "$(cat "$T/sd.err")" '"level":"error"|error:|ERROR'

# ---------------------------------------------------------- Kubernetes
facts=$(py k8s "$contrib/kubernetes/worker-deployment.yaml"); rc=$?
expect_eq "worker-deployment.yaml parses and has Deployment qdeck-worker" "$rc" 0
fact() { jq -r "$1" <<<"$facts"; }
args=$(fact '.args | join(" ")')
listen=$(fact '.args as $a | ($a | index("--metrics-addr")) as $i | $a[$i + 1]')
expect_match "k8s: the container runs \`qdeck ... worker --metrics-addr\`" "$args" '(^| )worker( |$)'
expect_match "k8s: metrics listener on all addresses" "$listen" '^0\.0\.0\.0:[0-9]+$'
expect_eq "k8s: liveness on /healthz" "$(fact .liveness.path)" /healthz
expect_eq "k8s: readiness on /readyz" "$(fact .readiness.path)" /readyz
expect_eq "k8s: liveness port is the metrics listener's" "$(fact .liveness.port)" "${listen##*:}"
expect_eq "k8s: readiness port is the metrics listener's" "$(fact .readiness.port)" "${listen##*:}"
expect_eq "k8s: the containerPort is the metrics listener's" "$(fact '.ports | join(",")')" "${listen##*:}"
expect_match "k8s: cpu and memory requests and limits" \
  "$(fact '[.resources.requests.cpu, .resources.requests.memory, .resources.limits.cpu, .resources.limits.memory] | map(. != null) | all')" true
expect_eq "k8s: broker URLs from the Secret, every key present" \
  "$(fact '[.secret_refs[] | select(.ok) | .env] | sort | join(",")')" QDECK_AMQP_URL,QDECK_MGMT_URL,QDECK_REDIS_URL
conf_path=$(fact '.args as $a | ($a | index("--config")) as $i | $a[$i + 1]')
expect_eq "k8s: --config is a file of the mounted ConfigMap" \
  "$(jq -r --arg p "$conf_path" '.config_files | has($p)' <<<"$facts")" true
mkdir -p "$T/k8s"
jq -r --arg p "$conf_path" '.config_files[$p]' <<<"$facts" >"$T/k8s/qdeck.conf"
k8s_timeout=$(py get "$T/k8s/qdeck.conf" worker shutdown_timeout)
expect_eq "k8s: terminationGracePeriodSeconds = the ConfigMap's shutdown_timeout + 10" \
  "$(fact .grace)" "$(( ${k8s_timeout:-$shutdown_timeout} + 10 ))"

read -r k8s_port < <(free_ports 1)
k8s_cmd=("$QDECK")
while IFS= read -r w; do
  [ "$w" = "$conf_path" ] && w=$T/k8s/qdeck.conf
  [ "$w" = "$listen" ] && w=127.0.0.1:$k8s_port
  k8s_cmd+=("$w")
done < <(fact '.args[]')
k8s_env=()
while IFS= read -r e; do k8s_env+=("$e"); done < <(fact '.env | to_entries[] | "\(.key)=\(.value)"')
mkdir -p "$T/k8s/state"
(exec env "${k8s_env[@]/#XDG_STATE_HOME=*/XDG_STATE_HOME=$T/k8s/state}" QDECK_AMQP_URL="$AMQP_URL" \
   QDECK_MGMT_URL="$MGMT_URL" QDECK_REDIS_URL="$REDIS_URL" "${k8s_cmd[@]}" --plugin-dir "$T/plugins") \
  >"$T/k8s.out" 2>"$T/k8s.err" &
k8s_pid=$!; pids+=("$k8s_pid")
check "k8s worker: liveness $(fact .liveness.path) 200" wait_for 30 is_200 "http://127.0.0.1:$k8s_port$(fact .liveness.path)"
check "k8s worker: readiness $(fact .readiness.path) 200" wait_for 30 is_200 "http://127.0.0.1:$k8s_port$(fact .readiness.path)"
check "k8s worker: SIGTERM stops it within the grace period" stops_within "$(fact .grace)" "$k8s_pid"
wait "$k8s_pid"; expect_eq "k8s worker: exit 0 after SIGTERM" "$?" 0
expect_nomatch "k8s worker: no error logged" "$(cat "$T/k8s.err")" '"level":"error"|error:|ERROR'

finish
