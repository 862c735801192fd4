"""The hosted checkout (not embedded) returns the browser to the order's ``callback_url``
with ``payment_id``, ``order_id``, ``status``, ``amount``, ``currency`` and the merchant's
signature over all of them, in chromium against a real daphne and a real worker; the
callback target is the merchant's own loopback server."""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from payments.models import Payment
from tests.browser.test_payments_e2e import ready
from webhooks.services.endpoints import endpoint_default_get_or_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live, pytest.mark.worker]

RETURN_PAGE = '<!doctype html><html><body><h1 id="thanks">Back at the shop</h1></body></html>'


@pytest.mark.parametrize(("vpa", "status"), [("success@upi", "success"), ("failure@upi", "failed")])
def test_checkout_redirects_to_the_orders_callback_url_with_a_valid_signature(
    live, shop, page: Page, alice, vpa, status
):
    secret = endpoint_default_get_or_create(merchant=alice.merchant).secret
    shop.pages["/return"] = RETURN_PAGE
    callback_url = f"{shop.origin}/return?cart=7"
    response = alice.client.post("/api/v1/orders", {"amount": 50000, "callback_url": callback_url}, format="json")
    assert response.status_code == 201, response.content
    order_id = response.json()["id"]

    page.goto(f"{live}/checkout?order_id={order_id}")
    ready(page)
    page.locator('[data-test-id="method-upi"]').click()
    page.locator('[data-test-id="vpa-input"]').fill(vpa)
    page.locator('[data-test-id="upi-form"] [data-test-id="pay-button"]').click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(shop.origin)}/return\?cart=7&"))
    expect(page.locator("#thanks")).to_have_text("Back at the shop")
    payment = Payment.objects.get(order_id=order_id)
    assert payment.status == status and payment.callback_url == callback_url
    query = parse_qs(urlsplit(page.url).query, strict_parsing=True)
    signed = f"v2|{order_id}|{payment.id}|{status}|50000|INR".encode()
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert query == {
        "cart": ["7"],
        "payment_id": [payment.id],
        "order_id": [order_id],
        "status": [status],
        "amount": ["50000"],
        "currency": ["INR"],
        "signature": [expected],
    }
