#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ with clang (ASan + UBSan) and
# runs each for SECONDS (default 60). Not part of `make test`: a fuzzing
# session, run by hand or nightly. Crashes land in build-fuzz/crashes/.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
secs=${1:-60}; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//'))
pkgs="librabbitmq hiredis libcurl libcjson inih libmicrohttpd ncursesw"
mkdir -p build-fuzz/crashes
lib_src=$(find src -name '*.c' ! -name main.c | sort)
for t in "${targets[@]}"; do
  echo "== $t: building"
  clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc $(pkg-config --cflags $pkgs) \
    -o "build-fuzz/$t" "tests/fuzz/$t.c" $lib_src $(pkg-config --libs $pkgs) -lpthread -lm
  mkdir -p "build-fuzz/corpus-$t"
  echo "== $t: fuzzing for ${secs}s"
  "build-fuzz/$t" -max_total_time="$secs" -artifact_prefix=build-fuzz/crashes/ "build-fuzz/corpus-$t" 2>&1 | tail -3
done
