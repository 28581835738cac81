#!/usr/bin/env bash
# Installs every Debian package foreman needs to build, run and test.
# Idempotent: packages already present are skipped without touching apt.
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config curl
  libcaf-dev libpoco-dev libboost-test-dev libsqlite3-dev sqlite3
  openssl # the https webhook test makes its certificates with it
  chromium # the dashboard's browser test drives it headless
  haproxy # the bench's baseline: a serializing reverse proxy (bench/README.md)
)

# Node.js runs the official clients in the tests; a machine may have it from
# elsewhere than Debian, so look for the commands rather than the packages.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi

# The official Ollama and OpenAI clients, for the tests that drive foreman
# with them; pinned by tests/clients/package-lock.json.
clients_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/clients"
if [ ! -d "$clients_dir/node_modules/ollama" ] || [ ! -d "$clients_dir/node_modules/openai" ] \
   || [ "$clients_dir/package-lock.json" -nt "$clients_dir/node_modules/.package-lock.json" ]; then
  echo "install-deps: installing the npm clients in tests/clients"
  npm ci --prefix "$clients_dir" --no-audit --no-fund --loglevel=error
fi

# The dashboard's chart library (compiled into foreman) and playwright-core
# (which drives Debian's chromium in the browser test); pinned by
# ui/package-lock.json.
ui_dir="$(cd "$(dirname "$0")/.." && pwd)/ui"
if [ ! -d "$ui_dir/node_modules/uplot" ] || [ ! -d "$ui_dir/node_modules/playwright-core" ] \
   || [ "$ui_dir/package-lock.json" -nt "$ui_dir/node_modules/.package-lock.json" ]; then
  echo "install-deps: installing the dashboard's npm packages in ui"
  npm ci --prefix "$ui_dir" --no-audit --no-fund --loglevel=error
fi
