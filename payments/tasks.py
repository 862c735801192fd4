"""Celery entry points of the payments core (queue ``payments``): thin wrappers that take
ids, never card data, and call one service each."""

from __future__ import annotations

import logging

from celery import shared_task

from common.correlation import correlation_scope
from payments.providers.simulator import tasks as _simulator_tasks  # noqa: F401 - registers simulator_notify
from payments.services.idempotency import idempotency_keys_purge
from payments.services.refunds import refund_process
from payments.services.stuck import payments_stuck_sweep
from payments.services.submission import payment_submissions_process

logger = logging.getLogger("tender.tasks")


@shared_task(name="payments.tasks.payment_process_batch", ignore_result=True)
def payment_process_batch(items: list[list[str | None]]) -> None:
    """Submit a batch of ``[payment_id, correlation_id]`` (up to SUBMISSIONS_PER_TASK of one
    outbox dispatch batch) with one claim, one provider call and one record transaction."""
    try:
        payment_submissions_process(items=items)
    except Exception:  # the claims taken stay until their lease runs out; the sweeper resubmits
        logger.exception("payment submission batch failed; the sweeper retries", extra={"count": len(items)})


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
