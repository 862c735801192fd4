"""A small webhook receiver for demos and manual checks (``manage.py webhook_receiver``).

It verifies both signatures the way a merchant would (hex ``X-Webhook-Signature`` and the
Standard Webhooks headers with the public ``standardwebhooks`` library), prints one line per
delivery, and can answer 500 to the first N attempts of each event to show retries, or
(``--drip``) send its headers and then one body byte every N seconds, the slow receiver
that used to hold a delivery for minutes: Tender records the attempt failed at its 10 s
deadline.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webhooks.signing import hex_signature_valid, standard_key


def receiver_server(
    *, host: str, port: int, secret: str, fail_first: int, out: Callable[[str], None], drip: float = 0.0
) -> ThreadingHTTPServer:
    """Build (not start) the receiver's HTTP server."""
    verifier = Webhook(standard_key(secret))
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            webhook_id = headers.get("webhook-id", "?")
            with lock:
                seen[webhook_id] += 1
                attempt = seen[webhook_id]
            hex_ok = hex_signature_valid(secret=secret, body=body, signature=headers.get("x-webhook-signature", ""))
            try:
                verifier.verify(body, headers)
                standard_ok = True
            except WebhookVerificationError:
                standard_ok = False
            try:
                event = json.loads(body).get("event", "?")
            except ValueError:
                event = "(not json)"
            status = 500 if attempt <= fail_first else 200
            out(
                f"{datetime.now(tz=UTC).strftime('%H:%M:%S.%f')[:-3]} {event:<26} id={webhook_id} "
                f"attempt={attempt} x-webhook-signature={'valid' if hex_ok else 'INVALID'} "
                f"standard-webhooks={'valid' if standard_ok else 'INVALID'} -> {status}"
            )
            answer = b'{"received":true}' if status == 200 else b'{"error":"failing on purpose (--fail-first)"}'
            if drip:
                self._drip(answer, started=time.monotonic())
                return
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def _drip(self, answer: bytes, *, started: float) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.flush()
            try:
                for byte in answer:
                    time.sleep(drip)
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                out(f"  (--drip) the sender hung up after {time.monotonic() - started:.1f} s")
                self.close_connection = True

        def do_GET(self) -> None:
            answer = b"Tender webhook receiver: POST deliveries here.\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
