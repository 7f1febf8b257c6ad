#!/usr/bin/env bash
# The rest of the worker's resilience, through `qdeck worker` against a
# local HTTP upstream that records every request body:
#  - a declared fallback answers while the breaker is forced open (the task
#    completes with the fallback result, no call made), and dep.X.fallback
#    makes the worker use it even while the breaker is closed;
#  - budget.max_response_tokens reaches the handler (the http plugin caps
#    the payload's max_tokens: seen at the upstream);
#  - dep.X.rate overrides the limiter live (heartbeat "limiters" shows it,
#    throttled tasks wait without being attempts, the upstream sees about
#    that rate);
#  - task.T.max_runtime_ms overrides the watchdog timeout live; the
#    cancelled call ends its permit as an error, none left in flight;
#  - shed.auto: when queue waits stay over [worker] shed_target, tasks
#    below shed_priority are parked (reason shed) while the others run;
#    turning it off releases them;
#  - SIGTERM with a guarded call in flight: the permit is released, the
#    final heartbeat shows nothing in flight.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"
source "$here/../lib/worker.sh"

T=$QDECK_TEST_TMP/worker-resilience-live
worker_plugins "$T"
port=$(free_ports 1)
bodies=$T/bodies
log=$T/runs.log
: >"$bodies"
: >"$log"

# upstream: answers 200 {} after ?ms= milliseconds; one line "<ms> <body>" per request
cat >"$T/upstream.py" <<'PY'
import sys, time
from urllib.parse import urlparse, parse_qs
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, bodies = int(sys.argv[1]), sys.argv[2]
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        with open(bodies, "a") as f:
            f.write("%d %s\n" % (int(time.time() * 1000), body))
        time.sleep(int(parse_qs(urlparse(self.path).query).get("ms", ["0"])[0]) / 1000)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
PY
python3 "$T/upstream.py" "$port" "$bodies" &
upstream=$!
wpid=
trap 'kill $upstream 2>/dev/null; [ -n "$wpid" ] && kill -9 $wpid 2>/dev/null' EXIT
check "upstream answers" wait_for 10 curl -sf -X POST -d x "http://127.0.0.1:$port/"
: >"$bodies"

cat >"$T/qdeck.conf" <<CONF
[context t]
redis = $REDIS_URL

[worker]
queues = redis:live
concurrency = 4
heartbeat = 0.5
plugin_dir = $T/plugins
retry_base = 0.2
retry_cap = 0.5
max_attempts = 3
shutdown_timeout = 1
shed_target = 0.2
shed_priority = 5

[task rec]
handler = worker_record
args = file=$log,ms=50

[task llm]
handler = http
args = url=http://127.0.0.1:$port/,timeout=10
dependency = llm-api

[task slowcall]
handler = http
args = url=http://127.0.0.1:$port/?ms=3000,timeout=10
timeout = 10
dependency = llm-api

[dependency llm-api]
window_size = 100
minimum_calls = 100
fallback = {"cached":true}
CONF
chmod 600 "$T/qdeck.conf"
q() { "$QDECK" --config "$T/qdeck.conf" "$@"; }
R="redis-cli -p $REDIS_PORT"
hb() { for k in $($R --scan --pattern 'qdeck:worker:*'); do $R get "$k"; done; }
field() { hb | jq -r "$1"; }
result_of() { $R hget "qdeck:task:$1" result; }
status_of() { $R hget "qdeck:task:$1" status; }
calls() { wc -l <"$bodies"; }

"$QDECK" --config "$T/qdeck.conf" worker >"$T/worker.out" 2>"$T/worker.err" &
wpid=$!
check "worker heartbeating with its dependency" wait_for 20 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.breakers[\"llm-api\"].state')\" = CLOSED ]"

# ------------------------------------------------------------ fallback
q breaker open llm-api >/dev/null 2>&1
check "forced open within 2 s" wait_for 2 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.breakers[\"llm-api\"].state')\" = FORCED_OPEN ]"
id=$(q publish redis:live --type llm --payload '{"prompt":"hi"}' 2>/dev/null)
check "breaker open + declared fallback: the task completes" wait_for 10 bash -c "[ \"\$($R hget qdeck:task:$id status)\" = COMPLETED ]"
expect_eq "its result is the fallback" "$(result_of "$id")" '{"cached":true}'
expect_eq "no call reached the upstream" "$(calls)" 0
q breaker reset llm-api >/dev/null 2>&1
q policy set dep.llm-api.fallback true >/dev/null 2>&1
check "dep.llm-api.fallback applied within 2 s" wait_for 2 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.policy.values[\"dep.llm-api.fallback\"]')\" = true ]"
expect_eq "breaker closed again after reset" "$(field '.breakers["llm-api"].state')" CLOSED
id=$(q publish redis:live --type llm --payload '{"prompt":"hi"}' 2>/dev/null)
check "fallback guardrail: the task completes" wait_for 10 bash -c "[ \"\$($R hget qdeck:task:$id status)\" = COMPLETED ]"
expect_eq "fallback guardrail: its result is the fallback" "$(result_of "$id")" '{"cached":true}'
expect_eq "fallback guardrail: still no call" "$(calls)" 0
check "heartbeat counts the fallbacks" wait_for 3 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.breakers[\"llm-api\"].fallbacks')\" -ge 2 ]"
q policy set dep.llm-api.fallback false >/dev/null 2>&1
check "fallback guardrail lifted within 2 s" wait_for 2 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.policy.values[\"dep.llm-api.fallback\"]')\" = false ]"

# ------------------------------------------------------------ token budget
q policy set budget.max_response_tokens 50 >/dev/null 2>&1
check "budget applied within 2 s" wait_for 2 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.policy.values[\"budget.max_response_tokens\"]')\" = 50 ]"
id=$(q publish redis:live --type llm --payload '{"prompt":"hi","max_tokens":4000}' 2>/dev/null)
check "budgeted call completes" wait_for 10 bash -c "[ \"\$($R hget qdeck:task:$id status)\" = COMPLETED ]"
expect_match "the handler got the budget: the upstream saw max_tokens 50" "$(tail -1 "$bodies")" '"max_tokens":50'
q policy set budget.max_response_tokens off >/dev/null 2>&1

# ------------------------------------------------------------ live rate
q policy set dep.llm-api.rate 5 >/dev/null 2>&1
check "dep.llm-api.rate 5 in the heartbeat's limiters within 2 s" wait_for 2 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.limiters[\"llm-api\"].rate')\" = 5 ]"
before=$(calls)
sleep 1.5   # let the bucket refill to its burst
q publish redis:live --type llm --payload '{}' --count 30 >"$T/rated.ids" 2>/dev/null
all_done() { local id; while read -r id; do [ "$(status_of "$id")" = COMPLETED ] || return 1; done <"$T/rated.ids"; }
check "30 rate-limited tasks all complete" wait_for 30 all_done
first=$(awk -v n="$before" 'NR == n + 1 { print $1 }' "$bodies")
last=$(tail -1 "$bodies" | awk '{ print $1 }')
span=$(( last - first ))
check "30 calls at 5/s (burst 5) take at least 4 s (took ${span} ms)" test "$span" -ge 4000
check "throttled tasks were deferred, counted by the limiter" test "$(field '.limiters["llm-api"].throttled')" -ge 10
expect_eq "throttling is not an attempt: nothing dead-lettered" "$($R llen live:dlq)" 0
q policy set dep.llm-api.rate off >/dev/null 2>&1

# ------------------------------------------------------------ max_runtime_ms
q policy set task.slowcall.max_runtime_ms 300 >/dev/null 2>&1
check "max_runtime_ms applied within 2 s" wait_for 2 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.policy.values[\"task.slowcall.max_runtime_ms\"]')\" = 300 ]"
errors_before=$(field '.breakers["llm-api"].failures')
id=$(q publish redis:live --type slowcall --payload '{}' 2>/dev/null)
check "the 3 s call is cancelled at 0.3 s (the override, not timeout = 10)" wait_for 10 grep -q "task $id (slowcall) retry in .* timed out after 0.3s" "$T/worker.err"
check "the cancelled call ended its permit as an error" wait_for 3 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.breakers[\"llm-api\"].failures')\" -gt $errors_before ]"
check "after max_attempts it is dead-lettered" wait_for 15 bash -c "[ \"\$($R llen live:dlq)\" = 1 ]"
check "no permit left in flight" wait_for 3 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.breakers[\"llm-api\"].in_flight')\" = 0 ]"
q policy set task.slowcall.max_runtime_ms off >/dev/null 2>&1
check "max_runtime_ms lifted within 2 s" wait_for 2 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.policy.values[\"task.slowcall.max_runtime_ms\"]')\" = off ]"

# ------------------------------------------------------------ shed.auto (CoDel)
q policy set shed.auto true >/dev/null 2>&1
q policy set queue.live.paused true >/dev/null 2>&1
check "shed.auto and the pause applied within 2 s" wait_for 2 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.policy.values[\"shed.auto\"] + .policy.values[\"queue.live.paused\"]')\" = truetrue ]"
q publish redis:live --type rec --priority 2 --count 40 >"$T/low.ids" 2>/dev/null
q publish redis:live --type rec --priority 8 --count 10 >"$T/high.ids" 2>/dev/null
sleep 1   # every task now waits > 1 s, over the 0.2 s target
q policy set queue.live.paused false >/dev/null 2>&1
ran_all() { local id; while read -r id; do grep -q "^E $id " "$log" || return 1; done <"$1"; }
check "shed.auto: the high-priority tasks all run" wait_for 20 ran_all "$T/high.ids"
check "shed.auto: the queue drains" wait_for 10 bash -c "[ \"\$($R llen live)\" = 0 ]"
parked=$($R llen live:parked)
low_ran=$(grep -c -F -f "$T/low.ids" "$log")
check "shed.auto: sheddable work was parked once waits stayed high ($parked parked, $low_ran low ran)" test "$parked" -ge 20
expect_eq "shed.auto: only priority < 5 was parked" "$($R lrange live:parked 0 -1 | jq -r .priority | sort -u)" 2
expect_match "shed.auto: the worker said why" "$(cat "$T/worker.err")" 'parked \(shed\)'
q policy set shed.auto false >/dev/null 2>&1
check "shed.auto off: the parked tasks are released and run" wait_for 30 ran_all "$T/low.ids"
expect_eq "shed.auto off: live:parked is empty" "$($R llen live:parked)" 0

# ------------------------------------------------------------ shutdown release
id=$(q publish redis:live --type slowcall --payload '{}' 2>/dev/null)
check "a 3 s guarded call is in flight" wait_for 10 bash -c "[ \"\$(for k in \$($R --scan --pattern 'qdeck:worker:*'); do $R get \$k; done | jq -r '.breakers[\"llm-api\"].in_flight')\" = 1 ]"
kill -TERM "$wpid"
wait "$wpid"; rc=$?
wpid=
expect_eq "SIGTERM: exit 0" "$rc" 0
expect_eq "final heartbeat: stopped" "$(field .state)" stopped
expect_eq "final heartbeat: the cut call's permit was released, none in flight" "$(field '.breakers["llm-api"].in_flight')" 0
expect_eq "the unfinished task went back to the queue" "$($R llen live)" 1
expect_nomatch "no double-ended permit" "$(cat "$T/worker.err")" 'double|ended twice'
finish
