#!/usr/bin/env bash
# Tender from the command line: an order, a payment, its outcome, a refund and the event
# log, with nothing but curl (and python3 to pick fields out of the JSON answers).
#
#   ./walkthrough.sh                       # against `make run` on localhost
#   TENDER_API_URL=https://pay.example.com TENDER_API_KEY=key_live_… TENDER_API_SECRET=… ./walkthrough.sh
set -euo pipefail

API="${TENDER_API_URL:-http://localhost:8000}"
KEY="${TENDER_API_KEY:-key_test_abc123}"
SECRET="${TENDER_API_SECRET:-secret_test_xyz789}"
WAIT="${TENDER_WAIT_SECONDS:-30}"   # how long to wait for the worker to settle a payment

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# field KEY: read JSON on stdin, print one field (a.b for nested ones).
field() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[int(k) if k.isdigit() else k]
print(v)' "$1"; }
api() {  # api METHOD PATH [JSON] — authenticated call; fails on any non-2xx answer
  curl -fsS -X "$1" "$API$2" -H "X-Api-Key: $KEY" -H "X-Api-Secret: $SECRET" \
       -H 'Content-Type: application/json' ${3:+--data "$3"} "${@:4}"
}

say "1. Is the gateway up?"
curl -fsS "$API/health"; echo

say "2. Create an order (amounts are integers in minor units: 50000 paise = ₹500.00)"
order=$(api POST /api/v1/orders '{"amount": 50000, "currency": "INR", "receipt": "walkthrough-1"}')
echo "$order"
order_id=$(field id <<<"$order")

say "3. Pay it by UPI, with an Idempotency-Key so a retry can never charge twice"
idem="walkthrough-$(date +%s)-$RANDOM"
body="{\"order_id\": \"$order_id\", \"method\": \"upi\", \"vpa\": \"success@upi\"}"
payment=$(api POST /api/v1/payments "$body" -H "Idempotency-Key: $idem")
echo "$payment"
payment_id=$(field id <<<"$payment")

say "4. The same request again (a network retry): the same payment comes back, replayed"
headers=$(mktemp); trap 'rm -f "$headers"' EXIT
again=$(api POST /api/v1/payments "$body" -H "Idempotency-Key: $idem" -D "$headers")
[ "$(field id <<<"$again")" = "$payment_id" ] || { echo "a second payment was created" >&2; exit 1; }
echo "same payment $payment_id, $(grep -i '^idempotent-replayed' "$headers" | tr -d '\r')"

say "5. Wait for the outcome: the status endpoint long-polls (answers as soon as the version moves)"
deadline=$((SECONDS + WAIT))
status=pending version=1
while [ "$status" = pending ] && [ $SECONDS -lt $deadline ]; do
  answer=$(api GET "/api/v1/payments/$payment_id/status?wait=10&after_version=$version")
  status=$(field status <<<"$answer"); version=$(field version <<<"$answer")
done
echo "$answer"
[ "$status" = success ] || { echo "payment ended $status" >&2; exit 1; }

say "6. Refund part of it"
refund=$(api POST "/api/v1/payments/$payment_id/refunds" '{"amount": 10000, "reason": "walkthrough"}')
echo "$refund"
refund_id=$(field id <<<"$refund")

say "7. Wait for the refund to be processed"
deadline=$((SECONDS + WAIT))
until [ "$(api GET "/api/v1/refunds/$refund_id" | field status)" = processed ]; do
  [ $SECONDS -lt $deadline ] || { echo "refund not processed after ${WAIT}s" >&2; exit 1; }
  sleep 1
done
api GET "/api/v1/refunds/$refund_id"; echo

say "8. List this payment's refunds"
api GET "/api/v1/refunds?payment_id=$payment_id"; echo

say "9. What happened lately: the event log, newest first"
api GET "/api/v1/events?order=desc&limit=5" | python3 -c 'import json,sys
for e in json.load(sys.stdin)["data"]: print(e["created_at"], e["type"], e["object_id"])'

say "10. Machines replay the log oldest first from a cursor (here: everything after the first event)"
first=$(api GET "/api/v1/events?object_id=$payment_id&limit=1" | field data.0.id)
api GET "/api/v1/events?object_id=$payment_id&after=$first" | python3 -c 'import json,sys
page=json.load(sys.stdin); print(" -> ".join(e["type"] for e in page["data"]), "| next_cursor:", page["next_cursor"])'

say "11. Mistakes come back as a 400 in one envelope (this order is below the minimum)"
curl -sS -X POST "$API/api/v1/orders" -H "X-Api-Key: $KEY" -H "X-Api-Secret: $SECRET" \
     -H 'Content-Type: application/json' --data '{"amount": 50}' -w '\nHTTP %{http_code}\n'

say "done: order $order_id, payment $payment_id ($status), refund $refund_id (processed)"
