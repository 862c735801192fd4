"""Realtime services: websocket tickets, dashboard users and the demo dashboard login.

Tickets are 256-bit random tokens stored as SHA-256 hashes with a ≤ 60 s lifetime. They
are redeemed by one conditional ``UPDATE … WHERE used_at IS NULL AND expires_at > now()``:
PostgreSQL row locking makes exactly one of two racing redemptions win.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from payments.models import Merchant
from realtime.models import MerchantUser, RealtimeTicket

TICKET_TTL = timedelta(seconds=60)
# Expired tickets are deleted lazily when new ones are issued, after this grace period.
TICKET_RETENTION = timedelta(hours=1)
DEMO_USER_EMAIL = "test@example.com"


@dataclass(frozen=True)
class IssuedTicket:
    ticket: str  # shown once; only its hash is stored
    merchant_id: uuid.UUID
    expires_at: datetime


def _ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8")).hexdigest()


def ticket_create(*, merchant: Merchant, ttl: timedelta = TICKET_TTL) -> IssuedTicket:
    """Issue a single-use websocket ticket for ``merchant`` valid for ``ttl`` (max 60 s)."""
    ttl = min(ttl, TICKET_TTL)
    now = timezone.now()
    ticket = "wst_" + secrets.token_urlsafe(32)
    row = RealtimeTicket.objects.create(token_hash=_ticket_hash(ticket), merchant=merchant, expires_at=now + ttl)
    RealtimeTicket.objects.filter(expires_at__lt=now - TICKET_RETENTION).delete()
    return IssuedTicket(ticket=ticket, merchant_id=merchant.pk, expires_at=row.expires_at)


def ticket_redeem(*, ticket: str) -> uuid.UUID | None:
    """Consume ``ticket``; return its merchant id, or None if unknown, used or expired."""
    if not ticket or len(ticket) > 128:
        return None
    # One plain UPDATE on the ticket row (no join: Django would turn a join into an
    # ``id IN (subquery)`` that racing transactions both satisfy). RETURNING gives the owner.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE realtime_tickets SET used_at = now() "
            "WHERE token_hash = %s AND used_at IS NULL AND expires_at > now() RETURNING merchant_id",
            [_ticket_hash(ticket)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    merchant_id = row[0] if isinstance(row[0], uuid.UUID) else uuid.UUID(str(row[0]))
    return merchant_id if Merchant.objects.filter(pk=merchant_id, is_active=True).exists() else None


@transaction.atomic
def merchant_user_link(*, merchant: Merchant, email: str, password: str | None = None) -> AbstractBaseUser:
    """Create (or find) the dashboard user ``email`` and link it to ``merchant``. The
    password is set only when given. The username is the e-mail (the login form asks for it)."""
    email = email.strip().lower()
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=email, defaults={"email": email})
    if password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    MerchantUser.objects.update_or_create(user=user, defaults={"merchant": merchant})
    return user


def demo_dashboard_seed(merchant: Merchant, credentials: dict[str, Any]) -> None:
    """Demo seeder: the dashboard user ``test@example.com`` for the test merchant.

    The password is random on first seeding and kept on reseeds (read back from
    ``.demo/credentials.json``) so a printed password stays valid."""
    from payments import demo

    stored = demo._stored_credentials()
    password = stored.get("dashboard_password") or secrets.token_urlsafe(12)
    user = merchant_user_link(merchant=merchant, email=DEMO_USER_EMAIL)
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    credentials["dashboard_email"] = DEMO_USER_EMAIL
    credentials["dashboard_password"] = password
