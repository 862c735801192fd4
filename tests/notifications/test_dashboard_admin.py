"""The merchant turns channels on and off from the dashboard (CSRF-checked form, its own
merchant only) and staff from the admin; both see what was sent."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from notifications.models import Notification, NotificationPreference
from realtime.models import DashboardAudit, MerchantUser
from realtime.services import merchant_user_link
from tests.notifications.conftest import new_customer, paid_payment

pytestmark = pytest.mark.django_db


def logged_in(tenant, email: str) -> Client:
    user = merchant_user_link(merchant=tenant.merchant, email=email, password="dash-pass-123")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_dashboard_switches_channels_for_its_merchant_only(alice, bob, settings):
    settings.SMS_BACKEND = ""
    client = logged_in(alice, "owner@alice.example")
    page = client.get("/dashboard/notifications")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-test-id="email-enabled" checked' in html and "no SMS backend is configured" in html
    token = page.cookies["csrftoken"].value
    assert client.post("/dashboard/notifications", {"sms_enabled": "on"}).status_code == 403  # no CSRF token
    saved = client.post("/dashboard/notifications", {"sms_enabled": "on", "csrfmiddlewaretoken": token})
    assert saved.status_code == 302
    preference = NotificationPreference.objects.get(merchant=alice.merchant)
    assert (preference.email_enabled, preference.sms_enabled) == (False, True)
    assert not NotificationPreference.objects.filter(merchant=bob.merchant).exists()
    assert 'data-test-id="email-enabled">' in client.get("/dashboard/notifications").content.decode()
    assert Client().get("/dashboard/notifications").status_code == 302  # login required
    audit = DashboardAudit.objects.get(action="notifications.settings")
    assert (audit.merchant_id, audit.detail) == (alice.merchant.pk, {"email_enabled": False, "sms_enabled": True})
    # A viewer sees the page but cannot change the switches (checked on the server).
    viewer = logged_in(alice, "viewer@alice.example")
    MerchantUser.objects.filter(user__username="viewer@alice.example").update(role="viewer")
    page = viewer.get("/dashboard/notifications")
    assert page.status_code == 200 and "Only the account owner can change these" in page.content.decode()
    refused = viewer.post(
        "/dashboard/notifications", {"email_enabled": "on", "csrfmiddlewaretoken": page.cookies["csrftoken"].value}
    )
    assert refused.status_code == 403
    assert NotificationPreference.objects.get(merchant=alice.merchant).email_enabled is False


def test_dashboard_and_admin_list_notifications(alice, bob, smtp, settings, client):
    settings.SMS_BACKEND = ""
    payment_id = paid_payment(alice, new_customer(alice))
    notification = Notification.objects.get()
    assert payment_id in logged_in(alice, "owner@alice.example").get("/dashboard/notifications").content.decode()
    assert payment_id not in logged_in(bob, "owner@bob.example").get("/dashboard/notifications").content.decode()
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456"))
    listing = client.get("/admin/notifications/notification/", {"q": payment_id})
    assert listing.status_code == 200 and notification.id in listing.content.decode()
    assert client.get("/admin/notifications/notificationpreference/add/").status_code == 200
    created = client.post(
        "/admin/notifications/notificationpreference/add/",
        {"merchant": alice.merchant.pk, "sms_enabled": "on"},
    )
    assert created.status_code == 302
    preference = NotificationPreference.objects.get(merchant=alice.merchant)
    assert (preference.email_enabled, preference.sms_enabled) == (False, True)
