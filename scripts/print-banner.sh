#!/usr/bin/env bash
# Print the URLs and demo credentials after `make run` has seeded the database.
set -euo pipefail
creds=.demo/credentials.json
# Demo credentials (and the passwords among them) are printed in demo mode only.
if [ "${DEMO_MODE:-false}" != "true" ]; then
  echo "Tender is starting in production mode (DEMO_MODE is off): no demo credentials."
  exit 0
fi
get() { .venv/bin/python -c "import json,sys; print(json.load(open('$creds')).get('$1',''))"; }
cat <<BANNER

  Tender is starting (Ctrl-C stops everything)

  Layout         nginx on :8000 :3000 :3001 -> gunicorn sync workers (API, pages)
                                            -> daphne (/ws/ websockets, status long-polls)
                 database pools sized in config/serving.py (checked against max_connections)

  API            http://localhost:8000/api/v1/      (also :3000 and :3001)
  API docs       http://localhost:8000/api/docs
  Health         http://localhost:8000/health
  Checkout       http://localhost:8000/checkout?order_id=<order_id>
  Dashboard      http://localhost:3000/             login: $(get merchant_email) / $(get dashboard_password)
  Admin          http://localhost:8000/admin/       login: $(get admin_username) / $(get admin_password)
  Webhook recv.  http://localhost:4000/              (verifies both signature schemes)

  Test merchant  $(get merchant_id)
  API key        $(get api_key)
  API secret     $(get api_secret)
  Webhook secret $(get webhook_secret)

  curl http://localhost:8000/api/v1/test/merchant     (demo mode: no credentials needed)
  Examples       examples/README.md (Python merchant, Node receiver, curl walkthrough)

BANNER
