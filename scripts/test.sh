#!/usr/bin/env bash
# All tests: bootstrap, build (warnings are errors), CMocka unit tests under
# ASan+UBSan, then integration tests against the real local stack
# (MariaDB → Canal server → canal-es → OpenSearch 2.19; STACK_SEARCH=os3 for
# OpenSearch 3.x, es7 for Elasticsearch 7.17, es8 for Elasticsearch 8.x; TEST_NODES="opensearch os3 es8"
# for one pass on each: see docs/operations.md, "Search nodes"). Ends with "N passed, N failed"
# (", N skipped" when tests found the node without what they need); non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
skipped=0
t0=$(date +%s)

step() { printf '\n== %s\n' "$*" >&2; }
die() { echo "test.sh: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

step "bootstrap"
./scripts/bootstrap.sh || die "bootstrap failed"

step "build (release, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCANAL_ES_WERROR=ON >/dev/null || die "cmake configure failed"
cmake --build build -j"$JOBS" >/dev/null || { cmake --build build 2>&1 | tail -30 >&2; die "build failed"; }

step "build (ASan+UBSan) and unit tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCANAL_ES_SANITIZE=ON -DCANAL_ES_WERROR=ON -DCANAL_ES_BENCH=OFF >/dev/null ||
  die "cmake configure (sanitizers) failed"
cmake --build build-asan -j"$JOBS" >/dev/null || { cmake --build build-asan 2>&1 | tail -30 >&2; die "sanitizer build failed"; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in build-asan/test_*; do
  [ -x "$t" ] || continue
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E '^\[  (FAILED|  OK  |PASSED|  ERROR)' >&2 || true
  p=$(printf '%s\n' "$out" | sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' | tail -1)
  f=$(printf '%s\n' "$out" | sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    printf '%s\n' "$out" | tail -40 >&2
    echo "$t: exited $rc (sanitizer report or crash)" >&2
    f=1
  fi
  echo "unit $(basename "$t"): $p passed, $f failed" >&2
  passed=$((passed + p)); failed=$((failed + f))
done

# libFuzzer targets (an input slower than 25 s fails the run: -timeout): fuzz_value (Canal values,
# FUZZ_SECONDS, default 60 s), fuzz_input (INI loader, _bulk responses, dead-letter lines; FUZZ_INPUT_SECONDS,
# default 30 s), fuzz_packet (frames, packets, Entry/RowChange; FUZZ_PACKET_SECONDS, default 30 s) and fuzz_wire
# (the wire reader against protobuf-c, field by field; FUZZ_WIRE_SECONDS, default 30 s)
fuzz_one() { # fuzz_one NAME SECONDS
  local name=$1 secs=$2 corpus=tests/fuzz/corpus/${1#fuzz_}
  mkdir -p "build-fuzz/corpus-$name" build-fuzz/artifacts
  if build-fuzz/"$name" -max_total_time="$secs" -timeout=25 -max_len=8192 -print_final_stats=1 \
       -artifact_prefix=build-fuzz/artifacts/ "build-fuzz/corpus-$name" "$corpus" \
       >"build-fuzz/$name.log" 2>&1 </dev/null; then
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "build-fuzz/$name.log" >&2 || true
    echo "$name: 1 passed, 0 failed" >&2
    passed=$((passed + 1))
  else
    tail -40 "build-fuzz/$name.log" >&2
    echo "$name: found a failing input (build-fuzz/artifacts/)" >&2
    failed=$((failed + 1))
  fi
}
step "fuzz (libFuzzer)"
if cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCANAL_ES_FUZZ=ON -DCANAL_ES_TESTS=OFF -DCANAL_ES_BENCH=OFF \
     >/dev/null && cmake --build build-fuzz -j"$JOBS" --target fuzz_value fuzz_input fuzz_packet fuzz_wire >/dev/null; then
  fuzz_one fuzz_value "${FUZZ_SECONDS:-60}"
  fuzz_one fuzz_input "${FUZZ_INPUT_SECONDS:-30}"
  fuzz_one fuzz_packet "${FUZZ_PACKET_SECONDS:-30}"
  fuzz_one fuzz_wire "${FUZZ_WIRE_SECONDS:-30}"
else
  cmake --build build-fuzz --target fuzz_value fuzz_input fuzz_packet fuzz_wire 2>&1 | tail -20 >&2
  echo "fuzz: build failed" >&2
  failed=$((failed + 1))
fi

# the Canal HA cluster (ZooKeeper + two Canal servers) too: tests/integration/t_ha.py needs it
export STACK_HA=${STACK_HA:-1}
# TEST_NODES: the search nodes to run the integration tests on, one after the other (default:
# STACK_SEARCH, else opensearch), e.g. TEST_NODES="opensearch os3 es8" (docs/operations.md, "Search nodes")
for node in ${TEST_NODES:-${STACK_SEARCH:-opensearch}}; do
  export STACK_SEARCH=$node
  t_node=$(date +%s)
  step "local stack ($node, HA $STACK_HA)"
  stack_env=$(./scripts/stack.sh up)
  if [ $? -ne 0 ] || [ -z "$stack_env" ]; then
    ./scripts/stack.sh down >/dev/null 2>&1
    echo "stack ($node) did not come up" >&2
    failed=$((failed + 1))
    continue
  fi
  trap './scripts/stack.sh down >&2' EXIT
  rm -f build/integration-summary
  (
    set -a; eval "$stack_env"; set +a
    step "integration tests ($node)"
    python3 tests/integration/run.py --bin "$ROOT/build/canal-es" --summary "$ROOT/build/integration-summary"
  )
  if [ -f build/integration-summary ]; then
    read -r ip if_ is_ < build/integration-summary
    echo "integration on $node: $ip passed, $if_ failed, ${is_:-0} skipped ($(( $(date +%s) - t_node )) s with the stack)" >&2
    passed=$((passed + ip)); failed=$((failed + if_)); skipped=$((skipped + ${is_:-0}))
  else
    failed=$((failed + 1))
  fi
  ./scripts/stack.sh down >&2
  trap - EXIT
done

echo "test.sh: $(( $(date +%s) - t0 )) s" >&2
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
