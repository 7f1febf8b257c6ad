#!/usr/bin/env bash
# Installs, with apt, exactly the Debian packages qdeck needs that are missing.
# Idempotent: prints nothing and touches nothing when all are present.
#   deps.sh [build|run|test|screenshots|bench|fuzz|deb]   (default: test, the superset of build/run)
# bench adds Debian's Celery 5 (run as /usr/bin/python3 -m celery), the peer
# the worker benchmark measures against.
set -euo pipefail

build=(gcc make pkg-config libncurses-dev librabbitmq-dev libhiredis-dev
       libcurl4-openssl-dev libcjson-dev libinih-dev libmicrohttpd-dev libcmocka-dev libssl-dev)
run=(redis-server)
test=(redis-server redis-tools rabbitmq-server amqp-tools tmux jq python3 procps curl iproute2 python3-celery openssl)
test+=(python3-redis)  # Celery's Redis transport and result backend (only Suggested by python3-celery)
test+=(debhelper dpkg-dev fakeroot lintian)  # make deb test (tests/integration/test_deb.sh)
test+=(systemd python3-yaml)  # contrib/ test: systemd-analyze verify, the Kubernetes YAML
test+=(groff man-db bash-completion zsh)  # test_install: man -l, groff -ww, the completions
test+=(prometheus)  # promtool and a real scraper for the exporter test
deb=(debhelper dpkg-dev fakeroot lintian)
shots=(tmux aha chromium)
bench=(python3-celery python3-kombu python3-amqp python3-redis)
fuzz=(clang libclang-rt-14-dev)

case "${1:-test}" in
  build) want=("${build[@]}") ;;
  run) want=("${build[@]}" "${run[@]}") ;;
  test) want=("${build[@]}" "${run[@]}" "${test[@]}") ;;
  screenshots) want=("${build[@]}" "${run[@]}" "${shots[@]}") ;;
  bench) want=("${build[@]}" "${run[@]}" "${test[@]}" "${bench[@]}") ;;
  fuzz) want=("${build[@]}" "${fuzz[@]}") ;;
  deb) want=("${build[@]}" "${deb[@]}") ;;
  *) echo "deps.sh: unknown set '$1' (build|run|test|screenshots|bench|fuzz|deb)" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
