"""Customer notifications: per-merchant channel switches and one row per (event, channel).

The unique (event_id, channel) constraint is the deduplication: the outbox may hand the
same event to the consumer twice (a crash between the consumer's insert and the dispatch
mark), and the second insert is a no-op. The row then carries its delivery state, leases
and retry schedule in PostgreSQL, as webhook deliveries do.
"""

from __future__ import annotations

from django.db import models

from payments.ids import new_public_id
from payments.models import Customer, Merchant
from payments.models.merchants import mode_field


def new_notification_id() -> str:
    return new_public_id("ntf")


class NotificationPreference(models.Model):
    """A merchant's switches; a merchant without a row gets the defaults (both on)."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, primary_key=True, related_name="+")
    email_enabled = models.BooleanField(default=True, help_text="email receipts to customers")
    sms_enabled = models.BooleanField(default=True, help_text="SMS receipts (needs a phone and an SMS backend)")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "notification_preferences"

    def __str__(self) -> str:
        return f"notifications of {self.merchant_id}"


class Notification(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email"
        SMS = "sms"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    id = models.CharField(primary_key=True, max_length=32, default=new_notification_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    mode = mode_field()  # its event's: a key lists only its own mode's notifications
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=64)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField(max_length=254)
    payment_id = models.CharField(max_length=32)
    refund_id = models.CharField(max_length=32, null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # A worker's lease on the send; an expired one means it died mid-send.
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=512, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "notifications"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["event_id", "channel"], name="notifications_one_per_event_channel"),
        ]
        indexes = [
            models.Index(fields=["merchant", "payment_id"], name="notifications_merchant_payment"),
            models.Index(fields=["next_attempt_at"], name="notifications_due", condition=models.Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.channel} {self.status}"
