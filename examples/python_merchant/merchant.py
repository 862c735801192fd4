"""A small merchant server for Tender: Python standard library + ``standardwebhooks``.

It does what a shop's backend does with a payment gateway:

1. ``POST /buy`` creates an order through the API (with an ``Idempotency-Key`` and a
   ``callback_url`` pointing back here) and sends the customer's browser to Tender's hosted
   checkout (``303 See Other``).
2. ``GET /return`` is where the checkout sends the browser when the payment ends. The query
   carries a ``signature``; the server checks it, then asks the API for the payment anyway
   (a browser can replay or drop a redirect; the API is the truth).
3. ``POST /webhooks`` receives Tender's webhooks and verifies them with the public
   ``standardwebhooks`` library before believing a byte; repeats (same ``webhook-id``) are
   acknowledged and ignored, because delivery is at least once.

``GET /orders.json`` shows what the server has learnt (for you, and for the test that runs
this file against a live gateway). Configuration is environment variables; see README.md.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import html
import json
import os
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

API_URL = os.environ.get("TENDER_API_URL", "http://localhost:8000").rstrip("/")
CHECKOUT_URL = os.environ.get("TENDER_CHECKOUT_URL", "http://localhost:3001").rstrip("/")
API_KEY = os.environ.get("TENDER_API_KEY", "key_test_abc123")
API_SECRET = os.environ.get("TENDER_API_SECRET", "secret_test_xyz789")
# The secret that signs checkout redirects: your default webhook endpoint's (the dashboard's
# Webhooks page shows it; the demo merchant's is whsec_test_abc123).
CALLBACK_SECRET = os.environ.get("TENDER_CALLBACK_SECRET", "whsec_test_abc123")
MAX_BODY = 1024 * 1024  # a webhook body is a few KiB; the Node receiver caps the same


class TenderError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        error = body.get("error", {})
        super().__init__(f"{status} {error.get('code')}: {error.get('description')}")
        self.status = status
        self.body = body


def api(method: str, path: str, body: dict[str, Any] | None = None, *, idempotency_key: str | None = None) -> Any:
    """One call to Tender's REST API; errors arrive in the documented envelope."""
    headers = {"X-Api-Key": API_KEY, "X-Api-Secret": API_SECRET, "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    request = urllib.request.Request(API_URL + path, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            return json.load(response)
    except urllib.error.HTTPError as exc:
        raise TenderError(exc.code, json.load(exc)) from None


# --- signatures -------------------------------------------------------------------------


def redirect_signature_valid(query: dict[str, str], secret: str) -> bool:
    """The checkout's redirect signature (docs/security.md): hex HMAC-SHA256, keyed with
    the secret as UTF-8, of ``v2|order_id|payment_id|status|amount|currency``. The outcome
    and the amount are inside it, so a customer who edits them breaks it."""
    try:
        fields = [query[name] for name in ("order_id", "payment_id", "status", "amount", "currency")]
        given = query["signature"]
    except KeyError:
        return False
    message = "|".join(["v2", *fields]).encode()
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


def webhook_verifier(secret: str) -> Webhook:
    """Secrets Tender generates are ``whsec_`` + base64 and the library takes them as they
    are. The seeded demo secret (``whsec_test_abc123``) is not base64: Tender keys its HMAC
    with the secret's raw bytes, and so must we."""
    try:
        if len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 16:
            return Webhook(secret)
    except (binascii.Error, ValueError):
        pass
    return Webhook(secret.encode())


# --- the shop's own state (a database in a real shop) ------------------------------------


class Shop:
    def __init__(self, public_url: str, webhook_secret: str) -> None:
        self.public_url = public_url
        self.verifier = webhook_verifier(webhook_secret)
        self.lock = threading.Lock()
        self.orders: dict[str, dict[str, Any]] = {}
        self.seen_webhooks: set[str] = set()

    def order_create(self, amount: int) -> str:
        order = api(
            "POST",
            "/api/v1/orders",
            {
                "amount": amount,
                "currency": "INR",
                "receipt": f"shop-{uuid.uuid4().hex[:8]}",
                "callback_url": f"{self.public_url}/return",
            },
            idempotency_key=str(uuid.uuid4()),  # a retry of this request creates no second order
        )
        with self.lock:
            self.orders[order["id"]] = {"order_id": order["id"], "amount": amount, "paid": False, "webhooks": []}
        return order["id"]

    def webhook_record(self, webhook_id: str, event: dict[str, Any]) -> bool:
        """Apply a verified event once; False when it is a repeat."""
        payment = event.get("data", {}).get("payment") or {}
        with self.lock:
            if webhook_id in self.seen_webhooks:
                return False
            self.seen_webhooks.add(webhook_id)
            order = self.orders.get(payment.get("order_id"))
            if order is not None:
                order["webhooks"].append(event["event"])
                if event["event"] == "payment.success":
                    order["paid"] = True
        return True


# --- HTTP -----------------------------------------------------------------------------


def handler_for(shop: Shop) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/":
                self._page(
                    200,
                    "Shop",
                    '<form method="post" action="/buy"><input name="amount" value="50000">'
                    "<button>Pay with Tender</button></form><p>Amounts are in paise.</p>",
                )
            elif url.path == "/return":
                self._return(dict(urllib.parse.parse_qsl(url.query)))
            elif url.path == "/orders.json":
                with shop.lock:
                    self._send(200, "application/json", json.dumps(list(shop.orders.values())).encode())
            else:
                self._page(404, "Not found", "Nothing here.")

        def do_POST(self) -> None:
            length = self.headers.get("Content-Length") or "0"
            if not length.isdigit() or int(length) > MAX_BODY:  # never read what nobody should send
                self._send(413, "text/plain", b"body too large or without a length")
                return
            body = self.rfile.read(int(length))
            if self.path == "/buy":
                form = dict(urllib.parse.parse_qsl(body.decode(errors="replace")))
                try:
                    order_id = shop.order_create(int(form.get("amount") or 50000))
                except ValueError:
                    self._page(400, "Not an amount", "Type the amount in paise, e.g. 50000 for ₹500.")
                    return
                except TenderError as exc:  # e.g. below the minimum: the gateway says why
                    self._page(400, "Order refused", html.escape(exc.body.get("error", {}).get("description", "")))
                    return
                self.send_response(303)
                self.send_header("Location", f"{CHECKOUT_URL}/checkout?order_id={order_id}")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/webhooks":
                self._webhook(body)
            else:
                self._page(404, "Not found", "Nothing here.")

        def _return(self, query: dict[str, str]) -> None:
            if not redirect_signature_valid(query, CALLBACK_SECRET):
                self._page(400, "Signature invalid", "This return link was not signed by Tender.")
                return
            with shop.lock:
                order = shop.orders.get(query["order_id"])
            if order is None or int(query["amount"]) != order["amount"] or query["currency"] != "INR":
                self._page(400, "Mismatch", "This payment is not for an order of this shop at its price.")
                return
            # Signed, but a redirect can be replayed or never arrive: the API has the last word.
            payment = api("GET", f"/api/v1/payments/{urllib.parse.quote(query['payment_id'])}")
            if payment["order_id"] != order["order_id"] or payment["amount"] != order["amount"]:
                self._page(400, "Mismatch", "This payment is for another order.")
                return
            if payment["status"] == "success":
                with shop.lock:
                    order["paid"] = True
            self._page(
                200,
                f"Payment {payment['status']}",
                f"Order {html.escape(payment['order_id'])}: payment {html.escape(payment['id'])} "
                f"is <strong data-status>{html.escape(payment['status'])}</strong>.",
            )

        def _webhook(self, body: bytes) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                event = shop.verifier.verify(body, headers)  # signature, and a timestamp within 5 min
            except WebhookVerificationError as exc:
                print(json.dumps({"webhook": "rejected", "error": str(exc)}), flush=True)
                self._send(400, "text/plain", b"bad signature")
                return
            fresh = shop.webhook_record(headers["webhook-id"], event)
            print(json.dumps({"webhook": event["event"], "id": headers["webhook-id"], "repeat": not fresh}), flush=True)
            self._send(204, "text/plain", b"")  # answer fast; do slow work elsewhere

        def _page(self, status: int, title: str, content: str) -> None:
            page = f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>{content}"
            self._send(status, "text/html; charset=utf-8", page.encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            if status != 204:
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 204:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one JSON line per webhook is printed instead

    return Handler


def webhook_endpoint_register(url: str) -> str:
    """Point a webhook endpoint of this merchant at ``url`` and return its signing secret.
    Re-running rotates the existing endpoint's secret instead of adding endpoints."""
    endpoints = api("GET", "/api/v1/webhook-endpoints")
    existing = next((e for e in endpoints["data"] if e["url"] == url), None)
    if existing is not None:
        return api("POST", f"/api/v1/webhook-endpoints/{existing['id']}/rotate-secret", {})["secret"]
    created = api(
        "POST",
        "/api/v1/webhook-endpoints",
        {"url": url, "event_types": ["payment.*", "refund.*"], "description": "python example merchant"},
    )
    return created["secret"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--public-url", help="how the gateway and browsers reach this server")
    parser.add_argument(
        "--register-webhook",
        action="store_true",
        help="create (or rotate) a webhook endpoint for PUBLIC_URL/webhooks and use its secret",
    )
    args = parser.parse_args()
    public_url = (args.public_url or os.environ.get("MERCHANT_PUBLIC_URL") or f"http://{args.host}:{args.port}").rstrip(
        "/"
    )
    secret = os.environ.get("TENDER_WEBHOOK_SECRET", "")
    if args.register_webhook:
        secret = webhook_endpoint_register(f"{public_url}/webhooks")
    if not secret:
        sys.exit("set TENDER_WEBHOOK_SECRET or pass --register-webhook")
    server = ThreadingHTTPServer((args.host, args.port), handler_for(Shop(public_url, secret)))
    print(json.dumps({"listening": public_url, "checkout": CHECKOUT_URL, "api": API_URL}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
