#!/usr/bin/env bash
# Node.js and npm for the examples' tests (examples/node_receiver is installed with `npm ci`).
set -euo pipefail
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing Debian nodejs and npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi
