"""Realtime services: websocket tickets, dashboard users and the demo dashboard login.

Tickets are 256-bit random tokens stored as SHA-256 hashes with a ≤ 60 s lifetime. They
are redeemed by one conditional ``UPDATE … WHERE used_at IS NULL AND expires_at > now()``:
PostgreSQL row locking makes exactly one of two racing redemptions win.

A ticket remembers the authority that asked for it (an API key, or a dashboard session),
and an open merchant socket re-checks that authority every few seconds
(``socket_authority_check``): a revoked key, a deactivated merchant or a logged-out session
closes it, so a socket never outlives the right to open it by more than that interval.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from payments.demo import demo_credentials_stored
from payments.models import ApiKey, Merchant
from realtime.models import MerchantUser, RealtimeTicket

TICKET_TTL = timedelta(seconds=60)
CLOSE_UNAUTHENTICATED = 4401  # the key was revoked, the session logged out
CLOSE_FORBIDDEN = 4403  # the merchant was deactivated, or the user unlinked from it
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


@dataclass(frozen=True)
class SocketAuthority:
    """Who a redeemed ticket speaks for, and on whose authority (re-checked while open)."""

    merchant_id: uuid.UUID
    api_key_id: int | None
    session_key: str
    # The API key's mode (test or live): its socket sees only that world. None for a
    # dashboard session, which sees both.
    mode: str | None = None


def ticket_create(
    *,
    merchant: Merchant,
    api_key: ApiKey | None = None,
    session_key: str = "",
    ttl: timedelta = TICKET_TTL,
) -> IssuedTicket:
    """Issue a single-use websocket ticket for ``merchant`` valid for ``ttl`` (max 60 s),
    on the authority of ``api_key`` (merchant servers) or ``session_key`` (the dashboard)."""
    ttl = min(ttl, TICKET_TTL)
    now = timezone.now()
    ticket = "wst_" + secrets.token_urlsafe(32)
    row = RealtimeTicket.objects.create(
        token_hash=_ticket_hash(ticket),
        merchant=merchant,
        api_key=api_key,
        session_key=session_key,
        expires_at=now + ttl,
    )
    RealtimeTicket.objects.filter(expires_at__lt=now - TICKET_RETENTION).delete()
    return IssuedTicket(ticket=ticket, merchant_id=merchant.pk, expires_at=row.expires_at)


def ticket_redeem(*, ticket: str) -> SocketAuthority | None:
    """Consume ``ticket``; return its authority, or None if unknown, used or expired, or if
    that authority no longer holds (``socket_authority_check``)."""
    if not ticket or len(ticket) > 128:
        return None
    # One plain UPDATE on the ticket row (no join: Django would turn a join into an
    # ``id IN (subquery)`` that racing transactions both satisfy). RETURNING gives the owner.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE realtime_tickets SET used_at = now() "
            "WHERE token_hash = %s AND used_at IS NULL AND expires_at > now() "
            "RETURNING merchant_id, api_key_id, session_key, "
            "(SELECT mode FROM api_keys WHERE api_keys.id = realtime_tickets.api_key_id)",
            [_ticket_hash(ticket)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    merchant_id = row[0] if isinstance(row[0], uuid.UUID) else uuid.UUID(str(row[0]))
    authority = SocketAuthority(merchant_id=merchant_id, api_key_id=row[1], session_key=row[2], mode=row[3])
    return authority if socket_authority_check(authority=authority) is None else None


def socket_authority_check(*, authority: SocketAuthority) -> int | None:
    """None while ``authority`` still holds; else the close code for its socket: 4403 when
    the merchant is deactivated (or the session's user is deactivated or no longer belongs
    to it), 4401 when the API key is revoked or the dashboard session has logged out,
    expired or been ended by a password change. One query
    for a key-based socket, two for a session-based one (the session store's read)."""
    if authority.api_key_id is not None:
        row = (
            ApiKey.objects.filter(pk=authority.api_key_id)
            .values_list("revoked_at", "merchant__is_active", "merchant_id")
            .first()
        )
        if row is None or row[2] != authority.merchant_id:
            return CLOSE_UNAUTHENTICATED
        revoked_at, merchant_active, _ = row
        if not merchant_active:
            return CLOSE_FORBIDDEN
        # A rolled key keeps working until its overlap ends (revoked_at in the future).
        return CLOSE_UNAUTHENTICATED if revoked_at is not None and revoked_at <= timezone.now() else None
    if authority.session_key:
        session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=authority.session_key).load()
        user_id = session.get(SESSION_KEY)
        if user_id is None:
            return CLOSE_UNAUTHENTICATED
        link = (
            MerchantUser.objects.filter(user_id=user_id, merchant_id=authority.merchant_id)
            .select_related("user", "merchant")
            .first()
        )
        if link is None or not link.merchant.is_active or not link.user.is_active:
            return CLOSE_FORBIDDEN
        # As django.contrib.auth does per request: a password change ends older sessions.
        if not constant_time_compare(session.get(HASH_SESSION_KEY, ""), link.user.get_session_auth_hash()):
            return CLOSE_UNAUTHENTICATED
        return None
    # A ticket with neither (issued before tickets recorded their authority, or by staff
    # tooling): the merchant being active is all there is to check.
    active = Merchant.objects.filter(pk=authority.merchant_id, is_active=True).exists()
    return None if active else CLOSE_FORBIDDEN


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
    stored = demo_credentials_stored()
    password = stored.get("dashboard_password") or secrets.token_urlsafe(12)
    user = merchant_user_link(merchant=merchant, email=DEMO_USER_EMAIL)
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    credentials["dashboard_email"] = DEMO_USER_EMAIL
    credentials["dashboard_password"] = password
