"""The simulator's own state: its ledger (what the "acquirer" knows) and its fault knobs.

These tables play an external system's database. The gateway reads them only through the
provider interface (``get_status``, ``fetch_settlement``), never directly.
"""

from __future__ import annotations

from django.db import models


class SimulatorConfig(models.Model):
    """Singleton (pk=1) of knobs, editable in the admin and set per test."""

    upi_success_rate = models.FloatField(default=0.90)
    card_success_rate = models.FloatField(default=0.95)
    min_delay_ms = models.PositiveIntegerField(default=5000, help_text="outside TEST_MODE")
    max_delay_ms = models.PositiveIntegerField(default=10000, help_text="outside TEST_MODE")
    extra_delay_ms = models.PositiveIntegerField(default=0, help_text="added to every notification")
    submit_unreachable_rate = models.FloatField(
        default=0.0, help_text="share of submits refused before the acquirer sees them (connection refused)"
    )
    submit_reply_lost_rate = models.FloatField(
        default=0.0, help_text="share of submits the acquirer takes but whose answer is lost (read timeout)"
    )
    drop_rate = models.FloatField(default=0.0, help_text="share of notifications never sent")
    duplicate_rate = models.FloatField(default=0.0, help_text="share of notifications sent twice")
    reorder_rate = models.FloatField(
        default=0.0, help_text="share of outcomes followed by a stale 'pending' notification"
    )
    settle_failed_rate = models.FloatField(default=0.0, help_text="share of declined payments settled anyway")
    amount_change_rate = models.FloatField(default=0.0, help_text="share of settlements with a different amount")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "simulator_config"
        verbose_name = "simulator configuration"
        verbose_name_plural = "simulator configuration"

    def __str__(self) -> str:
        return "Simulator configuration"


class SimulatorTransaction(models.Model):
    """One payment or refund as the simulated acquirer records it."""

    class Kind(models.TextChoices):
        PAYMENT = "payment"
        REFUND = "refund"

    reference = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    payment_id = models.CharField(max_length=32)
    refund_id = models.CharField(max_length=32, null=True, blank=True)
    order_id = models.CharField(max_length=32)
    merchant_id = models.UUIDField()
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=8, blank=True, default="")
    # success | failed | timeout (never answers) for payments; processed | failed for refunds
    outcome = models.CharField(max_length=16)
    error_code = models.CharField(max_length=64, null=True, blank=True)
    error_description = models.CharField(max_length=255, null=True, blank=True)
    decide_at = models.DateTimeField(help_text="when the outcome becomes known")
    notified_status = models.CharField(max_length=16, null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    notifications_sent = models.PositiveIntegerField(default=0)
    notifications_dropped = models.PositiveIntegerField(default=0, help_text="fault injection: never sent")
    settled_status = models.CharField(max_length=16, null=True, blank=True)
    settled_amount = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "simulator_transactions"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["payment_id"], condition=models.Q(kind="payment"), name="simulator_one_submission_per_payment"
            ),
            models.UniqueConstraint(
                fields=["refund_id"], condition=models.Q(kind="refund"), name="simulator_one_submission_per_refund"
            ),
        ]
        indexes = [models.Index(fields=["decide_at"], name="simulator_decide_at")]

    def __str__(self) -> str:
        return f"{self.reference} {self.kind} {self.outcome}"


class SimulatorToken(models.Model):
    """A card the simulated acquirer tokenised. Like a real vault it hands out a token, but
    unlike one it keeps no card number at all: only what it needs to decide later payments
    with the token (the test card's outcome class) and what it showed the gateway."""

    class OutcomeClass(models.TextChoices):
        APPROVE = "approve"  # 4111 1111 1111 1111
        DECLINE = "decline"  # 4000 0000 0000 0002
        NO_ANSWER = "no_answer"  # 4000 0000 0000 0119: the acquirer never answers
        STANDARD = "standard"  # any other card: TEST_MODE flags, then the dice

    token = models.CharField(max_length=64, unique=True)
    merchant_id = models.UUIDField()
    outcome_class = models.CharField(max_length=16, choices=OutcomeClass.choices)
    card_network = models.CharField(max_length=16)
    card_last4 = models.CharField(max_length=4)
    expiry_month = models.PositiveSmallIntegerField()
    expiry_year = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "simulator_tokens"

    def __str__(self) -> str:
        return f"{self.token} {self.outcome_class}"
