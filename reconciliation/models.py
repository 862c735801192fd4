"""Reconciliation storage: settlement files and their lines, runs with per-class counts,
discrepancies (the review queue), per-merchant policies and the audit of every action.

Classification happens in SQL (:mod:`reconciliation.classify`); these tables only hold
its inputs and results. Uniqueness lives in the schema: a file is imported once
(checksum), a discrepancy is recorded once per subject and class, and an action that
changes a payment is applied at most once per payment and kind.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from payments.ids import new_public_id
from payments.models import Merchant, Payment, Refund


def new_run_id() -> str:
    return new_public_id("recon")


def new_discrepancy_id() -> str:
    return new_public_id("disc")


class Klass(models.TextChoices):
    """The class of one reconciliation item (a settlement line, a payment, or both)."""

    MATCHED = "matched", "matched (both charged)"
    BOTH_FAILED = "both_failed", "both failed"
    PENDING_UNSETTLED = "pending_unsettled", "ours pending, not in the file"
    PROVIDER_SETTLED_OURS_NOT = "provider_settled_ours_not", "provider settled, ours not charged (scenario 1)"
    OURS_SUCCESS_PROVIDER_NOT = "ours_success_provider_not", "ours charged, provider failed/absent (scenario 3)"
    PROVIDER_FAILED_OURS_PENDING = "provider_failed_ours_pending", "provider failed, ours still pending"
    AMOUNT_MISMATCH = "amount_mismatch", "amount mismatch"
    CURRENCY_MISMATCH = "currency_mismatch", "currency mismatch"
    UNKNOWN_TO_US = "unknown_to_us", "line unknown to us"
    DUPLICATE_LINE = "duplicate_line", "duplicate line"


class ActionKind(models.TextChoices):
    ACCEPT = "accept", "accept (mark success)"
    REFUND = "refund", "accept and refund in full"
    MARK_FAILED = "mark_failed", "mark failed"
    CONFIRM = "confirm", "confirm with the provider"
    NONE = "none", "no action"


# Kinds that change a payment: at most one applied row per payment and kind (the partial
# unique constraint of Action, which reads this list).
PAYMENT_CHANGING_KINDS = [ActionKind.ACCEPT, ActionKind.REFUND, ActionKind.MARK_FAILED]


class ReconciliationPolicy(models.Model):
    """What reconciliation does on its own for one merchant. No row = the defaults."""

    class Scenario1(models.TextChoices):
        ACCEPT = "accept", "accept: record the charge (success, or duplicate refunded automatically)"
        REFUND = "refund", "refund: record the charge, then refund in full"

    class Scenario3(models.TextChoices):
        FLAG = "flag", "flag for staff review"
        CONFIRM_AND_FAIL = "confirm_and_fail", "ask the provider again; mark failed if it confirms"

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="reconciliation_policy")
    provider_settled_ours_not = models.CharField(
        max_length=16, choices=Scenario1.choices, default=Scenario1.ACCEPT, help_text="scenario 1"
    )
    ours_success_provider_not = models.CharField(
        max_length=16, choices=Scenario3.choices, default=Scenario3.FLAG, help_text="scenario 3"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "reconciliation_policies"
        verbose_name_plural = "reconciliation policies"

    def __str__(self) -> str:
        return f"policy of {self.merchant_id}"


class SettlementFile(models.Model):
    """One imported settlement file. Its lines live in :class:`SettlementLine`."""

    class Source(models.TextChoices):
        BEAT = "beat"
        COMMAND = "command"
        ADMIN = "admin"
        API = "api"

    provider = models.CharField(max_length=32)
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the bytes")
    filename = models.CharField(max_length=255, blank=True, default="")
    size = models.BigIntegerField()
    line_count = models.IntegerField()
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    source = models.CharField(max_length=16, choices=Source.choices)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "reconciliation_settlement_files"
        ordering = ["-imported_at"]
        constraints = [
            # The same bytes for the same provider and period are imported once. The period
            # is part of the key because identical bytes can describe different periods
            # (every quiet period's file is the bare header).
            models.UniqueConstraint(
                fields=["provider", "checksum", "period_start", "period_end"], name="recon_file_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.filename or self.checksum[:12]}"


class SettlementLine(models.Model):
    """One line of a settlement file, typed. Loaded with COPY; never edited."""

    # No FK constraint: COPY inserts a million rows for a file row written a moment before in
    # the same transaction; a per-row check at commit would only cost time.
    file = models.ForeignKey(SettlementFile, on_delete=models.CASCADE, related_name="lines", db_constraint=False)
    line_no = models.IntegerField()
    provider_reference = models.CharField(max_length=64)
    payment_id = models.CharField(max_length=64)
    order_id = models.CharField(max_length=64)
    amount = models.BigIntegerField(help_text="minor units")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16)
    settled_at = models.DateTimeField(null=True)
    fee = models.BigIntegerField(help_text="minor units")

    class Meta:
        db_table = "reconciliation_settlement_lines"
        ordering = ["file", "line_no"]

    def __str__(self) -> str:
        return f"line {self.line_no} {self.provider_reference}"


class Run(models.Model):
    """One comparison of a settlement file with our payments of its period."""

    class Status(models.TextChoices):
        CLASSIFIED = "classified", "classified (actions pending)"
        COMPLETED = "completed"

    id = models.CharField(primary_key=True, max_length=32, default=new_run_id, editable=False)
    provider = models.CharField(max_length=32)
    file = models.OneToOneField(SettlementFile, on_delete=models.PROTECT, related_name="run")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CLASSIFIED)
    # {"matched": 10, ...}: every class, all merchants (lines we cannot attribute included).
    counts = models.JSONField(default=dict)
    new_discrepancies = models.IntegerField(default=0)
    actions_applied = models.IntegerField(default=0)
    duration_ms = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "reconciliation_runs"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.id


class RunCount(models.Model):
    """Per-merchant counts of a run: what a merchant is shown (merchant NULL = lines we
    could not attribute to anyone, staff only)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="merchant_counts")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, null=True)
    klass = models.CharField(max_length=32, choices=Klass.choices)
    count = models.IntegerField()

    class Meta:
        db_table = "reconciliation_run_counts"
        constraints = [
            models.UniqueConstraint(
                fields=["run", "merchant", "klass"], name="recon_run_count_unique", nulls_distinct=False
            )
        ]
        indexes = [models.Index(fields=["merchant", "run"], name="recon_run_counts_merchant")]

    def __str__(self) -> str:
        return f"{self.run_id} {self.klass}={self.count}"


class Discrepancy(models.Model):
    """A disagreement between the file and our records: one row per subject and class,
    however many runs see it (``last_run`` is the latest). Open rows form the review queue."""

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"
        DISMISSED = "dismissed"

    id = models.CharField(primary_key=True, max_length=32, default=new_discrepancy_id, editable=False)
    provider = models.CharField(max_length=32)
    # payment id, or "ref:<provider reference>:<line's payment id>" for lines we cannot
    # attribute, or "dup:<provider reference>:<line no>" for duplicate lines.
    subject_key = models.CharField(max_length=160)
    klass = models.CharField(max_length=32, choices=Klass.choices)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, null=True, blank=True)
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, null=True, blank=True)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="discrepancies")
    last_run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(SettlementLine, on_delete=models.SET_NULL, null=True, blank=True)
    provider_reference = models.CharField(max_length=64, blank=True, default="")
    our_status = models.CharField(max_length=16, blank=True, default="")
    our_amount = models.BigIntegerField(null=True, blank=True)
    our_currency = models.CharField(max_length=3, blank=True, default="")
    provider_status = models.CharField(max_length=16, blank=True, default="")
    provider_amount = models.BigIntegerField(null=True, blank=True)
    provider_currency = models.CharField(max_length=3, blank=True, default="")
    proposed_action = models.CharField(max_length=16, choices=ActionKind.choices, default=ActionKind.NONE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # Bumped on every change; carried by the reconciliation.discrepancy events.
    version = models.PositiveIntegerField(default=1)
    note = models.TextField(blank=True, default="")
    resolved_by = models.CharField(max_length=150, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "reconciliation_discrepancies"
        ordering = ["-created_at"]
        verbose_name_plural = "discrepancies"
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject_key", "klass"], name="recon_discrepancy_once"),
        ]
        indexes = [
            models.Index(fields=["status", "klass", "created_at"], name="recon_disc_queue"),
            models.Index(fields=["merchant", "created_at"], name="recon_disc_merchant"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.klass}"


class RunDiscrepancy(models.Model):
    """Which discrepancies a run saw (a known one seen again is linked, not duplicated)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    discrepancy = models.ForeignKey(Discrepancy, on_delete=models.CASCADE, related_name="+")

    class Meta:
        db_table = "reconciliation_run_discrepancies"
        constraints = [models.UniqueConstraint(fields=["run", "discrepancy"], name="recon_run_discrepancy_once")]

    def __str__(self) -> str:
        return f"{self.run_id} {self.discrepancy_id}"


class Action(models.Model):
    """The audit of everything reconciliation (or staff through it) did or tried."""

    class Status(models.TextChoices):
        APPLIED = "applied"
        FAILED = "failed"
        SKIPPED = "skipped"

    class Actor(models.TextChoices):
        AUTO = "auto", "automatic (policy)"
        STAFF = "staff"

    discrepancy = models.ForeignKey(Discrepancy, on_delete=models.CASCADE, related_name="actions")
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, null=True, blank=True)
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True)
    kind = models.CharField(max_length=16, choices=ActionKind.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    actor = models.CharField(max_length=16, choices=Actor.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    refund = models.ForeignKey(Refund, on_delete=models.SET_NULL, null=True, blank=True)
    detail = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "reconciliation_actions"
        ordering = ["-created_at"]
        constraints = [
            # Never applied twice, however often a run repeats.
            models.UniqueConstraint(
                fields=["payment", "kind"],
                condition=models.Q(status="applied", kind__in=PAYMENT_CHANGING_KINDS),
                name="recon_action_once_per_payment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status} {self.payment_id or ''}"
