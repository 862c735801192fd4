"""Outbound webhook models: endpoints, deliveries (``webhook_logs``: one row per event x
endpoint), every attempt of a delivery, and an audit trail of manual actions.

PostgreSQL holds all delivery state: the retry schedule (``next_retry_at``) and the claim
(``locked_until`` + ``lease_token``) live in the delivery row, so losing Redis or a worker
only delays work that a sweeper re-derives from these tables.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from payments.encryption import EncryptedTextField
from payments.ids import new_public_id
from payments.models import Event, Merchant
from payments.models.merchants import mode_field


def new_endpoint_id() -> str:
    return new_public_id("we")


def new_delivery_id() -> str:
    return new_public_id("whd")


class WebhookEndpoint(models.Model):
    class DisabledReason(models.TextChoices):
        MANUAL = "manual"
        GONE = "gone"  # the receiver answered 410
        FAILING = "failing"  # failed continuously for WEBHOOK_DISABLE_AFTER_SECONDS

    id = models.CharField(primary_key=True, max_length=32, default=new_endpoint_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="webhook_endpoints")
    # The world it receives: test endpoints get test events only, live endpoints live ones.
    mode = mode_field()
    # Empty for a default endpoint that has no URL yet: never delivered to.
    url = models.CharField(max_length=2048, blank=True, default="")
    description = models.CharField(max_length=255, blank=True, default="")
    # Patterns: "*", "payment.*", or exact types such as "refund.processed".
    event_types = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    # The seed API's merchant-level webhook_url/webhook_secret map onto this endpoint.
    is_default = models.BooleanField(default=False)
    # Signing secrets are encrypted at rest (payments.encryption); never filter on them.
    secret = EncryptedTextField()
    # During a rotation the previous secret keeps signing until it expires.
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=16, choices=DisabledReason.choices, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Start of the current run of consecutive failed attempts (None after any success).
    failing_since = models.DateTimeField(null=True, blank=True)
    # Set: the endpoint's drains run in the webhooks worker's slow lane (a bounded share of
    # its threads). A new endpoint starts there (probation); an attempt of
    # WEBHOOK_SLOW_ATTEMPT_SECONDS or more puts it back for WEBHOOK_SLOW_LANE_HOLD_SECONDS;
    # after that, its next claim of only fast attempts clears it (docs/webhooks.md).
    slow_lane_until = models.DateTimeField(null=True, blank=True, default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "webhook_endpoints"
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "mode"],
                condition=models.Q(is_default=True, deleted_at__isnull=True),
                name="webhook_one_default_endpoint_per_mode",
            ),
        ]
        indexes = [models.Index(fields=["merchant", "created_at"], name="webhook_endpoints_merchant")]

    def __str__(self) -> str:
        return f"{self.id} {self.url or '(no url)'}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One event for one endpoint (the seed's ``webhook_logs``)."""

    id = models.CharField(primary_key=True, max_length=32, default=new_delivery_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="webhook_deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="webhook_deliveries")
    event_type = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    # Attempts in the current schedule (a manual retry starts a new schedule at 0);
    # every attempt ever made stays in webhook_attempts.
    attempts = models.PositiveIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    # The claim: a worker owns the row until locked_until; a crashed worker's claim expires.
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "webhook_logs"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_logs_one_per_event_endpoint"),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in DeliveryStatus]), name="webhook_logs_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="webhook_logs_merchant_created"),
            models.Index(
                fields=["next_retry_at"], name="webhook_logs_due", condition=models.Q(status=DeliveryStatus.PENDING)
            ),
            models.Index(
                fields=["endpoint", "next_retry_at"],
                name="webhook_logs_endpoint_due",
                condition=models.Q(status=DeliveryStatus.PENDING),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.event_type} -> {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery, successful or not."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    url = models.CharField(max_length=2048)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_body = models.TextField(blank=True, default="")  # at most 8 KiB
    # "" on 2xx; else http_status, timeout, connection_error, forbidden_address, ...
    error_class = models.CharField(max_length=64, blank=True, default="")
    error = models.CharField(max_length=512, blank=True, default="")
    webhook_timestamp = models.BigIntegerField()

    class Meta:
        db_table = "webhook_attempts"
        ordering = ["started_at", "id"]
        indexes = [models.Index(fields=["delivery", "started_at"], name="webhook_attempts_delivery")]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number} {self.status_code or self.error_class}"


class WebhookAudit(models.Model):
    """Who did what by hand (retry, recover, rotate, disable, ...): one row per action."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="webhook_audit")
    action = models.CharField(max_length=32)
    actor = models.CharField(max_length=128)  # "api_key:key_…", "staff:admin", "dashboard:…"
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.SET_NULL, null=True, blank=True)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.SET_NULL, null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    correlation_id = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "webhook_audit"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"
