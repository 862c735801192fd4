"""The simulator provider: records submissions in its own ledger, decides outcomes,
reports them by signed webhook (with optional faults), answers status queries and
publishes settlement files. It runs inside the gateway for convenience but behaves as an
external acquirer: the gateway only learns outcomes through webhooks, get_status and
settlement files."""

from __future__ import annotations

import csv
import io
import json
import logging
import random
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from common.tasks import task_send
from payments.models import Mode, Payment, Refund
from payments.providers.base import (
    SETTLEMENT_COLUMNS,
    InvalidSignature,
    ProviderError,
    ProviderNotification,
    ProviderNotReached,
    ProviderOutcomeUnknown,
    ProviderStatus,
    SubmitResult,
    TokenizeResult,
)
from payments.providers.simulator import outcomes, signing, tokens
from payments.providers.simulator.models import SimulatorConfig, SimulatorTransaction
from payments.validation import CardDetails

logger = logging.getLogger("tender.simulator")
FEE_BASIS_POINTS = 200  # 2 %, shown in settlement files
NOTIFY_TASK = "payments.providers.simulator.tasks.simulator_notify"
# A notification task carries at most a submission batch's (25) and their faults' extras.
MAX_NOTIFICATIONS_PER_POST = 200


def new_reference() -> str:
    return "sim_" + secrets.token_hex(10)


class SimulatorProvider:
    name = "simulator"

    def submit(self, *, payment: Payment) -> SubmitResult:
        """Record the payment and schedule the outcome notification after commit.
        Idempotent per payment id (a retried submit returns the first reference).

        Faults: ``submit_unreachable_rate`` raises :class:`ProviderNotReached` before
        anything is recorded (a refused connection); ``submit_reply_lost_rate`` records the
        payment (and notifies as usual) but raises :class:`ProviderOutcomeUnknown` instead of
        answering (the reply was lost), on a first submit and on retries alike."""
        config = outcomes.simulator_config()
        if random.random() < config.submit_unreachable_rate:
            raise ProviderNotReached("connection refused (simulated)")
        existing = SimulatorTransaction.objects.filter(kind="payment", payment_id=payment.id).first()
        if existing is not None:
            return self._answer(config, existing.reference)
        new_row, delay_ms = _ledger_row(config, payment)
        row, created = _record_once(new_row, kind="payment", payment_id=payment.id)
        if created and row.outcome != outcomes.TIMEOUT:
            transaction.on_commit(lambda: schedule_notification(row.reference, delay_ms))
        return self._answer(config, row.reference)

    def submit_batch(self, *, payments: Sequence[Payment]) -> dict[str, SubmitResult | ProviderError]:
        """:meth:`submit` for many payments in one call, as an acquirer's batch API takes them:
        one ledger INSERT (``ON CONFLICT DO NOTHING``: the unique constraint keeps one row per
        payment, however submits overlap) and one notification task for the batch. The same
        faults, drawn per payment; returns each payment's answer or the error it got."""
        config = outcomes.simulator_config()
        answers: dict[str, SubmitResult | ProviderError] = {}
        reachable = []
        for payment in payments:
            if random.random() < config.submit_unreachable_rate:
                answers[payment.id] = ProviderNotReached("connection refused (simulated)")
            else:
                reachable.append(payment)
        if not reachable:
            return answers
        rows, delays = [], {}
        for payment in reachable:
            row, delays[payment.id] = _ledger_row(config, payment)
            rows.append(row)
        SimulatorTransaction.objects.bulk_create(rows, ignore_conflicts=True)
        ours = {row.payment_id: row.reference for row in rows}
        recorded = dict(
            SimulatorTransaction.objects.filter(kind="payment", payment_id__in=list(ours)).values_list(
                "payment_id", "reference"
            )
        )
        # A reference of ours in the ledger is a row this call inserted; any other one was there first.
        created = {pid: ref for pid, ref in recorded.items() if ours[pid] == ref}
        outcome_of = {row.payment_id: row.outcome for row in rows}
        to_notify = [(ref, delays[pid]) for pid, ref in created.items() if outcome_of[pid] != outcomes.TIMEOUT]
        if to_notify:
            transaction.on_commit(lambda: schedule_notifications(to_notify))
        for payment in reachable:
            try:
                answers[payment.id] = self._answer(config, recorded[payment.id])
            except ProviderError as exc:
                answers[payment.id] = exc
        return answers

    @staticmethod
    def _answer(config: SimulatorConfig, reference: str) -> SubmitResult:
        if random.random() < config.submit_reply_lost_rate:
            raise ProviderOutcomeUnknown("read timed out after the request was sent (simulated)")
        return SubmitResult(reference=reference)

    def tokenize(self, *, merchant_id: uuid.UUID, card: CardDetails) -> TokenizeResult:
        """Keep a card for later payments; see :mod:`payments.providers.simulator.tokens`."""
        return tokens.token_create(merchant_id=merchant_id, card=card)

    def refund(self, *, refund: Refund, payment: Payment) -> SubmitResult:
        """Record the refund and schedule its notification; idempotent per refund id."""
        existing = SimulatorTransaction.objects.filter(kind="refund", refund_id=refund.id).first()
        if existing is not None:
            return SubmitResult(reference=existing.reference)
        config = outcomes.simulator_config()
        decision = outcomes.decide(config=config, method="refund", vpa=None, card_network=None, card_last4=None)
        row, created = _record_once(
            SimulatorTransaction(
                reference=new_reference(),
                kind="refund",
                payment_id=payment.id,
                refund_id=refund.id,
                order_id=payment.order_id,
                merchant_id=payment.merchant_id,
                amount=refund.amount,
                currency=payment.currency,
                method=payment.method,
                outcome="processed",  # the simulated acquirer always honours refunds
                decide_at=timezone.now() + timedelta(milliseconds=decision.delay_ms),
            ),
            kind="refund",
            refund_id=refund.id,
        )
        if created:
            transaction.on_commit(lambda: schedule_notification(row.reference, decision.delay_ms))
        return SubmitResult(reference=row.reference)

    def get_status(self, *, reference: str) -> ProviderStatus:
        row = SimulatorTransaction.objects.filter(reference=reference).first()
        if row is None or row.outcome == outcomes.TIMEOUT or timezone.now() < row.decide_at:
            return ProviderStatus(status="pending")
        return ProviderStatus(status=row.outcome, error_code=row.error_code, error_description=row.error_description)

    def fetch_settlement(self, *, period_start: datetime, period_end: datetime) -> bytes:
        """CSV of every payment decided in ``[period_start, period_end)`` (and already
        decided now), as the acquirer settled it: including what it never reported."""
        rows = (
            SimulatorTransaction.objects.filter(
                kind="payment",
                settled_status__isnull=False,
                decide_at__gte=period_start,
                decide_at__lt=min(period_end, timezone.now()),
            )
            .order_by("decide_at", "reference")
            .values_list(
                "reference", "payment_id", "order_id", "settled_amount", "currency", "settled_status", "decide_at"
            )
        )
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(SETTLEMENT_COLUMNS)
        for reference, payment_id, order_id, amount, currency, status, decided in rows:
            fee = amount * FEE_BASIS_POINTS // 10_000 if status == outcomes.SUCCESS else 0
            settled_at = decided.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            writer.writerow([reference, payment_id, order_id, amount, currency, status, settled_at, fee])
        return out.getvalue().encode()

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderNotification:
        notifications = self.verify_webhook_batch(headers, body)
        if len(notifications) != 1:
            raise InvalidSignature("signed body is a batch of simulator notifications, not one")
        return notifications[0]

    def verify_webhook_batch(self, headers: Mapping[str, str], body: bytes) -> list[ProviderNotification]:
        """The notifications of one signed POST: a single one, or ``{"notifications": [...]}``."""
        signing.verify(headers, body)
        try:
            payload = json.loads(body)
            items = payload["notifications"] if isinstance(payload, dict) and "notifications" in payload else [payload]
            if not isinstance(items, list) or not items or len(items) > MAX_NOTIFICATIONS_PER_POST:
                raise ValueError("not a batch of notifications")
            return [_notification(item) for item in items]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InvalidSignature("signed body is not a simulator notification") from None


def _notification(payload: dict) -> ProviderNotification:
    return ProviderNotification(
        event_id=str(payload["id"]),
        object_type=str(payload["object_type"]),
        object_id=str(payload["object_id"]),
        reference=str(payload["reference"]),
        status=str(payload["status"]),
        error_code=payload.get("error_code"),
        error_description=payload.get("error_description"),
        payload=payload,
    )


def _ledger_row(config: SimulatorConfig, payment: Payment) -> tuple[SimulatorTransaction, int]:
    """The ledger row the acquirer would record for ``payment`` (decided now), and the
    delay in ms after which it reports the outcome."""
    decision = outcomes.decide(
        config=config,
        method=payment.method,
        vpa=payment.vpa,
        card_network=payment.card_network,
        card_last4=payment.card_last4,
        token_outcome_class=tokens.token_outcome_class(payment=payment),
        live=payment.mode == Mode.LIVE,
    )
    settled_status, settled_amount = outcomes.settlement_for(
        config=config, outcome=decision.outcome, amount=payment.amount
    )
    row = SimulatorTransaction(
        reference=new_reference(),
        kind="payment",
        payment_id=payment.id,
        order_id=payment.order_id,
        merchant_id=payment.merchant_id,
        amount=payment.amount,
        currency=payment.currency,
        method=payment.method,
        outcome=decision.outcome,
        error_code=decision.error_code,
        error_description=decision.error_description,
        decide_at=timezone.now() + timedelta(milliseconds=decision.delay_ms),
        settled_status=settled_status,
        settled_amount=settled_amount,
    )
    return row, decision.delay_ms


def _record_once(row: SimulatorTransaction, **identity: str) -> tuple[SimulatorTransaction, bool]:
    """Insert ``row`` unless the payment/refund it records (``identity``) already is; return
    the ledger row and whether it is new. The caller runs outside any transaction, so two
    overlapping submits (a worker whose lease ran out and the one that took over) can both
    pass the lookup: the unique constraint decides, and the loser gets the winner's row."""
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        return SimulatorTransaction.objects.get(**identity), False
    return row, True


def notification_body(row: SimulatorTransaction, *, status: str, event_suffix: str) -> bytes:
    """One notification, signed on its own (what a single POST carries)."""
    payload = notification_payload(row, status=status, event_suffix=event_suffix)
    return json.dumps(payload, separators=(",", ":")).encode()


def notification_payload(row: SimulatorTransaction, *, status: str, event_suffix: str) -> dict:
    return {
        "id": f"simevt_{row.reference}_{event_suffix}",
        "type": f"{row.kind}.status",
        "object_type": row.kind,
        "object_id": row.refund_id if row.kind == "refund" else row.payment_id,
        "reference": row.reference,
        "status": status,
        "error_code": row.error_code if status == "failed" else None,
        "error_description": row.error_description if status == "failed" else None,
        "amount": row.amount,
        "currency": row.currency,
        "created": int(timezone.now().timestamp()),
    }


def schedule_notification(reference: str, delay_ms: int) -> None:
    schedule_notifications([(reference, delay_ms)])


def schedule_notifications(due: Sequence[tuple[str, int]]) -> None:
    """One notification task (``simulator_notify``) for ``(reference, delay_ms)`` pairs, due after the
    shortest delay; the task reports those decided by then and schedules itself again for
    the rest (one task per batch, as long as its delays are equal, as in TEST_MODE)."""
    references = [reference for reference, _ in due]
    try:
        # No countdown at all for a zero delay: an ETA task waits in the worker's timer instead of running.
        delay_ms = min(delay for _, delay in due)
        task_send(NOTIFY_TASK, references, countdown=delay_ms / 1000 if delay_ms > 0 else None)
    except Exception:  # noqa: BLE001 - a lost notification is a case the gateway must survive
        logger.warning("simulator could not schedule notifications", extra={"references": references})
