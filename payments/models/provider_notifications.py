"""Inbound provider notifications, stored raw and deduplicated by the provider's event id."""

from __future__ import annotations

from django.db import models


class ProviderNotification(models.Model):
    class Result(models.TextChoices):
        APPLIED = "applied"
        IGNORED = "ignored"  # stale or already final: never moves a state backwards
        UNKNOWN_OBJECT = "unknown_object"
        CONFLICT = "conflict"  # e.g. a second success for a paid order

    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=128)
    object_type = models.CharField(max_length=16)
    object_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16)
    payload = models.JSONField()
    # The exact bytes received (as UTF-8 text), for audits and signature re-checks.
    raw_body = models.TextField(blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)
    result = models.CharField(max_length=16, choices=Result.choices)
    detail = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        db_table = "provider_notifications"
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="provider_notification_unique_event"),
        ]
        indexes = [models.Index(fields=["object_id"], name="provider_notification_object")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id}"
