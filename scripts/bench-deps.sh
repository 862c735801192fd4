#!/usr/bin/env bash
# Debian's wrk drives the payment-create benchmark (a Python load generator stands in
# without it, but it competes for the same CPU and understates throughput).
set -euo pipefail
if ! command -v wrk >/dev/null 2>&1; then
  echo "installing Debian wrk"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq wrk >/dev/null || echo "wrk not installed; bench/payments_create falls back to Python"
fi
