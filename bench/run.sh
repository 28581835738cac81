#!/usr/bin/env bash
# Builds foreman, foreman-fake-ollama and foreman-bench (Release, no test
# suites) into build/bench, then runs the benchmark, which prints a table and
# one `RESULT name=value` line per figure. Arguments go to foreman-bench
# (e.g. --only swap; --help lists them). Dependencies: deploy/install-deps.sh.
# Exit status: foreman-bench's (1 when any request failed, 2 on a setup error).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${FOREMAN_BENCH_JOBS:-2}"

build_dir="$root/build/bench"
bench_bin="$build_dir/bench/foreman-bench"

echo "bench: building Release into ${build_dir#"$root"/} (-j$jobs)" >&2
build_started=$SECONDS
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DFOREMAN_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j"$jobs" --target foreman-bench >/dev/null
echo "bench: build took $((SECONDS - build_started)) s; running the benchmark" >&2

run_started=$SECONDS
status=0
"$bench_bin" "$@" || status=$?
echo "bench: benchmark took $((SECONDS - run_started)) s (exit status $status)" >&2
exit "$status"
