"""Payments and refunds. Only card network + last4 are stored; never the number or CVV."""

from __future__ import annotations

from django.db import models

from payments.ids import new_payment_id, new_refund_id
from payments.models.merchants import Merchant, mode_field
from payments.models.orders import Order
from payments.states import PaymentStatus, RefundStatus


class PaymentMethod(models.TextChoices):
    UPI = "upi"
    CARD = "card"


class CardNetwork(models.TextChoices):
    VISA = "visa"
    MASTERCARD = "mastercard"
    AMEX = "amex"
    RUPAY = "rupay"
    UNKNOWN = "unknown"


class Payment(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_payment_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="payments")
    mode = mode_field()  # test or live: the acting key's, or its parent object's
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    amount = models.BigIntegerField(help_text="minor units")
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=8, choices=PaymentMethod.choices)
    vpa = models.CharField(max_length=255, null=True, blank=True)
    card_network = models.CharField(max_length=16, choices=CardNetwork.choices, null=True, blank=True)
    card_last4 = models.CharField(max_length=4, null=True, blank=True)
    status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    captured = models.BooleanField(default=False)
    error_code = models.CharField(max_length=64, null=True, blank=True)
    error_description = models.CharField(max_length=255, null=True, blank=True)
    # Monotonically increasing with every change; carried by every snapshot and event.
    version = models.PositiveIntegerField(default=1)
    provider = models.CharField(max_length=32, default="simulator")
    provider_reference = models.CharField(max_length=64, null=True, blank=True)
    # Set once the provider has the payment; a cancel is only possible before that.
    submitted_at = models.DateTimeField(null=True, blank=True)
    # A worker's lease on the provider call (set before it, cleared when it is recorded or
    # fails). While set, the provider may already have the payment: no cancel, and no other
    # worker submits until PAYMENT_SUBMISSION_LEASE_SECONDS have passed.
    submission_claimed_at = models.DateTimeField(null=True, blank=True)
    # Set when a submit failed without proving that the provider never received it (a
    # timeout after the request was sent, a dropped connection): from then on the provider
    # may have the payment, so it is never cancellable; the sweeper submits again with the
    # same id (idempotent) until the answer, a notification or reconciliation decides.
    submission_outcome_unknown_at = models.DateTimeField(null=True, blank=True)
    callback_url = models.URLField(max_length=2048, null=True, blank=True)
    # Who pays (receipts go to this customer) and, for a saved card or VPA, with what.
    customer = models.ForeignKey(
        "payments.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    payment_method = models.ForeignKey(
        "payments.SavedPaymentMethod", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    # A batch item: its batch and its reference (unique per merchant and mode: the item's name).
    batch = models.ForeignKey(
        "payments.PaymentBatch", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    reference = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "payments"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="payments_merchant_created"),
            models.Index(
                fields=["created_at"],
                name="payments_pending_created",
                condition=models.Q(status="pending"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=models.Q(status="success"), name="payments_one_success_per_order"
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_reference"], name="payments_provider_reference_unique"
            ),
            models.UniqueConstraint(
                fields=["merchant", "mode", "reference"],
                condition=models.Q(reference__isnull=False),
                name="payments_reference_unique_per_merchant",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payments_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in PaymentStatus]), name="payments_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.id


class Refund(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_refund_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="refunds")
    mode = mode_field()  # test or live: the acting key's, or its parent object's
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.BigIntegerField(help_text="minor units")
    reason = models.CharField(max_length=255, null=True, blank=True)
    status = models.CharField(max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    version = models.PositiveIntegerField(default=1)
    # Set once the provider has the refund ("not yet sent" is provider_reference IS NULL).
    provider_reference = models.CharField(max_length=64, null=True, blank=True)
    # A worker's lease on the provider call, as Payment.submission_claimed_at.
    submission_claimed_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=64, null=True, blank=True)
    error_description = models.CharField(max_length=255, null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "refunds"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="refunds_merchant_created")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refunds_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.id


class TimelineEntry(models.Model):
    """One row per state change of a payment or refund: the timeline the status API shows."""

    object_type = models.CharField(max_length=16)  # "payment" | "refund"
    object_id = models.CharField(max_length=32)
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="timeline")
    from_status = models.CharField(max_length=16, null=True, blank=True)
    to_status = models.CharField(max_length=16)
    version = models.PositiveIntegerField()
    detail = models.CharField(max_length=255, blank=True, default="")
    # Who caused it: api, worker, provider_webhook, status_poll, reconciliation, admin.
    source = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "timeline_entries"
        ordering = ["object_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["object_id", "version"], name="timeline_one_row_per_version"),
        ]
        indexes = [models.Index(fields=["payment", "created_at"], name="timeline_payment_created")]

    def __str__(self) -> str:
        return f"{self.object_id} v{self.version} {self.to_status}"
