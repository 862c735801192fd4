"""Merchant dashboard in chromium: login, live stats, live transactions with "Load older"
and the status filter, webhook settings and logs (real daphne, real Celery worker, a real
HTTP receiver on loopback)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from payments.models import Payment
from realtime.services import merchant_user_link
from tests.realtime.helpers import bulk_payments, make_payment, settle
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


def pay(owner, *, amount: int, vpa: str) -> str:
    """A payment through the merchant API; the real worker takes it from there."""
    order = owner.client.post("/api/v1/orders", {"amount": amount}, format="json").json()
    created = owner.client.post(
        "/api/v1/payments", {"order_id": order["id"], "method": "upi", "vpa": vpa}, format="json"
    )
    assert created.status_code == 201, created.content
    return created.json()["id"]


def test_home_stats_update_live_as_payments_are_created_and_succeed(live, page: Page, owner, bob):
    bulk_payments(merchant=owner.merchant, created_at=[datetime(2024, 5, 1, tzinfo=UTC)], statuses=["failed"])
    login(page, live)
    stats = page.locator('[data-test-id="stats-container"]')
    total = stats.locator('[data-test-id="total-transactions"]')
    amount = stats.locator('[data-test-id="total-amount"]')
    rate = stats.locator('[data-test-id="success-rate"]')
    expect(total).to_have_text("1")
    expect(amount).to_have_text("₹0")
    expect(rate).to_have_text("0%")
    expect(page.locator("#live-indicator")).to_have_class(re.compile(r"\bon\b"))  # socket up
    page.evaluate("window.__sameDocument = true")

    # The simulator never answers for timeout@upi: only payment.created changes the stats.
    stuck = pay(owner, amount=30000, vpa="timeout@upi")
    expect(total).to_have_text("2")
    expect(amount).to_have_text("₹0")
    expect(rate).to_have_text("0%")
    make_payment(merchant=bob.merchant, amount=99900)  # another merchant's: never counted

    settled = pay(owner, amount=75000, vpa="success@upi")
    expect(amount).to_have_text("₹750")
    expect(total).to_have_text("3")
    expect(rate).to_have_text("33%")
    assert Payment.objects.get(pk=settled).status == "success"
    assert Payment.objects.get(pk=stuck).status == "pending"
    assert page.evaluate("window.__sameDocument") is True  # no reload happened


def row_ids(page: Page) -> list[str]:
    return page.locator('[data-test-id="transaction-row"]').evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-payment-id'))"
    )


def newest_first(payments: list[Payment]) -> list[str]:
    return [p.id for p in sorted(payments, key=lambda p: (p.created_at, p.id), reverse=True)]


def test_load_older_until_exhausted_shows_every_payment_once(live, page: Page, owner, bob):
    # Interleaved in time with another merchant's payments, 1 s apart, in the past.
    stamps = [datetime(2024, 5, 1, tzinfo=UTC) + timedelta(seconds=i) for i in range(280)]
    mine = bulk_payments(merchant=owner.merchant, created_at=stamps[:230])
    theirs = bulk_payments(merchant=bob.merchant, created_at=stamps[230:])
    login(page, live, "/dashboard/transactions")
    rows = page.locator('[data-test-id="transaction-row"]')
    older = page.locator('[data-test-id="load-older-button"]')
    expect(rows).to_have_count(100)
    expect(older).to_be_visible()
    older.click()
    expect(rows).to_have_count(200)
    expect(older).to_be_visible()
    older.click()
    expect(rows).to_have_count(230)
    expect(older).to_be_hidden()
    assert row_ids(page) == newest_first(mine)  # each once, newest first
    assert not set(row_ids(page)) & {p.id for p in theirs}
    last = rows.last
    expect(last.locator('[data-test-id="amount"]')).to_have_text("₹100.00")  # the oldest: 10000 minor units
    expect(last.locator('[data-test-id="status"]')).to_have_text("pending")


def test_status_filter_shows_only_matching_rows_live_and_in_older_pages(live, page: Page, owner):
    stamps = [datetime(2024, 5, 1, tzinfo=UTC) + timedelta(seconds=i) for i in range(260)]
    payments = bulk_payments(merchant=owner.merchant, created_at=stamps, statuses=["failed", "success"] * 130)
    failed = newest_first([p for p in payments if p.status == "failed"])
    login(page, live, "/dashboard/transactions")
    expect(page.locator("#live-indicator")).to_have_class(re.compile(r"\bon\b"))  # socket up
    rows = page.locator('[data-test-id="transaction-row"]')
    statuses = rows.locator('[data-test-id="status"]')
    older = page.locator('[data-test-id="load-older-button"]')

    page.locator('[data-test-id="status-filter"]').select_option("failed")
    expect(page).to_have_url(f"{live}/dashboard/transactions?status=failed")
    expect(rows).to_have_count(100)
    assert row_ids(page) == failed[:100]
    older.click()
    expect(rows).to_have_count(130)
    expect(older).to_be_hidden()
    assert row_ids(page) == failed
    assert set(statuses.all_inner_texts()) == {"failed"}

    # Live: a payment that succeeds is never inserted; one that fails appears at the top.
    succeeded = pay(owner, amount=75000, vpa="success@upi")
    wait_for(lambda: Payment.objects.get(pk=succeeded).status == "success", timeout=15, message="success")
    declined = pay(owner, amount=42000, vpa="failure@upi")
    expect(rows.first).to_have_attribute("data-payment-id", declined)
    expect(rows.first.locator('[data-test-id="status"]')).to_have_text("failed")
    expect(rows).to_have_count(131)
    assert row(page, "data-payment-id", succeeded).count() == 0
    assert set(statuses.all_inner_texts()) == {"failed"}

    # The filter survives a reload (server-rendered first page) and "all" shows everything.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator('[data-test-id="status-filter"]')).to_have_value("failed")
    expect(rows).to_have_count(100)
    assert row_ids(page) == [declined, *failed[:99]]
    page.locator('[data-test-id="status-filter"]').select_option("all")
    expect(page).to_have_url(f"{live}/dashboard/transactions")
    expect(rows.first).to_have_attribute("data-payment-id", declined)
    expect(rows).to_have_count(100)
    assert row_ids(page)[:2] == [declined, succeeded]


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
