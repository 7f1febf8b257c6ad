#!/usr/bin/env bash
# TLS for real, against the suite's RabbitMQ listening with TLS (AMQP and
# the management API; certificates from lib/servers.sh): with tls_ca set,
# `status`, `publish`, `worker` (tasks consumed over amqps, showing its
# client certificate), `dlq replay` and the console all work; a wrong CA
# is refused in one line naming the certificate problem and the file, and
# connects with tls_verify = false; a client certificate the broker does
# not trust, a key that cannot be read or is not the certificate's, and
# rediss:// are each refused in one line. Passwords stay "***".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"
source "$here/../lib/worker.sh"
source "$here/../lib/screen.sh"
trap screen_stop_all EXIT

T=$QDECK_TEST_TMP/tls
mkdir -p "$T"
worker_plugins "$T"
: >"$T/runs.log"
cat >"$T/qdeck.conf" <<CONF
[context tls]
amqp = $AMQPS_URL
mgmt = $MGMTS_URL
redis = $REDIS_URL
tls_ca = $TLS_CA
tls_cert = $TLS_CLIENT_CERT
tls_key = $TLS_CLIENT_KEY

[worker]
queues = amqp:tls-work
concurrency = 4
plugin_dir = $T/plugins
shutdown_timeout = 5

[task rec]
handler = worker_record
args = file=$T/runs.log

[task bad]
handler = fail
args = always=true
CONF
chmod 600 "$T/qdeck.conf"
q() { "$QDECK" --config "$T/qdeck.conf" "$@"; }
depth() { "$TOOLS/amqp-fill" "$AMQP_URL" depth "$1" | cut -d' ' -f1; }
depth_is() { [ "$(depth "$1")" = "$2" ]; }
ends_at_least() { [ "$(grep -c '^E ' "$T/runs.log")" -ge "$1" ]; }
has() { [[ $1 == *"$2"* ]]; }
lines() { grep -c . <<<"$1"; }
# the worker's connections, as the broker saw their TLS client certificate
client_cert_seen() {
  rabbit_api GET 'connections?columns=ssl,peer_cert_subject,user' |
    jq -e 'any(.[]; .ssl == true and .peer_cert_subject == "CN=qdeck-test-client")'
}

# ---------------------------------------------------------------- it works
json=$(q status --json 2>"$T/status.err"); rc=$?
expect_eq "status over amqps:// and https://: exit 0" "$rc" 0
expect_eq "status: the AMQP login over TLS is ok" \
  "$(jq -r '.sources[] | select(.kind == "amqp") | .status' <<<"$json")" ok
expect_eq "status: the management API over https is read" \
  "$(jq -r '.sources[] | select(.kind == "rabbitmq") | .server' <<<"$json")" "RabbitMQ 3.10.8"
expect_match "status: the https URL is redacted" "$json" "https://qdeck:\\*\\*\\*@127\\.0\\.0\\.1:$RABBIT_MGMTS_PORT/"
check "status: no password in --json" bash -c "! grep -q s3cret-pw <<<'$json'"

out=$(q publish amqp:tls-work --declare --type rec --count 20 2>&1 >"$T/good.ids"); rc=$?
expect_eq "publish over amqps: exit 0" "$rc" 0
expect_match "publish over amqps: confirmed" "$out" 'published 20 task\(s\) to amqp:tls-work, all confirmed'
q publish amqp:tls-work --type bad --count 3 >/dev/null 2>&1
check "20 + 3 tasks wait in tls-work" wait_for 10 depth_is tls-work 23

"$QDECK" --config "$T/qdeck.conf" worker --declare >"$T/worker.out" 2>"$T/worker.err" &
wpid=$!
check "worker over amqps: 20 tasks ran to the end" wait_for 60 ends_at_least 20
check "worker over amqps: 3 failing tasks dead-lettered" wait_for 30 depth_is tls-work.dlq 3
check "worker over amqps: tls-work drained" wait_for 30 depth_is tls-work 0
check "the broker saw the worker's client certificate (CN=qdeck-test-client)" wait_for 20 client_cert_seen
kill -TERM "$wpid"
wait "$wpid"; rc=$?
expect_eq "worker over amqps: SIGTERM ends it cleanly" "$rc" 0

screen_start console "$QDECK --config $T/qdeck.conf --refresh 0.5"
screen_keys console 2
check "console over https and amqps: the DLQ and its 3 tasks on screen" screen_wait console 30 'amqp:tls-work\.dlq +3 '
screen_keys console 6
check "console, DLQ view over amqps: the DLQ picked" screen_wait console 20 'amqp:tls-work\.dlq'
screen_keys console Enter
check "console, DLQ view over amqps: its 3 messages read" screen_wait console 20 'amqp:tls-work\.dlq  3 messages'
screen_keys console q

out=$(q dlq replay amqp:tls-work.dlq --all 2>&1); rc=$?
expect_eq "dlq replay over amqps: exit 0" "$rc" 0
check "dlq replay over amqps: the 3 are back in tls-work" wait_for 10 depth_is tls-work 3
check "dlq replay over amqps: the DLQ is empty" depth_is tls-work.dlq 0
screen_start wrong "$QDECK --config $T/qdeck.conf --tls-ca $TLS_WRONG_CA --refresh 0.5"
check "console with a wrong CA: the certificate problem on screen" screen_wait wrong 30 'certificate verify failed'
screen_keys wrong q

# ------------------------------------------------------------- a wrong CA
out=$(q --tls-ca "$TLS_WRONG_CA" status 2>&1 >/dev/null); rc=$?
expect_eq "wrong CA: status exits 3 (cannot reach a broker)" "$rc" 3
amqp_line=$(grep 'qdeck: amqp:' <<<"$out")
mgmt_line=$(grep 'qdeck: rabbitmq' <<<"$out")
expect_match "wrong CA, AMQP: one line naming the certificate problem" "$amqp_line" \
  "cannot connect to RabbitMQ amqps://qdeck:\\*\\*\\*@127\\.0\\.0\\.1:$RABBIT_AMQPS_PORT/%2F: certificate verify failed: self-signed certificate in certificate chain"
check "wrong CA, AMQP: the line names the CA file" has "$amqp_line" "(tls_ca = $TLS_WRONG_CA)"
expect_match "wrong CA, management API: one line naming the certificate problem" "$mgmt_line" \
  "https://qdeck:\\*\\*\\*@127\\.0\\.0\\.1:$RABBIT_MGMTS_PORT/: .*certificate verify failed: self-signed certificate in certificate chain"
check "wrong CA, management API: the line names the CA file" has "$mgmt_line" "(tls_ca = $TLS_WRONG_CA)"
expect_eq "wrong CA: exactly those two error lines on stderr" "$(grep -c '^qdeck:' <<<"$out")" 2
expect_match "wrong CA: the AMQP health line says TLS" "$out" "^amqp amqps://qdeck:\\*\\*\\*@127\\.0\\.0\\.1:$RABBIT_AMQPS_PORT/%2F +TLS refused"
check "wrong CA: no password on stderr" bash -c "! grep -q s3cret-pw <<<'$out'"

out=$(q --tls-ca "$TLS_WRONG_CA" publish amqp:tls-work --type rec 2>&1); rc=$?
expect_eq "wrong CA: publish exits 3" "$rc" 3
expect_eq "wrong CA: publish says it in one line" "$(lines "$out")" 1
expect_match "wrong CA: publish names the problem" "$out" 'certificate verify failed: self-signed certificate in certificate chain \(tls_ca = '
out=$(timeout 30 "$QDECK" --config "$T/qdeck.conf" --tls-ca "$TLS_WRONG_CA" worker 2>&1); rc=$?
expect_eq "wrong CA: the worker ends at once (exit 3), no retrying a certificate" "$rc" 3
expect_eq "wrong CA: the worker says it in one line" "$(lines "$out")" 1
expect_match "wrong CA: the worker names the problem" "$out" 'certificate verify failed: .*\(tls_ca = '
out=$(q --tls-ca "$TLS_WRONG_CA" dlq replay amqp:tls-work.dlq --all 2>&1); rc=$?
expect_eq "wrong CA: dlq replay exits 3" "$rc" 3
expect_match "wrong CA: dlq replay names the problem" "$out" 'certificate verify failed: .*\(tls_ca = '

json=$(q --tls-ca "$TLS_WRONG_CA" --tls-verify false status --json 2>/dev/null); rc=$?
expect_eq "wrong CA with --tls-verify false: status connects (exit 0)" "$rc" 0
expect_eq "wrong CA with --tls-verify false: AMQP ok" \
  "$(jq -r '.sources[] | select(.kind == "amqp") | .status' <<<"$json")" ok
out=$(QDECK_TLS_VERIFY=false q --tls-ca "$TLS_WRONG_CA" publish amqp:tls-work --type rec 2>&1); rc=$?
expect_eq "wrong CA with QDECK_TLS_VERIFY=false: publish confirmed" "$rc" 0
sed "s|^tls_ca = .*|tls_ca = $TLS_WRONG_CA\ntls_verify = false|" "$T/qdeck.conf" >"$T/noverify.conf"
chmod 600 "$T/noverify.conf"
out=$("$QDECK" --config "$T/noverify.conf" dlq list amqp:tls-work 2>&1); rc=$?
expect_eq "wrong CA with tls_verify = false in the file: dlq list connects" "$rc" 0
expect_match "tls_verify = false: the 3 replayed and the 1 published are listed" "$out" '^amqp:tls-work: 4 messages, 4 shown'
out=$(q --tls-verify maybe status 2>&1); rc=$?
expect_eq "--tls-verify maybe: usage error" "$rc" 2
expect_match "--tls-verify maybe: says so" "$out" "^qdeck: --tls-verify: 'maybe' is not a boolean"

# ------------------------------------------------------ client certificates
out=$(q --tls-cert "$TLS_STRANGER_CERT" --tls-key "$TLS_STRANGER_KEY" status 2>&1 >/dev/null); rc=$?
expect_eq "a client certificate of an unknown CA: exit 3" "$rc" 3
amqp_line=$(grep 'qdeck: amqp:' <<<"$out")
# TLS 1.3: the broker's alert comes after the handshake, and may be lost to
# the connection's reset
expect_match "a client certificate of an unknown CA: the broker's refusal in one line" "$amqp_line" \
  'TLS handshake failed: .*unknown ca|closed the TLS connection after the handshake: it refused the client certificate'
check "a client certificate of an unknown CA: names the certificate" has "$amqp_line" "(tls_cert = $TLS_STRANGER_CERT)"
mgmt_line=$(grep 'qdeck: rabbitmq' <<<"$out")
expect_match "a client certificate of an unknown CA, management API: the refusal in one line" "$mgmt_line" \
  "https://qdeck:\\*\\*\\*@127\\.0\\.0\\.1:$RABBIT_MGMTS_PORT/: .*TLS handshake failed: [^,]*alert unknown ca \\(tls_cert = "
check "a client certificate of an unknown CA, management API: names the certificate" \
  has "$mgmt_line" "(tls_cert = $TLS_STRANGER_CERT)"
expect_eq "a client certificate of an unknown CA: two lines" "$(grep -c '^qdeck:' <<<"$out")" 2

out=$(q --tls-key "$T/no-such-key.pem" status 2>&1); rc=$?
expect_eq "an unreadable tls_key: usage error (exit 2)" "$rc" 2
expect_eq "an unreadable tls_key: one line naming key, file and why" "$out" \
  "qdeck: context tls: tls_key = $T/no-such-key.pem: cannot read: No such file or directory"
out=$(q --tls-key "$TLS_STRANGER_KEY" worker 2>&1); rc=$?
expect_eq "a key that is not the certificate's: the worker does not start (exit 2)" "$rc" 2
expect_eq "a key that is not the certificate's: one line" "$(lines "$out")" 1
expect_match "a key that is not the certificate's: says so" "$out" \
  "tls_key = .*/stranger\\.key: not the unencrypted PEM private key of tls_cert = .*/client\\.pem \\(key values mismatch\\)"
out=$(q --tls-ca "$TLS_CLIENT_KEY" publish amqp:tls-work --type rec 2>&1); rc=$?
expect_eq "a tls_ca that is no certificate: exit 2" "$rc" 2
expect_match "a tls_ca that is no certificate: says so" "$out" "tls_ca = .*/client\\.key: not a PEM CA certificate"

# ----------------------------------------------- TLS port, plain client
out=$("$QDECK" --amqp "amqps://qdeck:s3cret-pw@127.0.0.1:$RABBIT_AMQP_PORT/%2F" --tls-ca "$TLS_CA" \
  publish amqp:tls-work --type rec 2>&1); rc=$?
expect_eq "amqps:// to the plain AMQP port: exit 3" "$rc" 3
expect_match "amqps:// to the plain AMQP port: says the port is not TLS" "$out" 'TLS handshake failed: .*is the port a TLS port\?'

# ------------------------------------------------------------- rediss://
want="TLS to Redis needs hiredis >= 1.0 with SSL; Debian's hiredis 0.14 has none"
out=$("$QDECK" --redis "rediss://:s3cret-pw@127.0.0.1:$REDIS_PORT/0" status 2>&1); rc=$?
expect_eq "rediss:// (flag): usage error (exit 2)" "$rc" 2
expect_eq "rediss:// (flag): exactly one line saying why" "$out" \
  "qdeck: rediss://:***@127.0.0.1:$REDIS_PORT/0: $want"
sed "s|^redis = .*|redis = rediss://127.0.0.1:$REDIS_PORT/0|" "$T/qdeck.conf" >"$T/rediss.conf"
out=$("$QDECK" --config "$T/rediss.conf" worker 2>&1); rc=$?
expect_eq "rediss:// (config): the worker does not start (exit 2)" "$rc" 2
expect_eq "rediss:// (config): one line saying why" "$out" "qdeck: rediss://127.0.0.1:$REDIS_PORT/0: $want"

finish
