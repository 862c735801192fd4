"""Celery entry points of the payments core (queue ``payments``): thin wrappers that take
ids, never card data, and call one service each."""

from __future__ import annotations

import logging

from celery import shared_task

from common.correlation import correlation_scope
from payments.providers.simulator import tasks as _simulator_tasks  # noqa: F401 - registers simulator.notify
from payments.services.idempotency import idempotency_keys_purge
from payments.services.payments import payment_process
from payments.services.refunds import refund_process
from payments.services.stuck import payments_stuck_sweep

logger = logging.getLogger("tender.tasks")


@shared_task(name="payments.tasks.payment_process_batch", ignore_result=True)
def payment_process_batch(items: list[list[str | None]]) -> None:
    """Submit a batch of payments (one per outbox dispatch batch), each under the
    correlation id of the request that created it."""
    for payment_id, correlation_id in items:
        with correlation_scope(correlation_id):
            try:
                payment_process(payment_id=payment_id)
            except Exception:  # one failing submission must not hold up the rest of the batch
                logger.exception("payment submission failed; the sweeper retries", extra={"payment_id": payment_id})


@shared_task(name="payments.tasks.refund_process_batch", ignore_result=True)
def refund_process_batch(items: list[list[str | None]]) -> None:
    for refund_id, correlation_id in items:
        with correlation_scope(correlation_id):
            try:
                refund_process(refund_id=refund_id)
            except Exception:
                logger.exception("refund submission failed; the sweeper retries", extra={"refund_id": refund_id})


@shared_task(name="payments.tasks.payments_stuck_sweep", ignore_result=True)
def payments_stuck_sweep_task() -> dict:
    """Beat job: resubmit lost work and ask the provider about stuck payments/refunds."""
    report = payments_stuck_sweep()
    return {"resubmitted": len(report.resubmitted), "polled": len(report.polled), "settled": len(report.settled)}


@shared_task(name="payments.tasks.idempotency_keys_purge", ignore_result=True)
def idempotency_keys_purge_task() -> int:
    """Beat job: delete idempotency keys older than their 24 h lifetime."""
    return idempotency_keys_purge()
