#!/usr/bin/env bash
# Installs dependencies, builds foreman and runs it in the foreground.
# foreman uses the Ollama at FOREMAN_OLLAMA_URL (default http://127.0.0.1:11434).
# When none answers there, this script starts the project's fake Ollama
# target beside foreman as a demo, and says so. Arguments go to foreman.
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DFOREMAN_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j2 --target foreman foreman-fake-ollama

ollama_url="${FOREMAN_OLLAMA_URL:-http://127.0.0.1:11434}"
ollama_url="${ollama_url%/}"
if curl -fsS -m 3 "$ollama_url/api/version" >/dev/null 2>&1; then
  echo "run: using the Ollama at $ollama_url"
else
  fake_log=$(mktemp)
  build/release/fake_target/foreman-fake-ollama --listen 127.0.0.1:0 >"$fake_log" 2>&1 &
  fake_pid=$!
  trap 'kill "$fake_pid" 2>/dev/null || true; rm -f "$fake_log"' EXIT
  for _ in $(seq 1 100); do
    grep -q '^fake-ollama listening on ' "$fake_log" && break
    sleep 0.1
  done
  fake_address=$(sed -n 's/^fake-ollama listening on //p' "$fake_log" | head -n 1)
  if [ -z "$fake_address" ]; then
    echo "run: the fake Ollama target did not start:" >&2
    cat "$fake_log" >&2
    exit 1
  fi
  export FOREMAN_OLLAMA_URL="http://$fake_address"
  echo "run: no Ollama answers at $ollama_url."
  echo "run: DEMO MODE: started foreman's fake Ollama target at $FOREMAN_OLLAMA_URL"
  echo "run: (simulated models llama3.2, qwen2.5, mistral and all-minilm; replies are canned, not real inference)."
  echo "run: set FOREMAN_OLLAMA_URL to a real Ollama to use it instead."
fi

# Not exec: the trap above must stop the demo target when foreman ends.
build/release/foreman "$@"
