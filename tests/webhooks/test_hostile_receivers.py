"""Hostile receivers, each a real process on loopback (tests/webhooks/hostile_receiver.py):
whatever the server does, an attempt is over by its wall-clock deadline, is recorded failed
with its error class, and never outlives its claim's lease."""

from __future__ import annotations

import time

import pytest
from django.conf import settings as django_settings

from payments.outbox import outbox_dispatch_all
from tests.support.processes import wait_for
from tests.webhooks.conftest import payment_make
from tests.webhooks.hostile_receiver import MODES
from tests.webhooks.receiver import running_hostile_receiver, running_receiver
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.services.delivery import endpoint_drain
from webhooks.services.endpoints import endpoint_create
from webhooks.transport import post

pytestmark = pytest.mark.django_db

# The error class each hostile behaviour ends in.
EXPECTED_ERROR = {
    "slow_status": "timeout",
    "slow_headers": "timeout",
    "drip_body": "timeout",
    "endless_chunked": "response_too_large",
    "big_body": "response_too_large",
    "never_answer": "timeout",
    "reset": "connection_error",
    "late_200": "timeout",
}
SHORT_DEADLINE = 1.5  # the same mechanism as the 10 s default (see the drip test below), faster


def _deliver_once(merchant, url: str) -> tuple[WebhookAttempt, float]:
    endpoint = endpoint_create(merchant=merchant, url=url, event_types=["payment.created"], actor="t")
    payment_make(merchant)
    outbox_dispatch_all()
    started = time.monotonic()
    assert endpoint_drain(endpoint_id=endpoint.id).attempted == 1
    return WebhookAttempt.objects.get(), time.monotonic() - started


@pytest.mark.parametrize("mode", MODES)
def test_a_hostile_receiver_holds_an_attempt_no_longer_than_its_deadline(mode, alice, settings):
    """Bytes dripped one every 0.2 s (each read succeeds, so per-read socket timeouts never
    fire), endless or 100 MB bodies, silence, a reset: the attempt ends by the deadline, the
    receiver sees the connection closed by then, and the failure carries its class."""
    assert set(EXPECTED_ERROR) == set(MODES)
    settings.WEBHOOK_TOTAL_TIMEOUT = SHORT_DEADLINE
    with running_hostile_receiver(mode, interval=0.2) as receiver:
        attempt, elapsed = _deliver_once(alice.merchant, receiver.url)
        wait_for(lambda: len(receiver.finished()) == 1, timeout=5, message="the receiver to see the connection end")
        [request] = receiver.finished()
    assert attempt.error_class == EXPECTED_ERROR[mode], (attempt.error_class, attempt.error)
    assert attempt.latency_ms <= (SHORT_DEADLINE + 0.3) * 1000
    assert elapsed < SHORT_DEADLINE + 2  # the drain, recording included
    assert request.closed - request.opened <= SHORT_DEADLINE + 0.3  # the socket really was closed
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, EXPECTED_ERROR[mode])
    if EXPECTED_ERROR[mode] == "timeout":
        assert "attempt deadline" in attempt.error


def test_a_body_dripped_every_3_s_is_cut_at_the_real_10_s_deadline(alice):
    """The measured attack: headers at once, then one body byte every 3 s (it held an
    attempt for 120 s). With the default settings the attempt is recorded failed at 10 s."""
    assert django_settings.WEBHOOK_TOTAL_TIMEOUT == 10
    with running_hostile_receiver("drip_body", interval=3.0) as receiver:
        attempt, elapsed = _deliver_once(alice.merchant, receiver.url)
        wait_for(lambda: len(receiver.finished()) == 1, timeout=5, message="the receiver to see the connection end")
        [request] = receiver.finished()
    assert (attempt.status_code, attempt.error_class) == (200, "timeout")
    assert "response not complete within 10.0 s" in attempt.error
    assert 10_000 <= attempt.latency_ms <= 10_500
    assert elapsed < 12  # recorded within the deadline + 2 s
    assert 9.5 <= request.closed - request.opened <= 10.5


def test_an_attempt_never_outlives_its_claims_lease(alice, settings):
    """With a lease shorter than the deadline (the system check forbids it; forced here),
    the attempt is cut at the lease end minus the margin, before another claim could take
    the row: the result is recorded while this claim still holds it."""
    settings.WEBHOOK_DELIVERY_LEASE_SECONDS = 4
    with running_hostile_receiver("never_answer") as receiver:
        attempt, _ = _deliver_once(alice.merchant, receiver.url)
    assert attempt.error_class == "timeout"
    assert 1_500 <= attempt.latency_ms <= 2_500  # lease 4 s - margin 2 s
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 1 and delivery.last_error == "timeout"  # our token still held it


def test_a_pooled_connection_is_not_cut_by_a_past_attempts_deadline(settings):
    """The watchdog forgets an attempt once it is over: a keep-alive connection reused after
    that attempt's deadline has passed still works."""
    settings.WEBHOOK_TOTAL_TIMEOUT = 0.5
    with running_receiver() as receiver:
        assert post(url=receiver.url, body=b"{}", headers={"webhook-id": "a"}).ok
        time.sleep(0.7)  # deliberately past the first attempt's deadline
        second = post(url=receiver.url, body=b"{}", headers={"webhook-id": "b"})
        assert second.ok, second.error
        assert receiver.count() == 2
