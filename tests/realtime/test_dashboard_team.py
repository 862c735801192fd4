"""Team roles on the dashboard, checked on the server for every page and action; the
owner's invitations over real SMTP (aiosmtpd); the audit log; and another merchant's user
getting 404 on every object URL. Django test client with CSRF enforced, PostgreSQL."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from payments.models import Refund
from realtime.models import DashboardAudit, Invitation, MerchantUser
from realtime.services import merchant_user_link
from tests.notifications.conftest import smtp  # noqa: F401 - shared fixture (a real SMTP server)
from tests.realtime.helpers import make_payment, settle

pytestmark = pytest.mark.django_db
PASSWORD = "team-password-123"


def member(tenant, email: str, role: str, refund_limit: int = 0) -> Client:
    """A logged-in dashboard session of a ``role`` member (CSRF enforced)."""
    user = merchant_user_link(merchant=tenant.merchant, email=email)
    MerchantUser.objects.filter(user=user).update(role=role, refund_limit=refund_limit)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/dashboard/")  # sets the CSRF cookie
    return client


def post(client: Client, path: str, data: dict | None = None):
    return client.post(path, {**(data or {}), "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


def charged(tenant, amount: int = 100000):
    return settle(make_payment(merchant=tenant.merchant, amount=amount), "success")


def test_each_role_sees_and_does_only_what_it_may(alice):
    payment = charged(alice)
    owner = member(alice, "owner@alice.example", "owner")
    developer = member(alice, "dev@alice.example", "developer")
    support = member(alice, "support@alice.example", "support", refund_limit=20000)
    viewer = member(alice, "viewer@alice.example", "viewer")
    pages = {
        "/dashboard/": (200, 200, 200, 200),
        f"/dashboard/payments/{payment.id}": (200, 200, 200, 200),
        "/dashboard/webhooks": (200, 200, 403, 200),
        "/dashboard/streams": (200, 200, 403, 200),
        "/dashboard/team": (200, 403, 403, 403),
        "/dashboard/audit": (200, 403, 403, 200),
    }
    for path, codes in pages.items():
        got = tuple(c.get(path).status_code for c in (owner, developer, support, viewer))
        assert got == codes, path
    # The refund form is only on the pages of roles that may use it; the server refuses anyway.
    assert 'data-test-id="refund-form"' in support.get(f"/dashboard/payments/{payment.id}").content.decode()
    assert 'data-test-id="refund-form"' not in viewer.get(f"/dashboard/payments/{payment.id}").content.decode()
    refund_path = f"/dashboard/payments/{payment.id}/refund"
    for refused in (viewer, developer):
        response = post(refused, refund_path, {"amount": "10.00", "reason": "no"})
        assert response.status_code == 403 and "cannot do this" in response.content.decode()
    assert not Refund.objects.exists()
    # Support refunds up to the limit the owner set (200.00), not above.
    over = post(support, refund_path, {"amount": "200.01"})
    assert over.status_code == 403 and "limit" in over.content.decode()
    assert post(support, refund_path, {"amount": "200.00", "reason": "damaged"}).status_code == 302
    assert post(owner, refund_path, {"amount": "300"}).status_code == 302
    assert sorted(Refund.objects.values_list("amount", flat=True)) == [20000, 30000]
    # Webhook writes are the developer's and the owner's; a viewer's JSON call gets the envelope.
    denied = viewer.post(
        "/dashboard/api/webhooks/test",
        content_type="application/json",
        HTTP_X_CSRFTOKEN=viewer.cookies["csrftoken"].value,
    )
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "PERMISSION_ERROR"
    assert "hidden for the viewer role" in viewer.get("/dashboard/webhooks").content.decode()
    assert post(viewer, "/dashboard/notifications", {"sms_enabled": "on"}).status_code == 403
    audit = list(DashboardAudit.objects.order_by("pk").values_list("actor", "action", "detail"))
    assert [(a, b, d["amount"]) for a, b, d in audit] == [
        ("support@alice.example", "refund.created", 20000),
        ("owner@alice.example", "refund.created", 30000),
    ]
    page = owner.get("/dashboard/audit").content.decode()
    assert page.count('data-test-id="audit-row"') == 2 and "support@alice.example" in page


def test_refund_amounts_and_bad_input_change_nothing(alice):
    payment = charged(alice, amount=50000)
    owner = member(alice, "owner@alice.example", "owner")
    path = f"/dashboard/payments/{payment.id}/refund"
    for bad in ("", "abc", "-5", "0", "1.234", "NaN", "1e3", "9" * 30):
        response = post(owner, path, {"amount": bad})
        assert response.status_code == 400, bad
        assert "Enter an amount like 12.55" in response.content.decode()
    too_much = post(owner, path, {"amount": "500.01"})
    assert too_much.status_code == 400 and "exceeds the refundable amount" in too_much.content.decode()
    assert not Refund.objects.exists() and not DashboardAudit.objects.exists()
    assert post(owner, path, {"full": "on", "reason": "returned"}).status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount, refund.reason) == (50000, "returned")
    again = post(owner, path, {"full": "on"})
    assert again.status_code == 400 and "Nothing is left to refund" in again.content.decode()


def test_capture_and_cancel_go_through_the_payment_services(alice):
    owner = member(alice, "owner@alice.example", "owner")
    pending = make_payment(merchant=alice.merchant)
    page = owner.get(f"/dashboard/payments/{pending.id}").content.decode()
    assert 'data-test-id="cancel-button"' in page and 'data-test-id="capture-button"' not in page
    assert post(owner, f"/dashboard/payments/{pending.id}/cancel").status_code == 302
    pending.refresh_from_db()
    assert pending.status == "cancelled"
    again = post(owner, f"/dashboard/payments/{pending.id}/cancel")
    assert again.status_code == 409 and "cannot be cancelled" in again.content.decode()
    success = charged(alice)
    assert post(owner, f"/dashboard/payments/{success.id}/capture").status_code == 302
    success.refresh_from_db()
    assert success.captured is True
    assert list(DashboardAudit.objects.order_by("pk").values_list("action", "object_id")) == [
        ("payment.cancelled", pending.id),
        ("payment.captured", success.id),
    ]
    timeline = owner.get(f"/dashboard/payments/{success.id}").content.decode()
    assert "Payment captured (dashboard)" in timeline


def test_another_merchants_user_gets_404_on_every_object_url(alice, bob):
    payment = charged(alice)
    intruder = member(bob, "owner@bob.example", "owner")
    for path in (f"/dashboard/payments/{payment.id}", f"/dashboard/api/payments/{payment.id}/detail"):
        assert intruder.get(path).status_code == 404, path
    for action in ("refund", "capture", "cancel"):
        response = post(intruder, f"/dashboard/payments/{payment.id}/{action}", {"full": "on"})
        assert response.status_code == 404, action
    assert not Refund.objects.exists() and not DashboardAudit.objects.exists()
    payment.refresh_from_db()
    assert payment.captured is False
    # Their own team page lists only their people.
    member(alice, "someone@alice.example", "viewer")
    assert "someone@alice.example" not in intruder.get("/dashboard/team").content.decode()
    assert Client().get(f"/dashboard/payments/{payment.id}").status_code == 302  # login first


def test_owner_invites_by_email_and_the_link_works_once(alice, smtp, settings):  # noqa: F811
    settings.PUBLIC_BASE_URL = "https://pay.alice.example"  # the link never takes the request's host
    owner = member(alice, "owner@alice.example", "owner")
    support = member(alice, "support@alice.example", "support")
    invite = {"email": "New.Person@Alice.example", "role": "support", "refund_limit": "50000"}
    assert post(support, "/dashboard/team/invite", invite).status_code == 403
    bad = post(owner, "/dashboard/team/invite", {**invite, "role": "admin"})
    assert bad.status_code == 400 and "role must be one of" in bad.content.decode()
    taken = post(owner, "/dashboard/team/invite", {**invite, "email": "support@alice.example"})
    assert taken.status_code == 400 and "already has a dashboard account" in taken.content.decode()
    assert not Invitation.objects.exists()
    assert post(owner, "/dashboard/team/invite", invite).status_code == 302
    (mail,) = smtp.handler.received
    assert mail["To"] == "new.person@alice.example"
    text = mail.get_body(("plain",)).get_content()
    link = re.search(r"https://pay\.alice\.example(/invite/inv_[\w-]+)", text).group(1)
    assert "testserver" not in text
    assert Invitation.objects.get().token_hash not in mail.as_string()  # only the hash is stored
    guest = Client(enforce_csrf_checks=True)
    landing = guest.get(link)
    assert landing.status_code == 200 and 'data-test-id="invite-role">support<' in landing.content.decode()
    token = guest.cookies["csrftoken"].value
    weak = guest.post(link, {"password": "short", "csrfmiddlewaretoken": token})
    assert weak.status_code == 400 and not MerchantUser.objects.filter(user__username="new.person@alice.example")
    joined = guest.post(link, {"password": "a-long-enough-passphrase", "csrfmiddlewaretoken": token})
    assert joined.status_code == 302 and joined["Location"] == "/dashboard/"
    link_row = MerchantUser.objects.get(user__username="new.person@alice.example")
    assert (link_row.merchant_id, link_row.role, link_row.refund_limit) == (alice.merchant.pk, "support", 50000)
    assert guest.get("/dashboard/team").status_code == 403  # logged in, as support
    assert Client().get(link).status_code == 404  # used
    actions = list(DashboardAudit.objects.order_by("pk").values_list("action", "actor"))
    assert actions == [
        ("invitation.created", "owner@alice.example"),
        ("invitation.accepted", "new.person@alice.example"),
    ]


def test_invitation_withdrawn_when_mail_cannot_be_sent(alice, settings):
    from tests.support.processes import free_port

    settings.EMAIL_BACKEND = "common.mail.SMTPBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2  # nobody there
    owner = member(alice, "owner@alice.example", "owner")
    response = post(owner, "/dashboard/team/invite", {"email": "x@alice.example", "role": "viewer"})
    assert response.status_code == 503 and "could not be sent" in response.content.decode()
    assert not Invitation.objects.exists()


def test_roles_change_but_the_team_keeps_an_owner(alice):
    owner = member(alice, "owner@alice.example", "owner")
    me = MerchantUser.objects.get(user__username="owner@alice.example")
    alone = post(owner, f"/dashboard/team/{me.pk}", {"role": "viewer"})
    assert alone.status_code == 400 and "at least one owner" in alone.content.decode()
    member(alice, "dev@alice.example", "developer")
    dev = MerchantUser.objects.get(user__username="dev@alice.example")
    assert post(owner, f"/dashboard/team/{dev.pk}", {"role": "support", "refund_limit": "1000"}).status_code == 302
    dev.refresh_from_db()
    assert (dev.role, dev.refund_limit) == ("support", 1000)
    assert post(owner, f"/dashboard/team/{dev.pk}", {"role": "support", "refund_limit": "-1"}).status_code == 400
    assert post(owner, "/dashboard/team/999999", {"role": "viewer"}).status_code == 404


def test_staff_read_team_invitations_and_the_audit_log_in_the_admin(alice, smtp, client):  # noqa: F811
    from django.contrib.auth import get_user_model

    owner = member(alice, "owner@alice.example", "owner")
    assert post(owner, "/dashboard/team/invite", {"email": "x@alice.example", "role": "viewer"}).status_code == 302
    invitation = Invitation.objects.get()
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456"))
    assert "owner@alice.example" in client.get("/admin/realtime/merchantuser/").content.decode()
    assert "x@alice.example" in client.get("/admin/realtime/invitation/").content.decode()
    detail = client.get(f"/admin/realtime/invitation/{invitation.pk}/change/").content.decode()
    assert invitation.token_hash not in detail
    audit = DashboardAudit.objects.get()
    assert "invitation.created" in client.get("/admin/realtime/dashboardaudit/").content.decode()
    assert client.post(f"/admin/realtime/dashboardaudit/{audit.pk}/delete/", {"post": "yes"}).status_code == 403
    assert DashboardAudit.objects.filter(pk=audit.pk).exists()
