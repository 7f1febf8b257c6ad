#!/usr/bin/env bash
# A slow job does not cost the scheduler its lease: a probe of a RabbitMQ
# that greets (connection.start) and then never answers takes the context's
# timeout (4 s, longer than the 3 s lease; net/amqp-login.h gives a peer
# that does not greet up after 1 s, so this one must greet to be slow), yet
# the leader keeps the lease through it (a keeper thread renews it) and no
# other node runs the job meanwhile; the probe records the failure with its
# reason.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

R="redis-cli -p $REDIS_PORT"
dir=$QDECK_TEST_TMP/sched-slow-$$
mkdir -p "$dir"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

# a "broker" that answers the protocol header with connection.start, then
# says nothing
python3 -c '
import socket, struct
def longstr(b): return struct.pack(">I", len(b)) + b
props = longstr(bytes([7]) + b"product" + b"S" + longstr(b"hung"))
payload = struct.pack(">HHBB", 10, 10, 0, 9) + props + longstr(b"PLAIN") + longstr(b"en_US")
start = struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce"
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)
    c.settimeout(2)
    try:
        c.recv(8); c.sendall(start)
    except OSError:
        pass
' >"$dir/hung.port" &
pids+=($!)
check "hung listener up" wait_for 5 test -s "$dir/hung.port"
hung=$(cat "$dir/hung.port")

cat > "$dir/qdeck.conf" <<CONF
[context test]
redis = $REDIS_URL
amqp = amqp://guest:guest@127.0.0.1:$hung/
timeout = 4

[schedule slow]
every = 1
action = probe
CONF
chmod 600 "$dir/qdeck.conf"
for i in 1 2; do
  "$TOOLS/sched-node" --redis "$REDIS_URL" --sched --config "$dir/qdeck.conf" --lease 3 >"$dir/n$i.out" 2>"$dir/n$i.err" &
  pids+=($!)
done
check "a leader" wait_for 10 bash -c "[ -n \"\$($R get qdeck:sched:leader)\" ]"
first=$($R get qdeck:sched:leader)
check "the slow probe ran once and failed on the hung broker" wait_for 15 bash -c \
  "$R hget qdeck:sched:job:slow last_result | grep -q 'rabbitmq FAILED'"
changes=0; prev=$first
for _ in $(seq 40); do
  l=$($R get qdeck:sched:leader)
  [ "$l" = "$prev" ] || { changes=$((changes + 1)); prev=$l; }
  sleep 0.25
done
expect_eq "the lease never changed hands during 10 s of 4 s jobs" "$changes" 0
expect_eq "the first leader still leads" "$($R get qdeck:sched:leader)" "$first"
expect_eq "only the leader ran the job" "$($R hget qdeck:sched:job:slow leader)" "$first"
expect_match "the reason is recorded" "$($R hget qdeck:sched:job:slow last_result)" 'rabbitmq FAILED \(amqp://guest:\*\*\*@'
runs=$($R hget qdeck:sched:job:slow runs)
check "about one run per 4 s probe (10 s: 2-4 runs, not 10)" test "$runs" -ge 2 -a "$runs" -le 5
finish
