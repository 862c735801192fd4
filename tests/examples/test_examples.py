"""The runnable examples in examples/, each run as its README says against a live gateway: a
real daphne and a real Celery worker (whose simulator settles payments through signed
provider webhooks and whose webhook worker delivers to the examples) on the test database,
with the demo merchant seeded as `make run` seeds it.

* the Python merchant server creates an order, redirects to the hosted checkout, verifies
  the checkout's signed return redirect (and refuses an edited one) and receives webhooks
  verified with ``standardwebhooks``;
* the Node.js receiver is installed with ``npm ci`` from its lock file and verifies webhooks
  with the ``standardwebhooks`` npm package, both with a generated secret and with the demo
  secret;
* the curl walkthrough runs from start to end.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from payments.demo import TEST_API_KEY, TEST_API_SECRET
from tests.support.processes import BIN, ROOT, celery_worker, daphne_server, free_port, stop_process, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live, pytest.mark.worker]

EXAMPLES = ROOT / "examples"
WORKER_ENV = {"TEST_PROCESSING_DELAY": "200", "WEBHOOK_RETRY_INTERVALS_TEST": "true"}


@pytest.fixture(scope="module")
def gateway(django_db_setup, django_db_blocker) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**WORKER_ENV, "SIMULATOR_CALLBACK_BASE_URL": base, "PUBLIC_BASE_URL": base}
    with django_db_blocker.unblock(), daphne_server(port=port, env=env), celery_worker(env=env):
        yield base


# --- plain HTTP, as a customer's browser or a merchant's server speaks it -----------------


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http(method: str, url: str, body: dict | bytes | None = None, headers: dict | None = None) -> Response:
    headers = dict(headers or {})
    data = body
    if isinstance(body, dict):
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with _opener.open(request, timeout=15) as answer:
            return Response(answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as answer:
        return Response(answer.code, dict(answer.headers), answer.read())


def api(gateway: str, method: str, path: str, body: dict | None = None) -> Response:
    return http(method, gateway + path, body, {"X-Api-Key": TEST_API_KEY, "X-Api-Secret": TEST_API_SECRET})


@contextmanager
def process(args: list[str], *, cwd: Path, env: dict[str, str]) -> Iterator[queue.Queue]:
    """A child process whose stdout lines arrive on the yielded queue."""
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        yield lines
    finally:
        stop_process(proc)


def next_json_line(lines: queue.Queue, predicate, *, timeout: float, seen: list | None = None) -> dict:
    """The first JSON line on ``lines`` matching ``predicate`` within ``timeout`` seconds."""
    found: list[dict] = []

    def arrived() -> bool:
        while not lines.empty():
            line = lines.get()
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if seen is not None:
                seen.append(record)
            if predicate(record):
                found.append(record)
        return bool(found)

    wait_for(arrived, timeout=timeout, message="an expected line from the example")
    return found[0]


# --- the Python merchant ----------------------------------------------------------------


def test_python_merchant_sells_through_the_hosted_checkout(gateway, demo):
    port = free_port()
    shop = f"http://127.0.0.1:{port}"
    env = {"TENDER_API_URL": gateway, "TENDER_CHECKOUT_URL": gateway, "PYTHONUNBUFFERED": "1"}
    command = [str(BIN / "python"), "merchant.py", "--port", str(port), "--register-webhook"]
    with process(command, cwd=EXAMPLES / "python_merchant", env=env) as out:
        next_json_line(out, lambda r: r.get("listening") == shop, timeout=20)

        form = {"Content-Type": "application/x-www-form-urlencoded"}
        too_small = http("POST", f"{shop}/buy", b"amount=50", form)
        assert too_small.status == 400 and b"amount must be at least 100" in too_small.body

        # The customer presses "Pay": an order is created and the browser sent to the checkout.
        bought = http("POST", f"{shop}/buy", b"amount=50000", {"Content-Type": "application/x-www-form-urlencoded"})
        assert bought.status == 303
        checkout = bought.headers["Location"]
        assert checkout.startswith(f"{gateway}/checkout?order_id=order_")
        order_id = urllib.parse.parse_qs(urllib.parse.urlsplit(checkout).query)["order_id"][0]
        assert http("GET", checkout).status == 200

        # The checkout page pays (what its form posts), then polls until the payment is final.
        paid = http(
            "POST", f"{gateway}/api/v1/payments/public", {"order_id": order_id, "method": "upi", "vpa": "success@upi"}
        )
        assert paid.status == 201, paid.body
        payment_id = paid.json()["id"]
        status_url = f"{gateway}/checkout/payments/{payment_id}"
        wait_for(lambda: http("GET", status_url).json()["redirect_url"], timeout=30, message="payment final")
        redirect = http("GET", status_url).json()["redirect_url"]
        assert redirect.startswith(f"{shop}/return?payment_id={payment_id}")

        # The browser lands on the shop: signature checked, then the payment confirmed by the API.
        landed = http("GET", redirect)
        assert landed.status == 200, landed.body
        assert f"payment {payment_id} is <strong data-status>success</strong>" in landed.body.decode()
        for edited in (
            redirect.replace("status=success", "status=failed"),
            redirect.replace("amount=50000", "amount=100"),
        ):
            refused = http("GET", edited)
            assert refused.status == 400 and b"Signature invalid" in refused.body

        # The webhooks the worker delivered were verified with standardwebhooks and applied once.
        next_json_line(out, lambda r: r.get("webhook") == "payment.success", timeout=30)
        orders = {o["order_id"]: o for o in http("GET", f"{shop}/orders.json").json()}
        assert orders[order_id]["paid"] is True
        assert "payment.success" in orders[order_id]["webhooks"]

        forged = http(
            "POST",
            f"{shop}/webhooks",
            b'{"event":"payment.success"}',
            {"webhook-id": "evt_forged", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
        )
        assert forged.status == 400
        next_json_line(out, lambda r: r.get("webhook") == "rejected", timeout=5)
        # A client announcing a body it never sends is refused without the shop waiting for it.
        huge = http("POST", f"{shop}/webhooks", b"", {"Content-Length": str(10**10)})
        assert huge.status == 413

    # The gateway's delivery log agrees (the worker records the 204 just after the shop saw it).
    def delivered() -> bool:
        logs = api(gateway, "GET", "/api/v1/webhooks?event=payment.success&status=success").json()["data"]
        return any(log["response_code"] == 204 for log in logs)

    wait_for(delivered, timeout=15, message="the delivery recorded as a success")


# --- the Node.js receiver ---------------------------------------------------------------


@pytest.fixture(scope="module")
def node_receiver_dir(tmp_path_factory) -> Path:
    """The example copied out of the work tree and installed exactly from its lock file."""
    target = tmp_path_factory.mktemp("node") / "node_receiver"
    shutil.copytree(EXAMPLES / "node_receiver", target, ignore=shutil.ignore_patterns("node_modules"))
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=target, check=True, timeout=180)
    assert (target / "node_modules" / "standardwebhooks" / "package.json").exists()
    return target


def _pay(gateway: str) -> str:
    order = api(gateway, "POST", "/api/v1/orders", {"amount": 20000, "currency": "INR"}).json()
    payment = api(gateway, "POST", "/api/v1/payments", {"order_id": order["id"], "method": "upi", "vpa": "success@upi"})
    assert payment.status == 201, payment.body
    return payment.json()["id"]


def test_node_receiver_verifies_with_the_standardwebhooks_package(gateway, demo, node_receiver_dir):
    generated_port, demo_port = free_port(), free_port()
    endpoint = api(gateway, "POST", "/api/v1/webhook-endpoints", {"url": f"http://127.0.0.1:{generated_port}/"})
    assert endpoint.status == 201, endpoint.body
    # The demo merchant's default endpoint carries the documented (non-base64) demo secret.
    default = next(e for e in api(gateway, "GET", "/api/v1/webhook-endpoints").json()["data"] if e["is_default"])
    moved = api(
        gateway, "PATCH", f"/api/v1/webhook-endpoints/{default['id']}", {"url": f"http://127.0.0.1:{demo_port}/"}
    )
    assert moved.status == 200, moved.body

    node = shutil.which("node")
    with (
        process(
            [node, "receiver.js"],
            cwd=node_receiver_dir,
            env={"PORT": str(generated_port), "WEBHOOK_SECRET": endpoint.json()["secret"]},
        ) as generated,
        process(
            [node, "receiver.js"],
            cwd=node_receiver_dir,
            env={"PORT": str(demo_port), "WEBHOOK_SECRET": demo["webhook_secret"]},
        ) as with_demo_secret,
    ):
        for lines, port in ((generated, generated_port), (with_demo_secret, demo_port)):
            next_json_line(lines, lambda r, port=port: r.get("listening") == port, timeout=20)
        payment_id = _pay(gateway)
        for lines in (generated, with_demo_secret):
            seen: list[dict] = []
            record = next_json_line(
                lines,
                lambda r: r.get("event") == "payment.success" and r.get("object_id") == payment_id,
                timeout=30,
                seen=seen,
            )
            assert record["verified"] is True and record["id"].startswith("evt_")
            assert all(r["verified"] for r in seen if "verified" in r)

        body = b'{"id":"evt_x","event":"payment.success","data":{"payment":{"id":"pay_x"}}}'
        forged = http(
            "POST",
            f"http://127.0.0.1:{generated_port}/",
            body,
            {
                "webhook-id": "evt_x",
                "webhook-timestamp": "9999999999",
                "webhook-signature": "v1,AAAA",
                "Content-Type": "application/json",
            },
        )
        assert forged.status == 400
        rejected = next_json_line(generated, lambda r: r.get("verified") is False, timeout=5)
        assert rejected["error"]

        # A signed event that carries no payment or refund (or no data at all) is accepted too.
        for event_id, body in (
            ("evt_nodata", '{"id":"evt_nodata","event":"reconciliation.completed"}'),
            ("evt_run", '{"id":"evt_run","event":"reconciliation.completed","data":{"run":{"id":"recon_1"}}}'),
        ):
            sent_at = datetime.now(UTC)
            signature = Webhook(endpoint.json()["secret"]).sign(event_id, sent_at, body)
            headers = {
                "webhook-id": event_id,
                "webhook-timestamp": str(int(sent_at.timestamp())),
                "webhook-signature": signature,
                "Content-Type": "application/json",
            }
            assert http("POST", f"http://127.0.0.1:{generated_port}/", body.encode(), headers).status == 204
            logged = next_json_line(generated, lambda r, event_id=event_id: r.get("id") == event_id, timeout=5)
            assert logged["verified"] is True and logged["event"] == "reconciliation.completed"
        assert logged["object_id"] == "recon_1"


# --- the curl walkthrough ---------------------------------------------------------------


def test_curl_walkthrough_runs_to_the_end(gateway, demo):
    run = subprocess.run(
        ["bash", str(EXAMPLES / "curl" / "walkthrough.sh")],
        env={**os.environ, "TENDER_API_URL": gateway, "TENDER_WAIT_SECONDS": "30"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    payment_id = out.split("same payment pay_", 1)[1].split(",", 1)[0]
    payment_id = f"pay_{payment_id}"
    assert "idempotent-replayed: true" in out.lower()
    assert '"status": "success"' in out or '"status":"success"' in out
    assert f'"payment_id":"{payment_id}"' in out  # the refunds list names the payment
    assert "payment.success" in out.split("newest first", 1)[1]
    assert "HTTP 400" in out and "BAD_REQUEST_ERROR" in out
    assert f"payment {payment_id} (success)" in out and "(processed)" in out
