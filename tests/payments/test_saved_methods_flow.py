"""A returning customer pays with saved cards end to end, with a real Celery worker and a
real daphne taking the simulator's callbacks: the outcome follows the class the simulator
recorded at tokenisation (approve → success, decline → failed), and afterwards no card
number or CVV is in any table (customers, payment_methods, simulator_tokens included), the
worker's log, the test's log or the broker."""

from __future__ import annotations

import logging

import pytest

from payments.models import Payment
from tests.payments.conftest import VISA_DECLINED, VISA_OK, card
from tests.support.card_scan import assert_no_card_data
from tests.support.processes import celery_worker, daphne_server, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.live]


def test_returning_customer_pays_with_saved_cards(alice, simulator, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    customer = alice.client.post("/api/v1/customers", {"email": "asha@example.com"}, format="json").json()
    methods = f"/api/v1/customers/{customer['id']}/payment-methods"
    approve = alice.client.post(methods, {"type": "card", "card": card(VISA_OK, cvv="987")}, format="json").json()
    decline = alice.client.post(methods, {"type": "card", "card": card(VISA_DECLINED, cvv="654")}, format="json").json()
    log_path = tmp_path / "worker.log"
    with (
        daphne_server() as base,
        celery_worker(env={"SIMULATOR_CALLBACK_BASE_URL": base}, queues="default,payments,outbox", log_path=log_path),
    ):
        ids = []
        for method in (approve, decline):
            response = alice.client.post(
                "/api/v1/payments",
                {"amount": 20000, "customer_id": customer["id"], "payment_method_id": method["id"]},
                format="json",
            )
            assert response.status_code == 201, response.json()
            ids.append(response.json()["id"])

        def final() -> bool:
            return all(Payment.objects.get(pk=i).status != "pending" for i in ids)

        wait_for(final, timeout=20, message="both saved-card payments to end")
    ok, declined = (Payment.objects.get(pk=i) for i in ids)
    assert (ok.status, ok.payment_method_id) == ("success", approve["id"])
    assert (declined.status, declined.error_code) == ("failed", "card_declined")
    assert_no_card_data(
        numbers=("4111111111111111", "4111 1111 1111 1111", "4000000000000002", "4000 0000 0000 0002"),
        cvvs=("987", "654"),
        logs=[log_path.read_text(errors="replace"), caplog.text],
    )
