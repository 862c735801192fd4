"""Fan-out and delivery in-process (no worker): bodies, both signature schemes verified
with the public libraries, stable webhook-id across retries, outcomes and schedule."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook as StandardWebhook
from svix.webhooks import Webhook as SvixWebhook

from payments.outbox import outbox_dispatch_all
from tests.webhooks.conftest import payment_make, payment_succeed
from tests.webhooks.receiver import Script, running_receiver
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services.delivery import endpoint_drain, retry_delay_seconds
from webhooks.services.endpoints import endpoint_create, endpoint_rotate_secret

pytestmark = pytest.mark.django_db


def _endpoint(merchant, url, **kwargs) -> WebhookEndpoint:
    return endpoint_create(merchant=merchant, url=url, actor="test", **kwargs)


def _verify_all(received, secret: str) -> dict:
    body, headers = received.body, received.headers
    assert hmac.compare_digest(
        headers["x-webhook-signature"], hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    )
    standard = StandardWebhook(secret).verify(body, headers)
    svix = SvixWebhook(secret).verify(body, headers)
    assert standard == svix == json.loads(body)
    return standard


def test_payment_success_is_delivered_signed_and_compact(alice):
    with running_receiver() as receiver:
        endpoint = _endpoint(alice.merchant, receiver.url, event_types=["payment.success"])
        payment = payment_succeed(alice.merchant)
        assert outbox_dispatch_all() == 2  # payment.created + payment.success
        delivery = WebhookDelivery.objects.get()  # only payment.success matches the filter
        assert delivery.event_type == "payment.success"
        result = endpoint_drain(endpoint_id=endpoint.id)
        assert (result.attempted, result.succeeded) == (1, 1)
        [got] = receiver.received
        payload = _verify_all(got, endpoint.secret)
    assert got.body == json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert payload["event"] == "payment.success"
    assert payload["id"] == got.headers["webhook-id"] == delivery.event.id
    assert isinstance(payload["timestamp"], int)
    assert payload["data"]["payment"]["id"] == payment.id
    assert payload["data"]["payment"]["status"] == "success"
    assert payload["data"]["payment"]["version"] == 2
    assert got.headers["user-agent"] == "Tender-Webhooks/1.0"
    assert got.headers["content-type"] == "application/json"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("success", 1, 200)
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code == 200 and attempt.response_body == '{"received":true}'


def test_same_webhook_id_and_valid_signatures_on_every_retry(alice, settings):
    settings.WEBHOOK_RETRY_DELAYS = [0, 0, 0, 0]
    with running_receiver(Script(fail_first=3)) as receiver:
        endpoint = _endpoint(alice.merchant, receiver.url, event_types=["payment.success"])
        payment_succeed(alice.merchant)
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=endpoint.id)
        got = receiver.received
    assert len(got) == 4
    assert len({r.headers["webhook-id"] for r in got}) == 1
    assert len({r.body for r in got}) == 1
    for r in got:
        _verify_all(r, endpoint.secret)
    assert [r.headers["x-webhook-attempt"] for r in got] == ["1", "2", "3", "4"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("success", 4)
    assert list(delivery.attempt_rows.values_list("status_code", flat=True)) == [500, 500, 500, 200]


def test_unicode_is_sent_unescaped(alice):
    from django.db import transaction

    from payments.outbox import event_record

    with running_receiver() as receiver:
        endpoint = _endpoint(alice.merchant, receiver.url)
        with transaction.atomic():
            event_record(
                merchant_id=alice.merchant.id,
                type="refund.created",
                object_type="refund",
                object_id="rfnd_x",
                version=1,
                data={"refund": {"id": "rfnd_x", "reason": "café ₹ 返金", "amount": 100}},
            )
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=endpoint.id)
        [got] = receiver.received
    assert "café ₹ 返金".encode() in got.body
    _verify_all(got, endpoint.secret)


def test_rotation_signs_with_both_secrets_until_grace_ends(alice):
    with running_receiver() as receiver:
        endpoint = _endpoint(alice.merchant, receiver.url)
        old_secret = endpoint.secret
        endpoint, new_secret = endpoint_rotate_secret(endpoint=endpoint, actor="test", grace_seconds=3600)
        payment_make(alice.merchant)
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=endpoint.id)
        [got] = receiver.received
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        StandardWebhook(old_secret).verify(got.body, got.headers)
        SvixWebhook(new_secret).verify(got.body, got.headers)
        _verify_all(got, new_secret)  # X-Webhook-Signature uses the current secret
        # grace over: only the new secret signs
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now())
        payment_make(alice.merchant)
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=endpoint.id)
        latest = receiver.received[-1]
    assert len(latest.headers["webhook-signature"].split(" ")) == 1
    SvixWebhook(new_secret).verify(latest.body, latest.headers)
    with pytest.raises(Exception, match="No matching signature"):
        StandardWebhook(old_secret).verify(latest.body, latest.headers)


def test_seeded_demo_secret_verifies_as_raw_bytes(settings, tmp_path, monkeypatch):
    from payments.demo import TEST_WEBHOOK_SECRET, demo_seed

    settings.BASE_DIR = tmp_path
    with running_receiver() as receiver:
        monkeypatch.setenv("DEMO_WEBHOOK_URL", receiver.url)
        credentials = demo_seed()
        endpoint = WebhookEndpoint.objects.get(is_default=True)
        assert (endpoint.url, endpoint.secret) == (receiver.url, TEST_WEBHOOK_SECRET)
        assert credentials["webhook_url"] == receiver.url
        payment_succeed(endpoint.merchant)
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=endpoint.id)
        got = receiver.received
    assert sorted(json.loads(r.body)["event"] for r in got) == ["payment.created", "payment.success"]
    for r in got:
        key = TEST_WEBHOOK_SECRET.encode()
        assert StandardWebhook(key).verify(r.body, r.headers)["id"] == r.headers["webhook-id"]
        assert SvixWebhook(key).verify(r.body, r.headers)
        assert r.headers["x-webhook-signature"] == hmac.new(key, r.body, hashlib.sha256).hexdigest()
    # seeding again changes nothing and keeps the url without the env
    monkeypatch.delenv("DEMO_WEBHOOK_URL")
    demo_seed()
    assert WebhookEndpoint.objects.get(is_default=True).url == receiver.url


def test_default_endpoint_without_url_gets_nothing(alice):
    from webhooks.services.endpoints import endpoint_default_get_or_create

    endpoint_default_get_or_create(merchant=alice.merchant)
    payment_succeed(alice.merchant)
    assert outbox_dispatch_all() == 2
    assert WebhookDelivery.objects.count() == 0


def test_fan_out_is_idempotent_and_filters_by_type(alice, bob):
    from payments.models import Event
    from webhooks.services.fanout import deliveries_fan_out

    everything = _endpoint(alice.merchant, "http://127.0.0.1:9/a")
    payments_only = _endpoint(alice.merchant, "http://127.0.0.1:9/b", event_types=["payment.*"])
    refunds_only = _endpoint(alice.merchant, "http://127.0.0.1:9/c", event_types=["refund.processed"])
    disabled = _endpoint(alice.merchant, "http://127.0.0.1:9/d", enabled=False)
    bobs = _endpoint(bob.merchant, "http://127.0.0.1:9/e")
    payment_succeed(alice.merchant)
    outbox_dispatch_all()
    events = list(Event.objects.all())
    deliveries_fan_out(events)  # a redelivered batch (crash after commit) adds nothing
    pairs = set(WebhookDelivery.objects.values_list("endpoint_id", "event_type"))
    assert pairs == {
        (everything.id, "payment.created"),
        (everything.id, "payment.success"),
        (payments_only.id, "payment.created"),
        (payments_only.id, "payment.success"),
    }
    assert not WebhookDelivery.objects.filter(endpoint__in=[refunds_only, disabled, bobs]).exists()


def test_rolled_back_change_sends_nothing(alice):
    from django.db import transaction

    _endpoint(alice.merchant, "http://127.0.0.1:9/a")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        payment_make(alice.merchant)
        raise Boom
    assert outbox_dispatch_all() == 0
    assert WebhookDelivery.objects.count() == 0


def test_all_failures_end_failed_after_the_last_attempt(alice, settings):
    settings.WEBHOOK_RETRY_DELAYS = [0, 0, 0, 0]
    with running_receiver(Script(always_status=503)) as receiver:
        endpoint = _endpoint(alice.merchant, receiver.url, event_types=["payment.created"])
        payment_make(alice.merchant)
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=endpoint.id)
        assert receiver.count() == 5
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 5, 503)
    assert delivery.next_retry_at is None
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is not None


def test_gone_disables_endpoint_and_tells_the_others(alice, settings):
    settings.WEBHOOK_ENDPOINT_PARALLEL_REQUESTS = 1  # serial, so "nothing after the 410" is exact
    with running_receiver(Script(always_status=410)) as gone, running_receiver() as other:
        doomed = _endpoint(alice.merchant, gone.url, event_types=["payment.created"])
        watcher = _endpoint(alice.merchant, other.url, event_types=["webhook_endpoint.*"])
        payment_make(alice.merchant)
        payment_make(alice.merchant)
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=doomed.id)
        assert gone.count() == 1  # the second delivery was not tried after the 410
        doomed.refresh_from_db()
        assert (doomed.enabled, doomed.disabled_reason) == (False, "gone")
        assert set(WebhookDelivery.objects.filter(endpoint=doomed).values_list("status", flat=True)) == {"failed"}
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=watcher.id)
        [note] = other.received
    body = json.loads(note.body)
    assert body["event"] == "webhook_endpoint.disabled"
    assert body["data"]["webhook_endpoint"]["id"] == doomed.id
    assert body["data"]["webhook_endpoint"]["disabled_reason"] == "gone"


def test_endpoint_failing_for_days_is_disabled(alice, settings):
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 5 * 24 * 3600
    with running_receiver(Script(always_status=500)) as receiver:
        endpoint = _endpoint(alice.merchant, receiver.url, event_types=["payment.created"])
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=5, hours=1))
        payment_make(alice.merchant)
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=endpoint.id)
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "failing")
    from payments.models import Event

    assert Event.objects.filter(type="webhook_endpoint.disabled", object_id=endpoint.id).count() == 1


def test_success_clears_the_failing_streak(alice):
    with running_receiver() as receiver:
        endpoint = _endpoint(alice.merchant, receiver.url)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=1))
        payment_make(alice.merchant)
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=endpoint.id)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_retry_after_is_honoured_and_bounded(alice, settings):
    settings.WEBHOOK_RETRY_DELAYS = [5, 10]
    settings.WEBHOOK_RETRY_JITTER = 0.0
    settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS = 600
    assert retry_delay_seconds(attempt_number=1, retry_after=120) == 120
    assert retry_delay_seconds(attempt_number=1, retry_after=1) == 5  # never sooner than the schedule
    assert retry_delay_seconds(attempt_number=1, retry_after=10**9) == 600
    assert retry_delay_seconds(attempt_number=3) is None
    with running_receiver(Script(always_status=429, retry_after="120")) as receiver:
        endpoint = _endpoint(alice.merchant, receiver.url, event_types=["payment.created"])
        payment_make(alice.merchant)
        outbox_dispatch_all()
        before = timezone.now()
        endpoint_drain(endpoint_id=endpoint.id)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert 119 <= (delivery.next_retry_at - before).total_seconds() <= 122


def test_default_schedule_has_jitter_within_twenty_percent(settings):
    settings.WEBHOOK_RETRY_DELAYS = [5, 300, 1800, 7200, 18000, 36000, 36000]
    settings.WEBHOOK_RETRY_JITTER = 0.2
    for number, base in enumerate(settings.WEBHOOK_RETRY_DELAYS, start=1):
        samples = [retry_delay_seconds(attempt_number=number) for _ in range(50)]
        assert all(base * 0.8 <= s <= base * 1.2 for s in samples)
        assert len(set(samples)) > 1
    assert retry_delay_seconds(attempt_number=8) is None


def test_response_body_is_truncated_to_8_kib(alice):
    with running_receiver(Script(response_body=b"x" * 20000)) as receiver:
        endpoint = _endpoint(alice.merchant, receiver.url)
        payment_make(alice.merchant)
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=endpoint.id)
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code == 200 and len(attempt.response_body) == 8192


def test_redirects_are_not_followed(alice):
    with running_receiver(Script(always_status=302)) as receiver:
        endpoint = _endpoint(alice.merchant, receiver.url)
        payment_make(alice.merchant)
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=endpoint.id)
        assert receiver.count() == 1
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error_class) == (302, "http_status")
    assert WebhookDelivery.objects.get().status == "pending"


def test_connection_refused_is_recorded(alice):
    from tests.support.processes import free_port

    endpoint = _endpoint(alice.merchant, f"http://127.0.0.1:{free_port()}/closed")
    payment_make(alice.merchant)
    outbox_dispatch_all()
    endpoint_drain(endpoint_id=endpoint.id)
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and attempt.error_class == "connection_error"


def test_claim_cap_lease_expiry_and_stale_results(alice):
    """One claim per endpoint at a time; an expired lease (dead worker) is claimable again;
    results of a claim that lost its lease change nothing."""
    import uuid

    from webhooks.services.delivery import Sent, _record, delivery_claim_batch
    from webhooks.transport import TransportResult

    with running_receiver() as receiver:
        endpoint = _endpoint(alice.merchant, receiver.url)
        payment_make(alice.merchant)
        payment_make(alice.merchant)
        outbox_dispatch_all()
        first, second = WebhookDelivery.objects.order_by("event_id")
        # a live claim held by another worker on one row: the endpoint is at its cap
        held = timezone.now() + timedelta(seconds=30)
        WebhookDelivery.objects.filter(pk=first.pk).update(locked_until=held, lease_token=uuid.uuid4())
        assert delivery_claim_batch(endpoint_id=endpoint.id) is None
        assert endpoint_drain(endpoint_id=endpoint.id).attempted == 0
        assert receiver.count() == 0
        # that worker died: its lease expires and both rows are delivered
        WebhookDelivery.objects.filter(pk=first.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
        claim = delivery_claim_batch(endpoint_id=endpoint.id)
        assert [d.id for d in claim.deliveries] == [first.id, second.id]
        # a newer claim takes over after this one's lease ran out: the old results are void
        WebhookDelivery.objects.update(lease_token=uuid.uuid4())
        ok = TransportResult(True, 200, 1, "", "", "", None, False)
        _record(claim, [Sent(delivery=d, started_at=timezone.now(), timestamp=1, result=ok) for d in claim.deliveries])
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}
    assert WebhookAttempt.objects.count() == 2  # the attempts happened and stay in the log


def test_sweeper_finds_due_and_orphaned_deliveries(alice, redis_client):
    import redis
    from django.conf import settings as django_settings

    from webhooks.services.delivery import deliveries_sweep

    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    broker.flushdb()
    _endpoint(alice.merchant, "http://127.0.0.1:9/a")
    payment_make(alice.merchant)
    outbox_dispatch_all()
    WebhookDelivery.objects.update(
        locked_until=timezone.now() - timedelta(seconds=5), next_retry_at=timezone.now() - timedelta(seconds=1)
    )
    assert deliveries_sweep() == 1
    assert broker.llen("webhooks") == 1  # attempts == 0: a first attempt, on the first-attempt queue
    WebhookDelivery.objects.update(attempts=2, locked_until=None)
    assert deliveries_sweep() == 1
    assert broker.llen("webhook_retries") == 1
    WebhookDelivery.objects.update(next_retry_at=timezone.now() + timedelta(minutes=5))
    assert deliveries_sweep() == 0
    broker.flushdb()


def test_a_float_in_the_payload_is_a_recorded_failed_attempt_not_a_crash(alice):
    from django.db import transaction

    from payments.outbox import event_record

    with running_receiver() as receiver:
        endpoint = _endpoint(alice.merchant, receiver.url)
        with transaction.atomic():
            event_record(
                merchant_id=alice.merchant.id,
                type="refund.created",
                object_type="refund",
                object_id="rfnd_f",
                version=1,
                data={"refund": {"id": "rfnd_f", "amount": 1.5}},
            )
        outbox_dispatch_all()
        endpoint_drain(endpoint_id=endpoint.id)
        assert receiver.count() == 0
    attempt = WebhookAttempt.objects.get()
    assert attempt.error_class == "invalid_payload" and "float" in attempt.error
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.locked_until) == ("pending", 1, None)


def test_fan_out_sends_no_drain_message_while_a_claim_is_held(alice, redis_client, django_capture_on_commit_callbacks):
    """Under load a drain holds the endpoint: new rows get no message of their own; after
    the holder's release commits, its last look finds them (due and unheld)."""
    import redis
    from django.conf import settings as django_settings

    from webhooks.services.claims import endpoint_due_unheld
    from webhooks.services.delivery import Sent, _record, delivery_claim_batch
    from webhooks.transport import TransportResult

    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    broker.flushdb()
    endpoint = _endpoint(alice.merchant, "http://127.0.0.1:9/a", event_types=["payment.created"])
    payment_make(alice.merchant)
    with django_capture_on_commit_callbacks(execute=True):
        outbox_dispatch_all()
    assert broker.llen("webhooks") == 1  # nobody holds the endpoint: a drain is asked for
    broker.flushdb()
    claim = delivery_claim_batch(endpoint_id=endpoint.id)
    payment_make(alice.merchant)
    with django_capture_on_commit_callbacks(execute=True):
        outbox_dispatch_all()
    assert broker.llen("webhooks") == 0  # held: no message
    assert not endpoint_due_unheld(endpoint_id=endpoint.id)
    ok = TransportResult(True, 200, 1, "", "", "", None, False)
    sent = [Sent(delivery=d, started_at=timezone.now(), timestamp=1, result=ok) for d in claim.deliveries]
    _record(claim, sent, claim_next=False)  # the holder releases without looking again...
    assert endpoint_due_unheld(endpoint_id=endpoint.id)  # ...so its last look finds the new row
    broker.flushdb()


@pytest.mark.django_db(transaction=True)
def test_holder_picks_up_rows_that_arrive_while_it_sends(alice, settings, flush_test_redis):
    """A real drain holding the claim while its request is in flight: events committed then
    get no message, and the same drain delivers them before it returns."""
    import threading

    from django.db import connection

    settings.WEBHOOK_ENDPOINT_PARALLEL_REQUESTS = 1
    with running_receiver(Script(sleep=0.5)) as receiver:
        endpoint = _endpoint(alice.merchant, receiver.url, event_types=["payment.created"])
        payment_make(alice.merchant)
        outbox_dispatch_all()
        result = {}

        def drain() -> None:
            try:
                result["r"] = endpoint_drain(endpoint_id=endpoint.id)
            finally:
                connection.close()

        from tests.support.processes import wait_for

        thread = threading.Thread(target=drain)
        thread.start()
        wait_for(lambda: receiver.count() == 1, timeout=5, message="first request in flight")
        payment_make(alice.merchant)
        outbox_dispatch_all()
        thread.join(timeout=10)
    assert result["r"].attempted == 2 and receiver.count() == 2
