"""The event outbox: one row per state change, written in the same transaction.

``seq`` orders events; ``txid`` (the writing transaction's id) lets readers see a prefix of
the log with no holes: an event is only exposed once every transaction that could have
taken a smaller ``seq`` has finished (see :mod:`payments.selectors.events`).
"""

from __future__ import annotations

from django.db import models
from django.db.models.expressions import RawSQL

from payments.ids import new_event_id
from payments.models.merchants import Merchant, mode_field


class Event(models.Model):
    seq = models.BigAutoField(primary_key=True)
    id = models.CharField(max_length=40, unique=True, default=new_event_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="events")
    mode = mode_field()  # test or live: the acting key's, or its parent object's
    type = models.CharField(max_length=64)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    # {"payment": {...}} / {"refund": {...}}: the resource snapshot as webhooks send it.
    data = models.JSONField()
    correlation_id = models.CharField(max_length=64, null=True, blank=True)
    txid = models.BigIntegerField(db_default=RawSQL("(pg_current_xact_id()::text)::bigint", ()), editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the durable consumers (webhook fan-out, ...) have taken the event.
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "events"
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["merchant", "seq"], name="events_merchant_seq"),
            models.Index(fields=["merchant", "object_id", "seq"], name="events_merchant_object"),
            # The events API pages by (txid, seq): see payments.selectors.events.
            models.Index(fields=["merchant", "txid", "seq"], name="events_merchant_txid_seq"),
            models.Index(fields=["seq"], name="events_undispatched", condition=models.Q(dispatched_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"
