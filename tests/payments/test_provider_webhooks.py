"""The inbound provider webhook endpoint, in-process: signature, raw storage, dedupe by
event id, idempotent apply that never moves a state backwards; and the simulator's
status answers and settlement file."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import Event, Payment, ProviderNotification, SimulatorTransaction, TimelineEntry
from payments.providers import get_provider
from payments.providers.simulator import signing
from payments.services.payments import payment_process
from tests.payments.factories import OrderFactory, PaymentFactory, RefundFactory, SuccessfulPaymentFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/provider-webhooks/simulator"


def notify(client, payload, *, sign=True, secret_ok=True):
    body = json.dumps(payload).encode()
    headers = {}
    if sign:
        header = signing.sign(body) if secret_ok else "t=1,v1=deadbeef"
        headers["HTTP_X_SIMULATOR_SIGNATURE"] = header
    return client.generic("POST", URL, body, content_type="application/json", **headers)


def payload(payment, status, event_id=None, **extra):
    return {
        "id": event_id or f"simevt_{payment.id}_{status}",
        "type": "payment.status",
        "object_type": "payment",
        "object_id": payment.id,
        "reference": payment.provider_reference or "sim_ref",
        "status": status,
        "error_code": extra.get("error_code"),
        "error_description": extra.get("error_description"),
    }


@pytest.fixture
def submitted(alice, simulator):
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant))
    payment_process(payment_id=payment.id)
    payment.refresh_from_db()
    return payment


def test_submission_records_pending_event_version_2(submitted):
    assert submitted.version == 2
    assert submitted.submitted_at is not None
    assert submitted.provider_reference.startswith("sim_")
    assert list(Event.objects.values_list("type", "version")) == [("payment.pending", 2)]
    assert SimulatorTransaction.objects.get().payment_id == submitted.id


def test_process_twice_submits_once(submitted):
    payment_process(payment_id=submitted.id)
    assert SimulatorTransaction.objects.count() == 1
    submitted.refresh_from_db()
    assert submitted.version == 2


def test_signed_success_is_applied_and_stored(anon, submitted):
    response = notify(anon, payload(submitted, "success"))
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False, "result": "applied"}
    submitted.refresh_from_db()
    assert (submitted.status, submitted.version) == ("success", 3)
    assert submitted.order.status == "paid"
    stored = ProviderNotification.objects.get()
    assert (stored.event_id, stored.result, stored.payload["status"]) == (
        f"simevt_{submitted.id}_success",
        "applied",
        "success",
    )
    assert TimelineEntry.objects.filter(payment=submitted).order_by("version").last().source == "provider_webhook"
    assert stored.raw_body == json.dumps(payload(submitted, "success"))  # byte for byte


def test_failure_carries_error(anon, submitted):
    notify(anon, payload(submitted, "failed", error_code="card_declined", error_description="Declined"))
    submitted.refresh_from_db()
    assert (submitted.status, submitted.error_code, submitted.error_description) == (
        "failed",
        "card_declined",
        "Declined",
    )
    assert Event.objects.order_by("seq").last().type == "payment.failed"


def test_duplicate_event_id_is_deduplicated(anon, submitted):
    notify(anon, payload(submitted, "success"))
    again = notify(anon, payload(submitted, "success"))
    assert again.json() == {"received": True, "duplicate": True, "result": "duplicate"}
    assert ProviderNotification.objects.count() == 1
    assert Event.objects.filter(type="payment.success").count() == 1


def test_stale_and_contradicting_reports_never_move_backwards(anon, submitted):
    notify(anon, payload(submitted, "success"))
    stale = notify(anon, payload(submitted, "pending"))
    assert stale.json()["result"] == "ignored"
    contradicting = notify(anon, payload(submitted, "failed", event_id="other"))
    assert contradicting.json()["result"] == "ignored"
    submitted.refresh_from_db()
    assert (submitted.status, submitted.version) == ("success", 3)
    steps = list(
        TimelineEntry.objects.filter(payment=submitted).order_by("version").values_list("to_status", flat=True)
    )
    assert steps == ["pending", "success"]  # the factory made no created row; submission + outcome


def test_bad_signature_is_401_and_stores_nothing(anon, submitted):
    response = notify(anon, payload(submitted, "success"), secret_ok=False)
    assert response.status_code == 401
    assert response.json()["error"]["reason"] == "invalid_signature"
    missing = notify(anon, payload(submitted, "success"), sign=False)
    assert missing.status_code == 401
    assert ProviderNotification.objects.count() == 0
    submitted.refresh_from_db()
    assert submitted.status == "pending"


def test_old_timestamp_is_rejected(anon, submitted):
    body = json.dumps(payload(submitted, "success")).encode()
    header = signing.sign(body, timestamp=int(timezone.now().timestamp()) - 3600)
    response = anon.generic("POST", URL, body, content_type="application/json", HTTP_X_SIMULATOR_SIGNATURE=header)
    assert response.status_code == 401


def test_unknown_provider_is_404(anon):
    assert anon.post("/api/v1/provider-webhooks/nope", {}, format="json").status_code == 404


def test_unknown_payment_is_stored_as_unknown_object(anon):
    fake = PaymentFactory.build(id="pay_AAAAAAAAAAAAAAAA", provider_reference="sim_x")
    response = notify(anon, payload(fake, "success"))
    assert response.status_code == 200
    assert response.json()["result"] == "unknown_object"


def test_refund_notification_processes_refund(anon, alice):
    refund = RefundFactory(payment=SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant)))
    body = {
        "id": "evt_r1",
        "object_type": "refund",
        "object_id": refund.id,
        "reference": "sim_r",
        "status": "processed",
    }
    assert notify(anon, body).json()["result"] == "applied"
    refund.refresh_from_db()
    assert refund.status == "processed"
    assert refund.processed_at is not None
    assert Event.objects.get().type == "refund.processed"


def test_second_success_for_a_paid_order_is_recorded_duplicate_and_refunded(anon, alice, simulator):
    order = OrderFactory(merchant=alice.merchant)
    first = PaymentFactory(order=order)
    second = PaymentFactory(order=order)
    notify(anon, payload(first, "success", event_id="e1"))
    response = notify(anon, payload(second, "success", event_id="e2"))
    assert response.json()["result"] == "conflict"
    second.refresh_from_db()
    assert (second.status, second.error_code) == ("duplicate", "duplicate_payment")
    assert first.id in second.error_description
    refund = second.refunds.get()
    assert (refund.amount, refund.reason, refund.status) == (second.amount, "duplicate_payment", "pending")
    assert ProviderNotification.objects.get(event_id="e2").result == "conflict"


def test_get_status_follows_decision_time(submitted, settings):
    provider = get_provider("simulator")
    row = SimulatorTransaction.objects.get()
    SimulatorTransaction.objects.update(decide_at=timezone.now() + timedelta(hours=1))
    assert provider.get_status(reference=row.reference).status == "pending"
    SimulatorTransaction.objects.update(decide_at=timezone.now() - timedelta(seconds=1))
    assert provider.get_status(reference=row.reference).status == "success"
    assert provider.get_status(reference="sim_unknown").status == "pending"


@pytest.mark.parametrize(
    ("vpa", "outcome", "error_code"),
    [("success@upi", "success", None), ("failure@upi", "failed", "payment_declined"), ("timeout@upi", "timeout", None)],
)
def test_deterministic_vpas(alice, simulator, settings, vpa, outcome, error_code):
    settings.TEST_PAYMENT_SUCCESS = False  # test instruments override the test-mode dice
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), vpa=vpa)
    payment_process(payment_id=payment.id)
    row = SimulatorTransaction.objects.get()
    assert (row.outcome, row.error_code) == (outcome, error_code)


@pytest.mark.parametrize(
    ("last4", "outcome", "error_code"),
    [("1111", "success", None), ("0002", "failed", "card_declined"), ("0119", "timeout", None)],
)
def test_deterministic_cards(alice, simulator, last4, outcome, error_code):
    payment = PaymentFactory(
        order=OrderFactory(merchant=alice.merchant), method="card", vpa=None, card_network="visa", card_last4=last4
    )
    payment_process(payment_id=payment.id)
    row = SimulatorTransaction.objects.get()
    assert (row.outcome, row.error_code) == (outcome, error_code)


def test_test_payment_success_false_declines(alice, simulator, settings):
    settings.TEST_PAYMENT_SUCCESS = False
    payment = PaymentFactory(order=OrderFactory(merchant=alice.merchant), vpa="someone@bank")
    payment_process(payment_id=payment.id)
    assert SimulatorTransaction.objects.get().outcome == "failed"


def test_settlement_file(alice, simulator):
    simulator.settle_failed_rate = 1.0
    simulator.amount_change_rate = 1.0
    simulator.save()
    ok = PaymentFactory(order=OrderFactory(merchant=alice.merchant, amount=10000), vpa="success@upi")
    declined = PaymentFactory(order=OrderFactory(merchant=alice.merchant, amount=20000), vpa="failure@upi")
    never = PaymentFactory(order=OrderFactory(merchant=alice.merchant), vpa="timeout@upi")
    for payment in (ok, declined, never):
        payment_process(payment_id=payment.id)
    SimulatorTransaction.objects.update(decide_at=timezone.now() - timedelta(minutes=1))
    data = get_provider("simulator").fetch_settlement(
        period_start=timezone.now() - timedelta(hours=1), period_end=timezone.now() + timedelta(hours=1)
    )
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert list(rows[0]) == [
        "provider_reference",
        "payment_id",
        "order_id",
        "amount",
        "currency",
        "status",
        "settled_at",
        "fee",
    ]
    by_payment = {r["payment_id"]: r for r in rows}
    assert set(by_payment) == {ok.id, declined.id}  # the timeout was never settled
    assert by_payment[ok.id]["status"] == "success"
    assert by_payment[ok.id]["amount"] == "9900"  # amount_change_rate=1
    assert by_payment[declined.id]["status"] == "success"  # settle_failed_rate=1
    assert by_payment[ok.id]["fee"] == "198"
    assert by_payment[ok.id]["settled_at"].endswith("Z")
    assert Payment.objects.get(pk=declined.id).status == "pending"  # the file changes nothing by itself


def test_huge_notification_is_413(anon):
    body = b'{"id": "' + b"x" * 70000 + b'"}'
    response = anon.generic("POST", URL, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["reason"] == "body_too_large"
    assert ProviderNotification.objects.count() == 0
