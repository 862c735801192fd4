"""Event destinations: a broker a merchant's events are published to, and its cursor.

The cursor ``(cursor_txid, cursor_seq)`` is the position in the event log (ordered by
``(txid, seq)``, see :mod:`payments.selectors.events`) of the last event the broker
confirmed. It only moves forward after a confirm, and backward only by a replay, so a
killed worker, a flushed Celery broker or a broker outage can cause a resend, never a gap.
The lease (``locked_until`` + ``lease_token``) lets one publisher at a time own a
destination; a crashed publisher's lease simply expires.
"""

from __future__ import annotations

from django.db import models

from payments.encryption import EncryptedTextField
from payments.ids import new_public_id
from payments.models import Merchant
from payments.models.merchants import mode_field

# A cursor position after every seq: "all of this transaction id and before".
SEQ_END = 2**62


def new_destination_id() -> str:
    return new_public_id("dest")


class EventDestination(models.Model):
    class Type(models.TextChoices):
        REDIS_STREAM = "redis_stream"
        RABBITMQ = "rabbitmq"
        NATS = "nats"

    id = models.CharField(primary_key=True, max_length=32, default=new_destination_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="event_destinations")
    # The world it streams: a test destination gets test events only, a live one live ones.
    mode = mode_field()
    type = models.CharField(max_length=16, choices=Type.choices)
    # The broker URL without credentials, plus the type's own keys (stream, exchange, ...).
    target = models.JSONField()
    # The URL's user:password, kept out of ``target`` so nothing renders it; encrypted at
    # rest as webhook secrets are (FIELD_ENCRYPTION_KEYS, docs/security.md).
    credentials = EncryptedTextField(blank=True, default="")
    event_types = models.JSONField(default=list)
    description = models.CharField(max_length=255, blank=True, default="")
    enabled = models.BooleanField(default=True)
    cursor_txid = models.BigIntegerField(default=0)
    cursor_seq = models.BigIntegerField(default=0)
    published_total = models.BigIntegerField(default=0)
    last_published_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=512, blank=True, default="")
    # Start of the current run of failed publishes (None after any confirmed batch).
    failing_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # backoff after a failure
    # When the merchant was told about the current failing run (once per run).
    failure_notified_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "event_destinations"
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=["redis_stream", "rabbitmq", "nats"]), name="event_destinations_type_valid"
            ),
        ]
        indexes = [models.Index(fields=["merchant", "created_at"], name="event_destinations_merchant")]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"

    @property
    def status(self) -> str:
        """``disabled``, ``failing`` (the broker refused or is down) or ``active``."""
        if not self.enabled:
            return "disabled"
        return "failing" if self.failing_since is not None else "active"
