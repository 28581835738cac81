#!/usr/bin/env bash
# Installs dependencies, builds foreman with warnings as errors and runs the
# whole test suite with CTest. With --sanitize, the build and the suite run
# under AddressSanitizer and UndefinedBehaviorSanitizer instead.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build/test
cmake_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DFOREMAN_WERROR=ON)
if [ "${1:-}" = "--sanitize" ]; then
  build_dir=build/sanitize
  cmake_flags+=(-DFOREMAN_SANITIZE=ON)
  # CAF 0.17's headers trip UBSan in places that are harmless; see the file.
  export UBSAN_OPTIONS="suppressions=$PWD/deploy/ubsan.supp:print_stacktrace=1:halt_on_error=1"
  export ASAN_OPTIONS="detect_leaks=1"
fi

./deploy/install-deps.sh
cmake -S . -B "$build_dir" "${cmake_flags[@]}" >/dev/null
cmake --build "$build_dir" -j2
ctest --test-dir "$build_dir" --output-on-failure --timeout 600
