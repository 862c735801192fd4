"""Merchant dashboard in chromium: login, live transactions, webhook settings and logs
(real daphne, real Celery worker, a real HTTP receiver on loopback)."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from payments.models import Payment
from realtime.services import merchant_user_link
from tests.realtime.helpers import make_payment, settle
from tests.support.processes import wait_for
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services.endpoints import endpoint_default_set_url
from webhooks.signing import hex_signature_valid

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live, pytest.mark.worker]
EMAIL, PASSWORD = "owner@alice.example", "alice-dashboard-pw"


@pytest.fixture
def owner(alice):
    merchant_user_link(merchant=alice.merchant, email=EMAIL, password=PASSWORD)
    return alice


def login(page: Page, live: str, path: str = "/dashboard/") -> None:
    page.goto(f"{live}/login?next={path}")
    form = page.locator('[data-test-id="login-form"]')
    form.locator('[data-test-id="email-input"]').fill(EMAIL)
    form.locator('[data-test-id="password-input"]').fill(PASSWORD)
    form.locator('[data-test-id="login-button"]').click()
    expect(page.locator('[data-test-id="dashboard"]')).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def row(page: Page, attr: str, value: str):
    return page.locator(f'[{attr}="{value}"]')


def test_login_shows_credentials_and_stats(live, page: Page, owner, bob):
    for amount, status in ((50000000, "success"), (20000, "failed")):
        settle(make_payment(merchant=owner.merchant, amount=amount), status)
    make_payment(merchant=bob.merchant)  # never counted
    login(page, live)
    expect(page.locator('[data-test-id="api-key"]')).to_have_text(owner.key_id)
    stats = page.locator('[data-test-id="stats-container"]')
    expect(stats.locator('[data-test-id="total-transactions"]')).to_have_text("2")
    expect(stats.locator('[data-test-id="total-amount"]')).to_have_text("₹5,00,000")
    expect(stats.locator('[data-test-id="success-rate"]')).to_have_text("50%")


def test_new_payment_appears_and_settles_live_without_reload(live, page: Page, owner, bob):
    login(page, live, "/dashboard/transactions")
    expect(page.locator("#live-indicator")).to_have_class(re.compile(r"\bon\b"))  # socket up
    page.evaluate("window.__sameDocument = true")
    order = owner.client.post("/api/v1/orders", {"amount": 75000}, format="json").json()
    created = owner.client.post(
        "/api/v1/payments", {"order_id": order["id"], "method": "upi", "vpa": "success@upi"}, format="json"
    )
    assert created.status_code == 201, created.content
    payment_id = created.json()["id"]
    theirs = make_payment(merchant=bob.merchant)
    new_row = row(page, "data-payment-id", payment_id)
    expect(new_row).to_have_count(1)
    expect(new_row.locator('[data-test-id="amount"]')).to_have_text("₹750.00")
    expect(new_row.locator('[data-test-id="order-id"]')).to_have_text(order["id"])
    expect(new_row.locator('[data-test-id="method"]')).to_have_text("upi")
    expect(new_row.locator('[data-test-id="status"]')).to_have_text("success")
    assert Payment.objects.get(pk=payment_id).status == "success"
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert row(page, "data-payment-id", theirs.id).count() == 0


def delivered(receiver, event_type: str) -> list[dict]:
    """Bodies of the deliveries of ``event_type`` the receiver has got, in arrival order."""
    bodies = [json.loads(request["body"]) for request in list(receiver.requests)]
    return [body for body in bodies if body["event"] == event_type]


def test_saved_webhook_url_receives_deliveries_and_secret_regenerates(live, page: Page, owner, receiver):
    login(page, live, "/dashboard/webhooks")
    config = page.locator('[data-test-id="webhook-config"]')
    config.locator('[data-test-id="webhook-url-input"]').fill(receiver.url)
    config.locator('[data-test-id="save-webhook-button"]').click()
    expect(page.locator("#webhook-flash")).to_have_text("Webhook URL saved")
    endpoint = WebhookEndpoint.objects.get(merchant=owner.merchant, is_default=True)
    assert endpoint.url == receiver.url
    secret = config.locator('[data-test-id="webhook-secret"]').inner_text()
    assert secret == endpoint.secret

    config.locator('[data-test-id="test-webhook-button"]').click()
    wait_for(lambda: len(receiver.requests) == 1, timeout=15, message="test webhook delivery")
    first = receiver.requests[0]
    assert hex_signature_valid(secret=secret, body=first["body"], signature=first["headers"]["X-Webhook-Signature"])
    log = page.locator('[data-test-id="webhook-log-item"]')
    expect(log).to_have_count(1)
    expect(log.locator('[data-test-id="webhook-event"]')).to_have_text("webhook.test")
    expect(log.locator('[data-test-id="webhook-status"]')).to_have_text("success")
    expect(log.locator('[data-test-id="webhook-response-code"]')).to_have_text("200")
    expect(log.locator('[data-test-id="webhook-attempts"]')).to_have_text("1")
    # Real payment events reach the saved URL too, and their rows appear live. (The worker
    # also submits the payment, so its later events follow; only payment.created is awaited.)
    payment = make_payment(merchant=owner.merchant)
    wait_for(lambda: delivered(receiver, "payment.created"), timeout=15, message="payment.created delivery")
    assert [body["data"]["payment"]["id"] for body in delivered(receiver, "payment.created")] == [payment.id]
    expect(page.locator('[data-test-id="webhook-event"]', has_text="payment.created")).to_have_count(1)

    config.locator('[data-test-id="regenerate-secret-button"]').click()
    expect(config.locator('[data-test-id="webhook-secret"]')).not_to_have_text(secret)
    new_secret = config.locator('[data-test-id="webhook-secret"]').inner_text()
    assert new_secret.startswith("whsec_")
    endpoint.refresh_from_db()
    assert endpoint.secret == new_secret and not endpoint.previous_secret  # old one stops at once
    config.locator('[data-test-id="test-webhook-button"]').click()
    wait_for(lambda: len(delivered(receiver, "webhook.test")) == 2, timeout=15, message="second test webhook")
    second = next(r for r in reversed(receiver.requests) if json.loads(r["body"])["event"] == "webhook.test")
    assert hex_signature_valid(
        secret=new_secret, body=second["body"], signature=second["headers"]["X-Webhook-Signature"]
    )


def test_retrying_a_failed_webhook_from_the_dashboard(live, page: Page, owner, receiver):
    endpoint_default_set_url(merchant=owner.merchant, url=receiver.url, actor="test")
    receiver.codes = [500] * 20
    login(page, live, "/dashboard/webhooks")
    page.locator('[data-test-id="test-webhook-button"]').click()
    expect(page.locator("#webhook-flash")).to_have_text("Test webhook sent")
    log = page.locator('[data-test-id="webhook-log-item"]')
    expect(log.locator('[data-test-id="webhook-response-code"]')).to_have_text("500")
    # The retry schedule runs out (as after its last attempt): the delivery is dead.
    delivery = WebhookDelivery.objects.get(merchant=owner.merchant)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", next_retry_at=None)
    expect(log.locator('[data-test-id="webhook-status"]')).to_have_text("failed")
    receiver.codes = []  # the receiver is fixed
    attempts_before = len(receiver.requests)
    page.locator(f'[data-test-id="retry-webhook-button"][data-webhook-id="{delivery.pk}"]').click()
    expect(log.locator('[data-test-id="webhook-status"]')).to_have_text("success")
    expect(log.locator('[data-test-id="webhook-response-code"]')).to_have_text("200")
    assert len(receiver.requests) == attempts_before + 1
