"""One correlation id follows a request through the outbox dispatcher and the Celery task
into the events the worker writes."""

import pytest

from payments.models import Event
from tests.support.processes import celery_worker, wait_for


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_request_correlation_id_reaches_worker_written_events(alice, tmp_path):
    # the outbox dispatcher queues the submission; the payments queue runs it
    with celery_worker(queues="payments,outbox", concurrency=1, log_path=tmp_path / "worker.log"):
        response = alice.client.post(
            "/api/v1/payments",
            {"amount": 50000, "currency": "INR", "method": "upi", "vpa": "success@upi"},
            format="json",
            HTTP_X_CORRELATION_ID="corr-flow-1",
        )
        assert response.status_code == 201
        assert response["X-Correlation-ID"] == "corr-flow-1"
        payment_id = response.json()["id"]
        wait_for(
            lambda: Event.objects.filter(object_id=payment_id, type="payment.pending").exists(),
            timeout=20,
            message="the worker's payment.pending event",
        )
    created = Event.objects.get(object_id=payment_id, type="payment.created")
    pending = Event.objects.get(object_id=payment_id, type="payment.pending")
    assert created.correlation_id == "corr-flow-1"  # written by the API request
    assert pending.correlation_id == "corr-flow-1"  # written by the worker, carried by the task
