# Shared by the worker benchmarks (sourced after tests/lib/servers.sh):
# processes a benchmark starts go in `started` and are stopped by pid at
# exit, with the brokers and the scratch dir; rate_of reads a rate line.

started=()
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local p
  for p in "${started[@]}"; do stop_pid "$p"; done
  stop_rabbit || true
  stop_redis || true
  rm -rf "$QDECK_TEST_TMP"
}
trap cleanup EXIT

# rate_of "… R msgs/s" -> R
rate_of() { sed -n 's/.*: \([0-9][0-9.]*\) msgs\/s.*/\1/p' <<<"$1" | tail -1; }
