"""A returning customer pays with a saved card on the hosted checkout, in chromium against
a real daphne and a real worker: the merchant saved the card through the API and named the
customer on the order; the page offers that card (label only), one click pays with its
token, the simulator decides by the class it recorded at tokenisation, and no card number
reaches the page, the database or the logs."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from payments.models import Payment
from tests.browser.test_payments_e2e import ready
from tests.payments.conftest import VISA_DECLINED, card
from tests.support.card_scan import assert_no_card_data

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live, pytest.mark.worker]


def test_returning_customer_pays_with_a_saved_card_on_the_hosted_checkout(live, page: Page, alice):
    customer = alice.client.post("/api/v1/customers", {"email": "asha@example.com"}, format="json").json()
    methods = f"/api/v1/customers/{customer['id']}/payment-methods"
    approve = alice.client.post(methods, {"type": "card", "card": card(cvv="987")}, format="json").json()
    decline = alice.client.post(methods, {"type": "card", "card": card(VISA_DECLINED)}, format="json").json()
    order = alice.client.post("/api/v1/orders", {"amount": 50000, "customer_id": customer["id"]}, format="json").json()

    page.goto(f"{live}/checkout?order_id={order['id']}")
    ready(page)
    offered = page.locator('[data-test-id="saved-method"]')
    expect(offered).to_have_count(2)
    expect(page.locator(f'[data-payment-method-id="{approve["id"]}"]')).to_contain_text("Visa •••• 1111")
    expect(page.locator(f'[data-payment-method-id="{decline["id"]}"]')).to_contain_text("Visa •••• 0002")
    assert "4111111111111111" not in page.content() and "simtok_" not in page.content()

    page.locator(f'[data-payment-method-id="{decline["id"]}"]').click()
    expect(page.locator('[data-test-id="error-message"]')).to_have_text("The card was declined by the issuer")
    page.locator('[data-test-id="retry-button"]').click()
    page.locator(f'[data-payment-method-id="{approve["id"]}"]').click()
    expect(page.locator('[data-test-id="success-message"]')).to_be_visible()

    paid = Payment.objects.get(order_id=order["id"], status="success")
    assert (paid.payment_method_id, paid.customer_id, paid.card_last4) == (approve["id"], customer["id"], "1111")
    expect(page.locator('[data-test-id="payment-id"]')).to_have_text(paid.id)
    assert Payment.objects.get(order_id=order["id"], status="failed").payment_method_id == decline["id"]
    assert_no_card_data(numbers=("4111111111111111", "4000000000000002"), cvvs=("987",))
