#!/usr/bin/env bash
# Debian's nginx: the front of `make run` on 8000, 3000 and 3001 (config/serving.py renders
# its configuration). Installed the way browser-deps.sh installs chromium.
set -euo pipefail
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "installing Debian nginx-light"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nginx-light >/dev/null
  # the package may start a system nginx on :80; this gateway runs its own
  if command -v service >/dev/null 2>&1; then service nginx stop >/dev/null 2>&1 || true; fi
fi
