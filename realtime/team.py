"""The dashboard team: what each role may do, invitations by e-mail, role changes, and the
dashboard's audit log.

Roles (``realtime.models.Role``): the owner does everything; a developer manages keys,
webhooks and event destinations; support works payments and may refund up to the limit the
owner set; a viewer reads. Every dashboard view asks :func:`role_allows` on the server (the
pages only hide what the role cannot use). Every dashboard write records one
:class:`~realtime.models.DashboardAudit` row in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any
from zoneinfo import available_timezones

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from common.correlation import get_correlation_id
from common.errors import Forbidden, InvalidInput, NotFound, Unavailable
from payments.models import Merchant
from realtime.models import DashboardAudit, DashboardSettings, Invitation, MerchantUser, Role

INVITATION_TTL = timedelta(days=7)
REFUND_LIMIT_MAX = 10**15

_ALL = frozenset(Role.values)
_BUILDERS = frozenset({Role.OWNER, Role.DEVELOPER})
_READERS = frozenset({Role.OWNER, Role.DEVELOPER, Role.VIEWER})
_PAYMENT_STAFF = frozenset({Role.OWNER, Role.SUPPORT})
# Capability -> roles that have it. Names use underscores so templates can read them.
CAPABILITIES: dict[str, frozenset[str]] = {
    "payments_view": _ALL,
    "payments_refund": _PAYMENT_STAFF,  # support: up to refund_limit per refund
    "payments_capture": _PAYMENT_STAFF,
    "payments_cancel": _PAYMENT_STAFF,
    "payments_batch": _PAYMENT_STAFF,  # upload a CSV batch of payments
    "webhooks_view": _READERS,
    "webhooks_manage": _BUILDERS,
    "webhooks_secret_view": _BUILDERS,
    "keys_view": _READERS,
    "keys_manage": _BUILDERS,
    "streams_view": _READERS,
    "streams_manage": _BUILDERS,
    "settings_manage": frozenset({Role.OWNER}),
    "team_manage": frozenset({Role.OWNER}),
    "audit_view": frozenset({Role.OWNER, Role.VIEWER}),
}


class PermissionDenied(Forbidden):
    """The member's role lacks the capability."""


def role_allows(membership: MerchantUser, capability: str) -> bool:
    return membership.role in CAPABILITIES[capability]


def role_capabilities(membership: MerchantUser) -> dict[str, bool]:
    """Every capability with whether ``membership`` has it (for the templates)."""
    return {name: membership.role in roles for name, roles in CAPABILITIES.items()}


def refund_allowed(*, membership: MerchantUser, amount: int) -> None:
    """Raise ``PermissionDenied`` unless this member may refund ``amount`` minor units."""
    if not role_allows(membership, "payments_refund"):
        raise PermissionDenied(f"The {membership.role} role cannot refund payments", reason="role_forbidden")
    if membership.role == Role.SUPPORT and amount > membership.refund_limit:
        raise PermissionDenied(
            f"Refunds above your limit ({membership.refund_limit}) need the owner",
            field="amount",
            reason="refund_limit_exceeded",
        )


def actor_name(membership: MerchantUser) -> str:
    return membership.user.get_username()


def dashboard_audit_record(
    *, membership: MerchantUser, action: str, object_id: str = "", detail: dict[str, Any] | None = None
) -> DashboardAudit:
    """Insert one audit row (call it inside the action's transaction)."""
    return DashboardAudit.objects.create(
        merchant_id=membership.merchant_id,
        actor=actor_name(membership)[:254],
        action=action,
        object_id=str(object_id)[:64],
        detail=detail or {},
        correlation_id=get_correlation_id(),
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _role_checked(role: object) -> str:
    if role not in Role.values:
        raise InvalidInput(f"role must be one of {', '.join(Role.values)}", field="role", reason="invalid_role")
    return str(role)


def _limit_checked(value: object) -> int:
    """A refund limit from a form: a whole number of minor units, 0 … 10^15."""
    text = str(value if value is not None else "0").strip() or "0"
    if not text.isdigit() or int(text) > REFUND_LIMIT_MAX:
        raise InvalidInput(
            "refund limit must be a whole number of minor units (paise)", field="refund_limit", reason="invalid_limit"
        )
    return int(text)


def team_invitation_create(
    *, membership: MerchantUser, email: object, role: object, refund_limit: object, accept_base_url: str
) -> Invitation:
    """The owner invites ``email`` as ``role``: stores the invitation (token hashed) with its
    audit row, then e-mails the one-time link ``{accept_base_url}/invite/{token}`` through
    Django's mail framework. If the mail cannot be sent the invitation is withdrawn and a
    503 is raised, so no one holds a link that was never delivered."""
    if not role_allows(membership, "team_manage"):
        raise PermissionDenied("Only the owner can invite people", reason="role_forbidden")
    address = str(email or "").strip().lower()
    try:
        validate_email(address)
    except ValidationError as exc:
        raise InvalidInput("Enter a valid e-mail address", field="email", reason="invalid_email") from exc
    role = _role_checked(role)
    limit = _limit_checked(refund_limit) if role == Role.SUPPORT else 0
    if MerchantUser.objects.filter(user__username=address).exists():
        raise InvalidInput("That person already has a dashboard account", field="email", reason="already_member")
    token = "inv_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation.objects.create(
            merchant_id=membership.merchant_id,
            email=address,
            role=role,
            refund_limit=limit,
            token_hash=_token_hash(token),
            invited_by=membership.user,
            expires_at=timezone.now() + INVITATION_TTL,
        )
        dashboard_audit_record(
            membership=membership,
            action="invitation.created",
            object_id=str(invitation.pk),
            detail={"email": address, "role": role, "refund_limit": limit},
        )
    merchant_name = Merchant.objects.filter(pk=membership.merchant_id).values_list("name", flat=True).first()
    link = f"{accept_base_url.rstrip('/')}/invite/{token}"
    try:
        send_mail(
            subject=f"You are invited to {merchant_name} on Tender",
            message=(
                f"{actor_name(membership)} invited you to the {merchant_name} dashboard as {role}.\n\n"
                f"Set your password here (the link works once, for {INVITATION_TTL.days} days):\n{link}\n"
            ),
            from_email=None,
            recipient_list=[address],
        )
    except OSError as exc:  # smtplib.SMTPException is an OSError, as are refused connections
        Invitation.objects.filter(pk=invitation.pk).delete()
        raise Unavailable(
            "The invitation e-mail could not be sent; nothing was changed. Try again later.",
            reason="mail_unavailable",
        ) from exc
    return invitation


def invitation_get_open(*, token: str) -> Invitation:
    """The unused, unexpired invitation of ``token``; ``NotFound`` otherwise."""
    if not token or len(token) > 128:
        raise NotFound("This invitation link is not valid")
    invitation = (
        Invitation.objects.select_related("merchant")
        .filter(token_hash=_token_hash(token), accepted_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if invitation is None:
        raise NotFound("This invitation link is not valid, was used already or has expired")
    return invitation


def invitation_accept(*, token: str, password: str) -> Any:
    """Create the invited user with ``password`` (Django's validators) and link them to the
    merchant with the invitation's role. The invitation is consumed by one conditional
    UPDATE, so a link works once even when two tabs submit it together."""
    invitation = invitation_get_open(token=token)
    user_model = get_user_model()
    candidate = user_model(username=invitation.email, email=invitation.email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password", reason="weak_password") from exc
    with transaction.atomic():
        used = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(accepted_at=timezone.now())
        if not used:
            raise NotFound("This invitation link was used already")
        user, _ = user_model.objects.get_or_create(username=invitation.email, defaults={"email": invitation.email})
        if MerchantUser.objects.filter(user=user).exists():
            raise InvalidInput("That person already has a dashboard account", field="email", reason="already_member")
        user.set_password(password)
        user.save(update_fields=["password"])
        member = MerchantUser.objects.create(
            user=user, merchant=invitation.merchant, role=invitation.role, refund_limit=invitation.refund_limit
        )
        dashboard_audit_record(
            membership=member,
            action="invitation.accepted",
            object_id=str(invitation.pk),
            detail={"email": invitation.email, "role": invitation.role},
        )
    return user


def team_member_update(
    *, membership: MerchantUser, member_id: object, role: object, refund_limit: object
) -> MerchantUser:
    """The owner changes a member's role and refund limit. The merchant always keeps at least
    one owner (the member rows are locked, so two owners demoting each other cannot both win)."""
    if not role_allows(membership, "team_manage"):
        raise PermissionDenied("Only the owner can change roles", reason="role_forbidden")
    role = _role_checked(role)
    limit = _limit_checked(refund_limit) if role == Role.SUPPORT else 0
    with transaction.atomic():
        team = list(MerchantUser.objects.select_for_update().filter(merchant_id=membership.merchant_id).order_by("pk"))
        member = next((m for m in team if str(m.pk) == str(member_id)), None)
        if member is None:
            raise NotFound("Team member not found")
        owners = [m for m in team if m.role == Role.OWNER]
        if member.role == Role.OWNER and role != Role.OWNER and len(owners) == 1:
            raise InvalidInput("The team needs at least one owner", field="role", reason="last_owner")
        before = {"role": member.role, "refund_limit": member.refund_limit}
        MerchantUser.objects.filter(pk=member.pk).update(role=role, refund_limit=limit)
        member.role, member.refund_limit = role, limit
        dashboard_audit_record(
            membership=membership,
            action="member.updated",
            object_id=str(member.pk),
            detail={"email": member.user.get_username(), "before": before, "role": role, "refund_limit": limit},
        )
    return member


def dashboard_timezone_set(*, membership: MerchantUser, timezone_name: object) -> DashboardSettings:
    """The owner sets the timezone dates are shown, searched and exported in (an IANA name)."""
    if not role_allows(membership, "settings_manage"):
        raise PermissionDenied("Only the owner can change the timezone", reason="role_forbidden")
    name = str(timezone_name or "").strip()
    if name not in available_timezones():
        raise InvalidInput("Choose a timezone like Asia/Kolkata", field="timezone", reason="invalid_timezone")
    with transaction.atomic():
        settings_row, _ = DashboardSettings.objects.update_or_create(
            merchant_id=membership.merchant_id, defaults={"timezone": name}
        )
        dashboard_audit_record(membership=membership, action="settings.timezone_set", detail={"timezone": name})
    return settings_row
