#!/usr/bin/env bash
# Debian's chromium for the browser tests (Playwright drives it; never `playwright install`).
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
