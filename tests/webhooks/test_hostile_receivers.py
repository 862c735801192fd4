"""Hostile receivers, each a real process on loopback (tests/webhooks/hostile_receiver.py):
whatever the server does, an attempt is over by its wall-clock deadline, is recorded failed
with its error class, and never outlives its claim's lease. Plus the lanes' rules and the
system check of the cap arithmetic (the 50-endpoint run is test_hostile_isolation.py)."""

from __future__ import annotations

import subprocess
import time

import pytest
from django.conf import settings as django_settings

from payments.outbox import outbox_dispatch_all
from tests.support.processes import BIN, ROOT, free_port, process_env, stop_process, wait_for
from tests.webhooks.conftest import payment_make
from tests.webhooks.hostile_receiver import MODES
from tests.webhooks.receiver import Script, running_hostile_receiver, running_receiver
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
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
    """The measured attack, with the demo receiver anyone can run beside ``make run``
    (``manage.py webhook_receiver --drip 3``, a real process): headers at once, then one
    body byte every 3 s (it held an attempt for 120 s). With the default settings the
    attempt is recorded failed within 12 s, cut at 10 s."""
    assert django_settings.WEBHOOK_TOTAL_TIMEOUT == 10
    port = free_port()
    command = ["manage.py", "webhook_receiver", "--port", str(port), "--secret", "whsec_x", "--drip", "3"]
    receiver = subprocess.Popen(
        [str(BIN / "python"), *command],
        cwd=ROOT,
        env=process_env(),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert "listening" in receiver.stdout.readline()
        attempt, elapsed = _deliver_once(alice.merchant, f"http://127.0.0.1:{port}/")
    finally:
        stop_process(receiver)
    assert (attempt.status_code, attempt.error_class) == (200, "timeout")
    assert "response not complete within 10.0 s" in attempt.error
    assert 10_000 <= attempt.latency_ms <= 10_500
    assert elapsed < 12  # recorded within the deadline + 2 s


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


def test_lanes_probation_slow_hold_failing_and_back(alice, settings):
    """A new endpoint starts in the slow lane and leaves it with its first clean claim; a
    slow attempt puts it back with a hold (a clean claim inside the hold keeps it there); a
    fast failure puts it back until the next clean claim."""
    from datetime import timedelta

    from django.utils import timezone

    from webhooks.services.claims import endpoint_in_slow_lane

    settings.WEBHOOK_SLOW_ATTEMPT_SECONDS = 0.3
    script = Script()
    with running_receiver(script) as receiver:
        endpoint = endpoint_create(merchant=alice.merchant, url=receiver.url, actor="t")

        def deliver() -> None:
            payment_make(alice.merchant)
            outbox_dispatch_all()
            endpoint_drain(endpoint_id=endpoint.id)

        assert endpoint_in_slow_lane(endpoint_id=endpoint.id)  # probation
        deliver()
        assert not endpoint_in_slow_lane(endpoint_id=endpoint.id)
        script.sleep = 0.4  # slow, though successful
        deliver()
        endpoint.refresh_from_db()
        hold = endpoint.slow_lane_until - timezone.now()
        assert timedelta(seconds=590) < hold <= timedelta(seconds=600)
        script.sleep = 0.0
        deliver()  # clean, but inside the hold
        assert endpoint_in_slow_lane(endpoint_id=endpoint.id)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(slow_lane_until=timezone.now())  # hold over
        deliver()
        assert not endpoint_in_slow_lane(endpoint_id=endpoint.id)
        script.always_status = 500  # fails fast
        deliver()
        assert endpoint_in_slow_lane(endpoint_id=endpoint.id)
        script.always_status = None
        WebhookDelivery.objects.update(next_retry_at=timezone.now())
        deliver()
        assert not endpoint_in_slow_lane(endpoint_id=endpoint.id)


def test_a_full_slow_lane_returns_at_once_and_its_line_is_served_in_order(alice, settings):
    """With every slow-lane permit taken, a slow endpoint's drain returns at once (no thread
    waits) and its endpoint joins the line; the next permit holder serves the line."""
    from webhooks.services import delivery

    settings.WEBHOOK_SLOW_LANE_THREADS = 1
    with running_receiver() as receiver:
        first, second = (endpoint_create(merchant=alice.merchant, url=receiver.url, actor="t") for _ in range(2))
        payment_make(alice.merchant)
        outbox_dispatch_all()
        permit = delivery._slow_lane.enter("someone-else")  # the only permit
        assert permit is not None
        started = time.monotonic()
        assert endpoint_drain(endpoint_id=first.id).attempted == 0
        assert endpoint_drain(endpoint_id=second.id).attempted == 0
        assert time.monotonic() - started < 0.5 and receiver.count() == 0
        assert delivery._slow_lane.waiting(first.id) and delivery._slow_lane.waiting(second.id)
        permit.release()
        result = endpoint_drain(endpoint_id=first.id)  # takes the permit, serves itself, then the line
        assert (result.attempted, result.handoffs) == (2, 1)
        assert receiver.count() == 2
        assert not delivery._slow_lane.waiting(second.id)


def test_the_cap_arithmetic_is_a_system_check(settings):
    from webhooks.checks import webhook_settings_check

    assert webhook_settings_check(None) == []
    settings.WEBHOOK_SLOW_LANE_THREADS = 32  # the slow lane could take every thread
    assert [e.id for e in webhook_settings_check(None)] == ["webhooks.E005"]
    settings.WEBHOOK_SLOW_LANE_THREADS, settings.WEBHOOK_ENDPOINT_MAX_IN_FLIGHT = 16, 16  # one endpoint = the fast lane
    assert [e.id for e in webhook_settings_check(None)] == ["webhooks.E005"]
    settings.WEBHOOK_ENDPOINT_MAX_IN_FLIGHT = 1
    settings.WEBHOOK_SLOW_ATTEMPT_SECONDS = 10  # a hanging endpoint would never count as slow
    assert [e.id for e in webhook_settings_check(None)] == ["webhooks.E006"]
    settings.WEBHOOK_SLOW_ATTEMPT_SECONDS = 2
    settings.WEBHOOK_DELIVERY_LEASE_SECONDS = 12  # < send window 1 + deadline 10 + margin 2
    assert [e.id for e in webhook_settings_check(None)] == ["webhooks.E001"]
    settings.WEBHOOK_DELIVERY_LEASE_SECONDS = 30
    settings.EVENT_DESTINATION_LEASE_SECONDS = 30  # < drain 5 + publish 10 + (2 + 10) + 10 + margin 2
    assert [e.id for e in webhook_settings_check(None)] == ["webhooks.E007"]
