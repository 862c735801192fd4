"""Realtime models: dashboard users linked to a merchant, and single-use websocket tickets."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from payments.models import ApiKey, Merchant


class MerchantUser(models.Model):
    """Links a Django auth user (a merchant's person) to exactly one merchant."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="merchant_link")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="users")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "merchant_users"

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.merchant_id}"


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
