"""What reconciliation does about discrepancies: the merchants' policies (automatic) and
staff resolutions from the review queue. Both use the payments core's own services —
``payment_transition`` and ``refund_create`` — so timelines, events and webhooks follow
exactly as for any other change.

Every attempt is a row in ``reconciliation_actions``. A payment-changing action is claimed
by inserting its ``applied`` row in the same transaction as the change; a partial unique
index (payment, kind) over applied rows makes a second application impossible, however often
runs repeat or race.

Policies:

* scenario 1 (provider settled, ours failed/pending/cancelled): ``accept`` records the
  charge with ``payment_charge_record`` (``correction=True`` from failed or cancelled):
  ``success``, or — when another payment of the order already keeps the money —
  ``duplicate`` with its automatic full refund. ``refund`` first does the same — the money
  *was* taken, and refunds exist only for charged payments — then creates a refund of the
  full refundable amount through the normal refund path (``refund.created`` now,
  ``refund.processed`` when the provider confirms); for a duplicate, whose automatic refund
  already covers it, that step is audited ``skipped``.
* scenario 3 (ours success, provider failed or absent): ``flag`` leaves it to staff;
  ``confirm_and_fail`` asks the provider again (``get_status``) and moves the payment to
  ``failed`` only if the provider answers ``failed``. Anything else keeps it in the queue.
* provider failed, ours still pending: the provider has decided, so the payment moves to
  ``failed`` (a normal transition), whatever the policy.
"""

from __future__ import annotations

import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from common.errors import DomainError, InvalidInput
from payments.models import Payment, Refund
from payments.providers import get_provider
from payments.providers.base import ProviderError
from payments.services.charges import DUPLICATE_PAYMENT, payment_charge_record
from payments.services.refunds import payment_refundable_amount, refund_create
from payments.services.transitions import payment_transition
from payments.states import PAYMENT_CHARGED, PaymentStatus
from reconciliation.events import discrepancy_event_record
from reconciliation.models import Action, ActionKind, Discrepancy, Klass, ReconciliationPolicy, RunDiscrepancy

logger = logging.getLogger("tender.reconciliation")

TIMELINE_SOURCE_AUTO = "reconciliation"
TIMELINE_SOURCE_STAFF = "admin"

# What staff may choose per class (the first is what "approve" means when nothing is proposed).
STAFF_CHOICES: dict[str, tuple[str, ...]] = {
    Klass.PROVIDER_SETTLED_OURS_NOT: (ActionKind.ACCEPT, ActionKind.REFUND),
    Klass.OURS_SUCCESS_PROVIDER_NOT: (ActionKind.MARK_FAILED,),
    Klass.PROVIDER_FAILED_OURS_PENDING: (ActionKind.MARK_FAILED,),
    Klass.AMOUNT_MISMATCH: (ActionKind.ACCEPT, ActionKind.REFUND, ActionKind.MARK_FAILED),
    Klass.CURRENCY_MISMATCH: (ActionKind.ACCEPT, ActionKind.REFUND, ActionKind.MARK_FAILED),
    Klass.UNKNOWN_TO_US: (),
    Klass.DUPLICATE_LINE: (),
}


class ActionNotApplicable(Exception):
    """The action cannot apply to this payment as it is now (kept open, attempt audited)."""


def policy_for(*, merchant_id: Any) -> ReconciliationPolicy:
    """The merchant's policy, or the defaults (accept / flag) when it has none."""
    policy = ReconciliationPolicy.objects.filter(merchant_id=merchant_id).first()
    return policy or ReconciliationPolicy(merchant_id=merchant_id)


# Actions are independent per payment and wait mostly on PostgreSQL round trips, so a
# few threads (each with its own connection) multiply throughput even on two cores.
ACTION_THREADS = 4
AUTO_CLASSES = (Klass.PROVIDER_SETTLED_OURS_NOT, Klass.OURS_SUCCESS_PROVIDER_NOT, Klass.PROVIDER_FAILED_OURS_PENDING)


def run_actions_apply(*, run_id: str) -> int:
    """Apply the policies to every open discrepancy the run saw; return how many
    payment-changing actions were applied now.

    Runs on ``ACTION_THREADS`` threads unless the caller holds a transaction (then its
    own connection is the only one that sees the run, so it stays sequential)."""
    seen = RunDiscrepancy.objects.filter(run_id=run_id).values_list("discrepancy_id", flat=True)
    ids = list(
        Discrepancy.objects.filter(id__in=seen, status=Discrepancy.Status.OPEN, klass__in=AUTO_CLASSES)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if connection.in_atomic_block or len(ids) < 2 * ACTION_THREADS:
        return _auto_apply_ids(ids=ids, run_id=run_id)
    chunks = [ids[i::ACTION_THREADS] for i in range(ACTION_THREADS)]
    with ThreadPoolExecutor(max_workers=ACTION_THREADS, thread_name_prefix="reconciliation") as pool:
        # Each thread runs in a copy of this context: the correlation id travels along.
        futures = [pool.submit(contextvars.copy_context().run, _auto_apply_thread, chunk, run_id) for chunk in chunks]
        return sum(future.result() for future in futures)


def _auto_apply_thread(ids: list[str], run_id: str) -> int:
    try:
        return _auto_apply_ids(ids=ids, run_id=run_id)
    finally:
        connection.close()  # this thread's own connection


def _auto_apply_ids(*, ids: list[str], run_id: str) -> int:
    applied = 0
    policies: dict[Any, ReconciliationPolicy] = {}
    for start in range(0, len(ids), 500):
        still_open = Discrepancy.objects.filter(id__in=ids[start : start + 500], status=Discrepancy.Status.OPEN)
        for discrepancy in still_open.order_by("id"):
            if discrepancy.merchant_id not in policies:
                policies[discrepancy.merchant_id] = policy_for(merchant_id=discrepancy.merchant_id)
            applied += _auto_apply(discrepancy=discrepancy, policy=policies[discrepancy.merchant_id], run_id=run_id)
    return applied


def _auto_apply(*, discrepancy: Discrepancy, policy: ReconciliationPolicy, run_id: str) -> int:
    kinds: list[str]
    if discrepancy.klass == Klass.PROVIDER_SETTLED_OURS_NOT:
        kinds = [ActionKind.ACCEPT]
        if policy.provider_settled_ours_not == ReconciliationPolicy.Scenario1.REFUND:
            kinds.append(ActionKind.REFUND)
    elif discrepancy.klass == Klass.PROVIDER_FAILED_OURS_PENDING:
        kinds = [ActionKind.MARK_FAILED]
    elif policy.ours_success_provider_not == ReconciliationPolicy.Scenario3.CONFIRM_AND_FAIL:
        if not _provider_confirms_failed(discrepancy=discrepancy, run_id=run_id):
            return 0
        kinds = [ActionKind.MARK_FAILED]
    else:
        return 0  # flag: the review queue is the action
    return _apply_kinds(discrepancy=discrepancy, kinds=kinds, actor=Action.Actor.AUTO, run_id=run_id)


def _apply_kinds(
    *,
    discrepancy: Discrepancy,
    kinds: list[str],
    actor: str,
    run_id: str | None = None,
    user: Any = None,
    note: str = "",
) -> int:
    """Apply ``kinds`` in order (each in a savepoint); stop at the first failure, which is
    audited and noted. Resolves the discrepancy when all succeeded. One transaction per
    discrepancy; returns the number applied now."""
    applied = 0
    # Durable commits on purpose: these transactions change payments and write events that
    # webhooks and pushes announce; an asynchronous commit could be seen, announced and then
    # lost in a crash.
    with transaction.atomic():
        # Whoever locks the row first acts; a concurrent run finds it resolved and leaves it.
        open_row = Discrepancy.objects.select_for_update().filter(pk=discrepancy.pk, status=Discrepancy.Status.OPEN)
        if not open_row.exists():
            return 0
        for kind in kinds:
            try:
                with transaction.atomic():
                    if _apply_one(discrepancy=discrepancy, kind=kind, actor=actor, run_id=run_id, user=user, note=note):
                        applied += 1
            except (ActionNotApplicable, DomainError) as exc:
                description = getattr(exc, "description", None) or str(exc)
                _audit(discrepancy, kind, Action.Status.FAILED, actor, run_id, user, detail=description)
                _discrepancy_update(discrepancy, note=f"{kind} failed: {description}")
                return applied
        _discrepancy_update(
            discrepancy,
            status=Discrepancy.Status.RESOLVED,
            resolved_by=getattr(user, "username", "") or "reconciliation policy",
            note=note or f"applied: {', '.join(kinds)}",
        )
    return applied


def _apply_one(*, discrepancy: Discrepancy, kind: str, actor: str, run_id: str | None, user: Any, note: str) -> bool:
    """Apply one payment-changing action; False when it was already applied before."""
    if discrepancy.payment_id is None:
        raise ActionNotApplicable("the line names no payment of ours")
    source = TIMELINE_SOURCE_AUTO if actor == Action.Actor.AUTO else TIMELINE_SOURCE_STAFF
    detail = f"reconciliation {discrepancy.klass} ({discrepancy.id})"
    with transaction.atomic():
        try:
            with transaction.atomic():
                action = _audit(discrepancy, kind, Action.Status.APPLIED, actor, run_id, user, detail=note)
        except IntegrityError:
            return False  # applied by an earlier run (or a concurrent one): never twice
        try:
            if kind in (ActionKind.ACCEPT, ActionKind.MARK_FAILED):
                return _move(discrepancy=discrepancy, action=action, kind=kind, source=source, detail=detail)
            if kind == ActionKind.REFUND:
                return _refund_full(discrepancy=discrepancy, action=action, source=source)
        except IntegrityError as exc:
            # e.g. the order already has another successful payment (one per order).
            raise ActionNotApplicable(f"the database refused it: {exc}".splitlines()[0]) from None
        raise ActionNotApplicable(f"unknown action {kind}")


def _move(*, discrepancy: Discrepancy, action: Action, kind: str, source: str, detail: str) -> bool:
    """``accept`` records the charge (success, or duplicate + automatic refund on an order
    another payment already paid); ``mark_failed`` moves the payment to failed."""
    with transaction.atomic():
        if kind == ActionKind.ACCEPT:
            result = payment_charge_record(
                payment_id=discrepancy.payment_id, source=source, detail=detail, correction=True
            )
            targets = PAYMENT_CHARGED
        else:
            result = payment_transition(
                payment_id=discrepancy.payment_id,
                to_status=PaymentStatus.FAILED,
                source=source,
                detail=detail,
                error_code="RECONCILIATION",
                error_description="Marked failed by reconciliation with the provider's settlement",
                correction=True,
            )
            targets = frozenset({PaymentStatus.FAILED})
    if not result.changed and result.obj.status not in targets:
        raise ActionNotApplicable(f"payment is {result.obj.status}; cannot {kind} it")
    if not result.changed:
        # Already where the provider says (e.g. its late notification arrived meanwhile).
        action.status = Action.Status.SKIPPED
        action.detail = f"already {result.obj.status}"
        action.save(update_fields=["status", "detail"])
        return False
    if result.obj.status == PaymentStatus.DUPLICATE:
        action.refund = Refund.objects.filter(payment_id=result.obj.pk, reason=DUPLICATE_PAYMENT).first()
        action.detail = "the order was already paid: recorded duplicate, refunded automatically"
        action.save(update_fields=["refund", "detail"])
    return True


def _refund_full(*, discrepancy: Discrepancy, action: Action, source: str) -> bool:
    """Refund what is left of the payment; a duplicate's automatic refund already covers it."""
    payment = Payment.objects.get(pk=discrepancy.payment_id)
    remaining = payment_refundable_amount(payment_id=payment.id)
    if remaining <= 0 and payment.status == PaymentStatus.DUPLICATE:
        action.status = Action.Status.SKIPPED
        action.refund = Refund.objects.filter(payment_id=payment.id, reason=DUPLICATE_PAYMENT).first()
        action.detail = "already refunded automatically as a duplicate"
        action.save(update_fields=["status", "refund", "detail"])
        return False
    if remaining <= 0:
        raise ActionNotApplicable("nothing left to refund")
    action.refund = refund_create(
        merchant=payment.merchant,
        payment_id=payment.id,
        amount=remaining,
        reason=f"reconciliation {discrepancy.id}",
        source=source,
    )
    action.save(update_fields=["refund"])
    return True


def _provider_confirms_failed(*, discrepancy: Discrepancy, run_id: str) -> bool:
    """The second confirmation of scenario 3, audited whatever the answer."""
    payment = Payment.objects.get(pk=discrepancy.payment_id)
    reference = payment.provider_reference or discrepancy.provider_reference
    if not reference:
        _audit(discrepancy, ActionKind.CONFIRM, Action.Status.FAILED, Action.Actor.AUTO, run_id, None, "no reference")
        return False
    try:
        answer = get_provider(payment.provider).get_status(reference=reference)
    except ProviderError as exc:
        _audit(discrepancy, ActionKind.CONFIRM, Action.Status.FAILED, Action.Actor.AUTO, run_id, None, str(exc))
        return False
    _audit(discrepancy, ActionKind.CONFIRM, Action.Status.APPLIED, Action.Actor.AUTO, run_id, None, answer.status)
    if answer.status != PaymentStatus.FAILED:
        _discrepancy_update(discrepancy, note=f"the provider still reports {answer.status}; needs review")
        return False
    return True


def discrepancy_resolve(*, discrepancy_id: str, kind: str | None, user: Any, note: str = "") -> Discrepancy:
    """Staff resolution from the review queue. ``kind=None`` approves the proposed action;
    ``kind="none"`` dismisses with ``note`` (required). Raises :class:`InvalidInput` when the
    action does not fit the class or the discrepancy is no longer open."""
    with transaction.atomic():
        # Locked: two staff members approving the same row resolve it once.
        discrepancy = Discrepancy.objects.select_for_update().get(pk=discrepancy_id)
        return _resolve_locked(discrepancy=discrepancy, kind=kind, user=user, note=note)


def _resolve_locked(*, discrepancy: Discrepancy, kind: str | None, user: Any, note: str) -> Discrepancy:
    if discrepancy.status != Discrepancy.Status.OPEN:
        raise InvalidInput(f"discrepancy {discrepancy.id} is already {discrepancy.status}", reason="not_open")
    if kind is None:
        kind = discrepancy.proposed_action
        if kind == ActionKind.NONE:
            raise InvalidInput("nothing is proposed for this discrepancy; choose an action or dismiss")
    if kind == ActionKind.NONE:
        if not note.strip():
            raise InvalidInput("a note is required to dismiss", field="note")
        _audit(discrepancy, ActionKind.NONE, Action.Status.APPLIED, Action.Actor.STAFF, None, user, detail=note)
        _discrepancy_update(
            discrepancy, status=Discrepancy.Status.DISMISSED, resolved_by=user.get_username(), note=note
        )
        return discrepancy
    if kind not in STAFF_CHOICES.get(discrepancy.klass, ()):
        raise InvalidInput(f"{kind} does not apply to a {discrepancy.klass} discrepancy", field="action")
    kinds = [ActionKind.ACCEPT, ActionKind.REFUND] if kind == ActionKind.REFUND else [kind]
    _apply_kinds(discrepancy=discrepancy, kinds=kinds, actor=Action.Actor.STAFF, user=user, note=note)
    discrepancy.refresh_from_db()
    return discrepancy


def _audit(
    discrepancy: Discrepancy,
    kind: str,
    status: str,
    actor: str,
    run_id: str | None,
    user: Any,
    detail: str = "",
) -> Action:
    return Action.objects.create(
        discrepancy=discrepancy,
        payment_id=discrepancy.payment_id,
        run_id=run_id,
        kind=kind,
        status=status,
        actor=actor,
        user=user if getattr(user, "pk", None) else None,
        detail=detail,
    )


def _discrepancy_update(discrepancy: Discrepancy, **changes: Any) -> None:
    """Change a discrepancy, bump its version and announce it (one transaction). Nothing
    happens when nothing changes, so a repeated run with the same outcome stays silent."""
    if all(getattr(discrepancy, name) == value for name, value in changes.items()):
        return
    with transaction.atomic():
        for name, value in changes.items():
            setattr(discrepancy, name, value)
        if changes.get("status") in (Discrepancy.Status.RESOLVED, Discrepancy.Status.DISMISSED):
            discrepancy.resolved_at = timezone.now()
        discrepancy.version += 1
        discrepancy.save(update_fields=[*changes, "resolved_at", "version"])
        discrepancy_event_record(discrepancy=discrepancy)
