"""Browser suite: headless Debian chromium (Playwright) against a REAL daphne and a REAL
Celery worker on the test database, one of each per module; a fresh browser context per
test. Waits use Playwright's auto-waiting ``expect`` only."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.processes import celery_worker, daphne_server, free_port

expect.set_options(timeout=15_000)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# The simulator settles fast in tests; the flows are the same as with the default 1 s.
WORKER_ENV = {"TEST_PROCESSING_DELAY": "300", "WEBHOOK_RETRY_INTERVALS_TEST": "true"}


@pytest.fixture(scope="module")
def live(django_db_setup, django_db_blocker) -> Iterator[str]:
    """Base URL of a real daphne, with a real Celery worker beside it whose simulator
    reports outcomes to that daphne (signed provider webhooks, as in production)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**WORKER_ENV, "SIMULATOR_CALLBACK_BASE_URL": base, "PUBLIC_BASE_URL": base}
    with django_db_blocker.unblock(), daphne_server(port=port, env=env), celery_worker(env=env):
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # around it are plain synchronous code, so Django's async-safety guard does not apply.
    # Set only while a browser is up, so the rest of the suite keeps the guard.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            instance = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def merchant_page_html(gateway: str, key: str, order_id: str) -> str:
    """A merchant's shop page embedding checkout.js, recording every callback."""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<script src="{gateway}/checkout.js"></script></head><body>
<button id="buy">Buy</button><pre id="result"></pre>
<script>
  window.events = [];
  function record(kind, data) {{
    window.events.push({{kind: kind, data: data}});
    document.getElementById("result").textContent = kind + ":" + (data && data.paymentId || "");
  }}
  document.getElementById("buy").addEventListener("click", function () {{
    window.gateway = new PaymentGateway({{
      key: "{key}", orderId: "{order_id}",
      onSuccess: function (d) {{ record("success", d); }},
      onFailure: function (d) {{ record("failure", d); }},
      onClose: function () {{ record("close", null); }}
    }});
    window.gateway.open();
  }});
</script></body></html>"""


class MerchantSite:
    """The merchant's own web server (a real one on loopback, at ``localhost`` so its
    origin differs from the gateway's ``127.0.0.1``): serves the shop page per test."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        port = free_port()
        self.origin = f"http://localhost:{port}"
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path.split("?")[0], "not found").encode()
                self.send_response(200 if self.path.split("?")[0] in site.pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def open(self, page: Page, *, gateway: str, key: str, order_id: str) -> None:
        self.pages["/shop"] = merchant_page_html(gateway, key, order_id)
        page.goto(f"{self.origin}/shop")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def shop() -> Iterator[MerchantSite]:
    site = MerchantSite()
    yield site
    site.close()


@dataclass
class Receiver:
    """A real HTTP webhook receiver on loopback; answers with ``codes`` in turn (then 200)."""

    url: str
    requests: list[dict] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    port = free_port()
    state = Receiver(url=f"http://127.0.0.1:{port}/hooks")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append({"headers": dict(self.headers), "body": body})
            code = state.codes.pop(0) if state.codes else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
