"""The dashboard as a merchant's team uses it, in chromium against a real daphne and a real
Celery worker (one module, so one of each): a support member refunds from the payment page
and watches the refund settle live; a viewer gets no refund form and the server refuses the
request anyway; search and the CSV export."""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from payments.models import Customer, Payment, Refund
from realtime.models import DashboardAudit, MerchantUser
from realtime.services import merchant_user_link
from tests.realtime.charts_seed import seed_charts
from tests.realtime.helpers import bulk_payments
from tests.support.processes import wait_for

# With DASHBOARD_SCREENSHOTS=1 the tests write docs/img/dashboard-*.png (the docs' pictures);
# otherwise the same screenshots go to a temporary directory.
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "img" if os.environ.get("DASHBOARD_SCREENSHOTS") else None
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live, pytest.mark.worker]
PASSWORD = "team-browser-password"


def teammate(tenant, email: str, role: str, refund_limit: int = 0) -> str:
    user = merchant_user_link(merchant=tenant.merchant, email=email, password=PASSWORD)
    MerchantUser.objects.filter(user=user).update(role=role, refund_limit=refund_limit)
    return email


def login(page: Page, live: str, email: str, path: str) -> None:
    page.goto(f"{live}/login?next={path}")
    form = page.locator('[data-test-id="login-form"]')
    form.locator('[data-test-id="email-input"]').fill(email)
    form.locator('[data-test-id="password-input"]').fill(PASSWORD)
    form.locator('[data-test-id="login-button"]').click()
    expect(page.locator('[data-test-id="dashboard"]')).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def charged_payment(tenant, *, amount: int) -> str:
    """A payment through the merchant API that the real worker settles as success."""
    order = tenant.client.post("/api/v1/orders", {"amount": amount}, format="json").json()
    created = tenant.client.post(
        "/api/v1/payments", {"order_id": order["id"], "method": "upi", "vpa": "success@upi"}, format="json"
    )
    assert created.status_code == 201, created.content
    payment_id = created.json()["id"]
    wait_for(lambda: Payment.objects.get(pk=payment_id).status == "success", timeout=20, message="payment success")
    return payment_id


def test_support_refunds_from_the_payment_page_and_the_refund_settles_live(live, page: Page, alice, bob, tmp_path):
    payment_id = charged_payment(alice, amount=120000)
    email = teammate(alice, "support@alice.example", "support", refund_limit=50000)
    login(page, live, email, f"/dashboard/payments/{payment_id}")
    expect(page.locator('[data-test-id="payment-amount"]')).to_have_text("₹1,200.00")
    expect(page.locator('[data-test-id="payment-status"]')).to_contain_text("success")
    expect(page.locator('[data-test-id="payment-method"]')).to_have_text("UPI · success@upi")
    expect(page.locator("#live-indicator")).to_have_class(re.compile(r"\bon\b"))  # socket up

    form = page.locator('[data-test-id="refund-form"]')
    # Above the limit the owner set: refused with a clear message, nothing created.
    form.locator('[data-test-id="refund-amount"]').fill("600")
    page.once("dialog", lambda dialog: dialog.accept())
    form.locator('[data-test-id="refund-button"]').click()
    expect(page.locator('[data-test-id="payment-error"]')).to_contain_text("above your limit")
    assert not Refund.objects.exists()
    # Dismissing the confirmation sends nothing.
    page.locator('[data-test-id="refund-amount"]').fill("250.50")
    page.locator('[data-test-id="refund-reason"]').fill("damaged in transit")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator('[data-test-id="refund-button"]').click()
    assert not Refund.objects.exists()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('[data-test-id="refund-button"]').click()
    expect(page.locator('[data-test-id="payment-flash"]')).to_contain_text("Refund created")
    refund = Refund.objects.get()
    assert (refund.payment_id, refund.amount, refund.reason) == (payment_id, 25050, "damaged in transit")
    page.evaluate("window.__sameDocument = true")
    row = page.locator(f'[data-test-id="refund-row"][data-refund-id="{refund.pk}"]')
    expect(row.locator('[data-test-id="refund-amount-cell"]')).to_have_text("₹250.50")
    # The worker hands it to the provider, whose answer arrives over the merchant socket.
    expect(row.locator('[data-test-id="refund-status"]')).to_have_text("processed")
    expect(page.locator('[data-test-id="refundable"]')).to_have_text("₹949.50")
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    expect(page.locator('[data-test-id="payment-timeline"]')).to_contain_text("refund pending → processed")
    assert DashboardAudit.objects.get().actor == "support@alice.example"
    screenshot(page, tmp_path, "payment")


def test_viewer_gets_no_refund_form_and_the_server_refuses_it(live, page: Page, alice):
    payment_id = charged_payment(alice, amount=50000)
    email = teammate(alice, "viewer@alice.example", "viewer")
    login(page, live, email, f"/dashboard/payments/{payment_id}")
    expect(page.locator('[data-test-id="payment-amount"]')).to_have_text("₹500.00")
    expect(page.locator('[data-test-id="current-role"]')).to_contain_text("viewer")
    expect(page.locator('[data-test-id="refund-form"]')).to_have_count(0)
    # The same POST the form would send, from this session with its CSRF token: 403.
    status = page.evaluate(
        """async (id) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const body = new URLSearchParams({amount: "10.00", csrfmiddlewaretoken: token});
            const r = await fetch(`/dashboard/payments/${id}/refund`, {method: "POST", body});
            return [r.status, await r.text()];
        }""",
        payment_id,
    )
    assert status[0] == 403 and "Your role (viewer) cannot do this" in status[1]
    assert not Refund.objects.exists() and not DashboardAudit.objects.exists()


def test_search_and_csv_export(live, page: Page, alice, bob, tmp_path):
    base = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    payments = bulk_payments(
        merchant=alice.merchant,
        created_at=[base + timedelta(minutes=i) for i in range(240)],
        statuses=["success", "failed", "pending"] * 80,
    )
    customer = Customer.objects.create(merchant=alice.merchant, email="asha@example.com")
    target = payments[7]
    Payment.objects.filter(pk=target.pk).update(customer=customer, amount=123456)
    bulk_payments(merchant=bob.merchant, created_at=[base])  # never shown
    email = teammate(alice, "finance@alice.example", "viewer")
    login(page, live, email, "/dashboard/transactions")
    form = page.locator('[data-test-id="search-form"]')
    form.locator('[data-test-id="search-q"]').fill("ASHA@example.com")
    form.locator('[data-test-id="search-q"]').press("Enter")  # the keyboard submits
    rows = page.locator('[data-test-id="transaction-row"]')
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-payment-id", target.id)
    expect(rows.first.locator('[data-test-id="amount"]')).to_have_text("₹1,234.56")
    # Kolkata time (the default timezone): 12:07 UTC is 17:37.
    expect(rows.first.locator('[data-test-id="created-at"]')).to_have_text("2026-11-30 17:37:00")
    rows.first.locator("a").click()
    expect(page.locator('[data-test-id="payment-amount"]')).to_have_text("₹1,234.56")
    page.go_back()

    page.goto(f"{live}/dashboard/transactions")
    form.locator('[data-test-id="search-q"]').fill("")
    form.locator('[data-test-id="status-filter"]').select_option("failed")
    form.locator('[data-test-id="search-amount-min"]').fill("100.05")
    form.locator('[data-test-id="search-date-to"]').fill("2026-11-30")
    form.locator('[data-test-id="search-button"]').click()
    expect(page.locator('[data-test-id="search-results"]')).to_be_visible()
    expected = sorted(
        (p for p in payments if p.status == "failed" and p.amount >= 10005), key=lambda p: p.created_at, reverse=True
    )
    expect(rows).to_have_count(len(expected))  # 78: below the page size of 100
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.paymentId)") == [p.id for p in expected]
    with page.expect_download() as download_info:
        page.locator('[data-test-id="export-csv"]').click()
    with open(download_info.value.path(), encoding="utf-8") as exported_file:
        body = exported_file.read()
    exported = list(csv.DictReader(io.StringIO(body)))
    assert [r["payment_id"] for r in exported] == [p.id for p in expected]
    assert exported[0]["created_at"].endswith("+05:30") and {r["status"] for r in exported} == {"failed"}
    screenshot(page, tmp_path, "search", full_page=False)
    # A bad value is explained beside the form and nothing is listed.
    form.locator('[data-test-id="search-amount-min"]').fill("a lot")
    form.locator('[data-test-id="search-button"]').click()
    expect(page.locator('[data-test-id="search-error"]')).to_have_text("Enter an amount like 12.55")


def test_second_endpoint_and_a_failed_delivery_in_the_inspector(live, page: Page, alice, receiver, tmp_path):
    from webhooks.models import WebhookDelivery, WebhookEndpoint
    from webhooks.services.endpoints import endpoint_default_set_url

    endpoint_default_set_url(merchant=alice.merchant, url=f"{receiver.url}/default", actor="test")
    receiver.codes = [503] * 50  # the new endpoint's receiver is down
    email = teammate(alice, "dev@alice.example", "developer")
    login(page, live, email, "/dashboard/webhooks")
    page.locator('[data-test-id="all-endpoints-link"]').click()
    form = page.locator('[data-test-id="endpoint-create-form"]')
    form.locator('[data-test-id="endpoint-url"]').fill(receiver.url)
    form.locator('[data-test-id="endpoint-events"]').fill("webhook.test")
    form.locator('[data-test-id="endpoint-description"]').fill("warehouse")
    form.locator('[data-test-id="endpoint-create-button"]').click()
    expect(page.locator('[data-test-id="endpoint-flash"]')).to_contain_text("Endpoint created")
    endpoint = WebhookEndpoint.objects.get(merchant=alice.merchant, is_default=False)
    expect(page.locator('[data-test-id="endpoint-secret"]')).to_have_text(endpoint.secret)
    page.goto(f"{live}/dashboard/webhooks/endpoints")
    expect(page.locator('[data-test-id="endpoint-row"]')).to_have_count(2)  # the default one and ours
    page.locator(f'[data-test-id="endpoint-row"][data-endpoint-id="{endpoint.pk}"] a').click()

    page.locator('[data-test-id="send-test-button"]').click()
    expect(page.locator('[data-test-id="endpoint-flash"]')).to_contain_text("Test event sent")
    wait_for(
        lambda: any(r["headers"].get("X-Webhook-Delivery") for r in receiver.requests), timeout=20, message="attempt"
    )
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    wait_for(lambda: delivery.attempt_rows.exists(), timeout=20, message="attempt recorded")
    sent = next(r for r in receiver.requests if r["headers"].get("X-Webhook-Delivery") == delivery.pk)
    page.reload()
    page.locator(
        f'[data-test-id="endpoint-delivery"][data-delivery-id="{delivery.pk}"] [data-test-id="inspect-link"]'
    ).click()
    first = page.locator('[data-test-id="attempt"][data-attempt-number="1"]')
    expect(first.locator('[data-test-id="attempt-status"]')).to_have_text("503")
    expect(first.locator('[data-test-id="attempt-response"]')).to_have_text("ok")
    expect(first.locator('[data-test-id="attempt-error"]')).to_contain_text("http_status")
    assert first.locator('[data-test-id="attempt-latency"]').inner_text().endswith(" ms")
    # The request exactly as the receiver got it: the body bytes and every header we set.
    assert page.locator('[data-test-id="request-body-raw"]').inner_text() == sent["body"].decode()
    shown = dict(
        first.locator('[data-test-id="attempt-header"]').evaluate_all(
            "rows => rows.map(r => [r.dataset.header, r.querySelector('td').textContent])"
        )
    )
    received = {name.lower(): value for name, value in sent["headers"].items()}
    assert shown and all(received[name.lower()] == value for name, value in shown.items()), (shown, received)
    assert {"webhook-signature", "x-webhook-signature", "webhook-id", "content-type"} <= {n.lower() for n in shown}
    screenshot(page, tmp_path, "inspector")


def api_status(live: str, key_id: str, secret: str) -> int:
    """GET /api/v1/payments on the live daphne with these credentials."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{live}/api/v1/payments", headers={"X-Api-Key": key_id, "X-Api-Secret": secret})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_rolling_a_key(live, page: Page, alice, tmp_path):
    email = teammate(alice, "dev@alice.example", "developer")
    login(page, live, email, "/dashboard/keys")
    row = page.locator(f'[data-test-id="key-row"][data-key-id="{alice.key_id}"]')
    expect(row.locator('[data-test-id="key-state"]')).to_have_text("active")
    row.locator('[data-test-id="roll-overlap"]').select_option("3600")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator('[data-test-id="roll-button"]').click()
    new_key = page.locator('[data-test-id="new-key"]')
    expect(new_key).to_be_visible()
    new_id = new_key.locator('[data-test-id="new-key-id"]').inner_text()
    new_secret = new_key.locator('[data-test-id="new-key-secret"]').inner_text()
    assert new_id != alice.key_id and new_secret.startswith("secret_test_")
    expect(row.locator('[data-test-id="key-state"]')).to_contain_text("rolling: works until")
    screenshot(page, tmp_path, "keys-rolled")
    # During the overlap both keys work against the real server; the secret is not shown again.
    assert api_status(live, new_id, new_secret) == 200
    assert api_status(live, alice.key_id, alice.secret) == 200
    page.goto(f"{live}/dashboard/keys")
    expect(page.locator('[data-test-id="new-key"]')).to_have_count(0)
    assert new_secret not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator('[data-test-id="revoke-button"]').click()
    expect(page.locator('[data-test-id="keys-flash"]')).to_contain_text("Key revoked")
    expect(row.locator('[data-test-id="key-state"]')).to_contain_text("revoked")
    assert api_status(live, alice.key_id, alice.secret) == 401
    assert api_status(live, new_id, new_secret) == 200
    assert list(DashboardAudit.objects.order_by("pk").values_list("action", flat=True)) == [
        "api_key.rolled",
        "api_key.revoked",
    ]


def screenshot(page: Page, tmp_path: Path, name: str, *, full_page: bool = True) -> None:
    target = (SHOTS or tmp_path) / f"dashboard-{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=full_page)
    assert target.stat().st_size > 1000


def chart_values(page: Page, test_id: str) -> list[tuple[str, str]]:
    pairs = page.locator(f'[data-test-id="{test_id}"] [data-test-id="chart-bar"]').evaluate_all(
        "gs => gs.map(g => [g.dataset.label, g.dataset.value])"
    )
    return [(label, value) for label, value in pairs]


def test_charts_render_with_the_seeded_values_and_pages_fit_a_phone(live, page: Page, alice, bob, settings, tmp_path):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    seeded = seed_charts(alice.merchant, bob.merchant)
    email = teammate(alice, "owner@alice.example", "owner")
    page.set_viewport_size({"width": 1200, "height": 900})
    login(page, live, email, "/dashboard/")
    expect(page.locator('[data-test-id="charts"]')).to_have_attribute("data-days", "7")
    assert chart_values(page, "chart-volume") == list(zip(seeded.labels, map(str, seeded.volume), strict=True))
    assert chart_values(page, "chart-count") == list(zip(seeded.labels, map(str, seeded.count), strict=True))
    assert chart_values(page, "chart-refunds") == list(zip(seeded.labels, map(str, seeded.refunded), strict=True))
    assert dict(chart_values(page, "chart-methods")) == {k: str(v) for k, v in seeded.method_rates.items()}
    assert dict(chart_values(page, "chart-endpoint-success")) == {k: str(v) for k, v in seeded.endpoint_rates.items()}
    assert dict(chart_values(page, "chart-endpoint-p95")) == {k: str(v) for k, v in seeded.endpoint_p95.items()}
    # Drawn: the tallest day is as tall as the chart, an empty day is flat, all visible.
    heights = page.locator('[data-test-id="chart-volume"] rect').evaluate_all(
        "rs => rs.map(r => r.getBoundingClientRect().height)"
    )
    assert heights[1] == 0 and heights[3] == heights[6] > 50 and 0 < heights[0] < heights[3]
    screenshot(page, tmp_path, "overview")
    page.locator('[data-test-id="charts-30"]').click()
    expect(page.locator('[data-test-id="charts"]')).to_have_attribute("data-days", "30")
    assert len(chart_values(page, "chart-count")) == 30
    # Phone width: every page fits without sideways scrolling; the nav wraps.
    payment_id = Payment.objects.filter(merchant=alice.merchant, status="success").first().pk
    page.set_viewport_size({"width": 375, "height": 740})
    for path in (
        "/dashboard/",
        "/dashboard/transactions",
        f"/dashboard/payments/{payment_id}",
        "/dashboard/webhooks/endpoints",
        "/dashboard/keys",
        "/dashboard/team",
        "/dashboard/audit",
    ):
        page.goto(f"{live}{path}")
        expect(page.locator('[data-test-id="dashboard"]')).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        wide = page.evaluate(
            "Array.from(document.querySelectorAll('body *'))"
            ".filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('.table-wrap'))"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + (e.getAttribute('data-test-id') || ''))"
        )
        assert overflow <= 0, (path, overflow, wide)
    page.goto(f"{live}/dashboard/payments/{payment_id}")
    screenshot(page, tmp_path, "payment-phone")
