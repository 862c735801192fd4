"""``manage.py webhook_receiver`` as a real process: verifies both signatures of real
deliveries (demo secret and generated secrets) and fails the first N attempts per event."""

from __future__ import annotations

import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from payments.demo import TEST_WEBHOOK_SECRET
from payments.outbox import outbox_dispatch_all
from tests.support.processes import BIN, ROOT, free_port, process_env, stop_process, wait_for
from tests.webhooks.conftest import payment_make
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services.delivery import endpoint_drain
from webhooks.services.endpoints import endpoint_create

pytestmark = pytest.mark.django_db


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _run_receiver(secret: str, fail_first: int, log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "python"),
            "manage.py",
            "webhook_receiver",
            *("--port", str(port), "--secret", secret, "--fail-first", str(fail_first)),
        ],
        cwd=ROOT,
        env=process_env(),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for(lambda: _listening(port) or proc.poll() is not None, timeout=20, message="receiver to listen")
    return proc, port


@pytest.mark.parametrize("demo_secret", [True, False])
def test_receiver_verifies_both_signatures_and_fails_first_n(alice, settings, demo_secret):
    settings.WEBHOOK_RETRY_DELAYS = [0, 0]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "receiver.log"
        endpoint = endpoint_create(
            merchant=alice.merchant, url="http://127.0.0.1:9/", event_types=["payment.created"], actor="t"
        )
        if demo_secret:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=TEST_WEBHOOK_SECRET)
            endpoint.refresh_from_db()
        proc, port = _run_receiver(endpoint.secret, 1, log)
        try:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=f"http://127.0.0.1:{port}/")
            payment_make(alice.merchant)
            outbox_dispatch_all()
            endpoint_drain(endpoint_id=endpoint.id)
            wait_for(lambda: log.read_text().count("payment.created") == 2, timeout=10, message="two lines")
        finally:
            stop_process(proc)
        lines = [line for line in log.read_text().splitlines() if "payment.created" in line]
    assert "attempt=1" in lines[0] and lines[0].endswith("-> 500")
    assert "attempt=2" in lines[1] and lines[1].endswith("-> 200")
    for line in lines:
        assert "x-webhook-signature=valid" in line and "standard-webhooks=valid" in line
    assert WebhookDelivery.objects.get().status == "success"
