"""Realtime models: dashboard users linked to a merchant with a team role, their
invitations, the dashboard's audit log, and single-use websocket tickets."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from payments.models import ApiKey, Merchant


class Role(models.TextChoices):
    OWNER = "owner"
    DEVELOPER = "developer"
    SUPPORT = "support"
    VIEWER = "viewer"


class MerchantUser(models.Model):
    """Links a Django auth user (a merchant's person) to exactly one merchant, with a role.
    Users linked before roles existed are owners (they could already do everything)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="merchant_link")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="users")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.OWNER)
    # Support only: the largest single refund (minor units) they may issue; owners have none.
    refund_limit = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "merchant_users"

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.merchant_id} ({self.role})"


DEFAULT_TIMEZONE = "Asia/Kolkata"  # Tender's merchants are INR-first


class DashboardSettings(models.Model):
    """Per-merchant dashboard preferences: the timezone dates are shown, searched and
    exported in (UTC inside the database either way)."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="dashboard_settings")
    timezone = models.CharField(max_length=64, default=DEFAULT_TIMEZONE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "dashboard_settings"

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.timezone}"


class Invitation(models.Model):
    """An owner's invitation of ``email`` into the team. The e-mailed link carries a random
    token of which only the SHA-256 is stored; single use, expires."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    refund_limit = models.BigIntegerField(default=0)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "dashboard_invitations"
        indexes = [models.Index(fields=["merchant", "-created_at"], name="dashboard_invitations_merchant")]

    def __str__(self) -> str:
        return f"{self.email} as {self.role} ({self.merchant_id})"


class DashboardAudit(models.Model):
    """Who did what from the dashboard, and when: refunds, captures, cancels, key and secret
    changes, endpoint changes, invitations, role changes. Written in the action's own
    transaction; never updated."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="dashboard_audit")
    actor = models.CharField(max_length=254)  # the user's e-mail at the time
    action = models.CharField(max_length=48)
    object_id = models.CharField(max_length=64, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    correlation_id = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "dashboard_audit"
        indexes = [models.Index(fields=["merchant", "-id"], name="dashboard_audit_merchant")]

    def __str__(self) -> str:
        return f"{self.action} {self.object_id} by {self.actor}"


class RealtimeTicket(models.Model):
    """A single-use credential for ``ws/merchant`` (and merchant-mode ``ws/payments``).

    Only the SHA-256 of the ticket is stored; redemption is one conditional UPDATE, so a
    ticket can be used once even when two sockets race with it."""

    token_hash = models.CharField(max_length=64, unique=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="realtime_tickets")
    # The authority that asked for the ticket; a socket keeps re-checking it while open
    # (realtime.services.socket_authority_check): the API key (merchant servers) or the
    # dashboard session's key (a browser), exactly one of the two.
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    session_key = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "realtime_tickets"
        indexes = [models.Index(fields=["expires_at"], name="realtime_tickets_expires")]

    def __str__(self) -> str:
        return f"ticket {self.pk} ({self.merchant_id})"
