"""Checkout page and SDK modal in chromium, parts that need no payment processing:
modal open/close with origin-checked messages, inline validation, phone viewport."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from payments.models import Order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live]


def test_sdk_modal_opens_checkout_iframe_and_closes(live, shop, page: Page, alice):
    order = Order.objects.create(merchant=alice.merchant, amount=50000, currency="INR")
    shop.open(page, gateway=live, key=alice.key_id, order_id=order.id)
    page.click("#buy")
    modal = page.locator("#payment-gateway-modal")
    expect(modal).to_have_attribute("data-test-id", "payment-modal")
    frame = page.frame_locator('[data-test-id="payment-iframe"]')
    expect(frame.locator('[data-test-id="order-amount"]')).to_have_text("₹500.00")
    expect(frame.locator('[data-test-id="order-id"]')).to_have_text(order.id)
    expect(frame.locator("body")).to_have_attribute("data-ready", "true")
    # A forged message from the merchant page itself (wrong source/origin) is ignored.
    page.evaluate("window.postMessage({type: 'close_modal', data: {}}, '*')")
    expect(modal).to_be_visible()
    page.click('[data-test-id="close-modal-button"]')
    expect(modal).to_have_count(0)
    assert page.evaluate("window.events") == [{"kind": "close", "data": None}]


def test_inline_validation_errors_and_phone_viewport(live, page: Page, alice):
    order = Order.objects.create(merchant=alice.merchant, amount=123456, currency="INR")
    page.set_viewport_size({"width": 375, "height": 667})
    page.goto(f"{live}/checkout?order_id={order.id}")
    expect(page.locator('[data-test-id="order-amount"]')).to_have_text("₹1,234.56")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.click('[data-test-id="method-upi"]')
    upi = page.locator('[data-test-id="upi-form"]')
    upi.locator('[data-test-id="vpa-input"]').fill("not a vpa")
    upi.locator('[data-test-id="pay-button"]').click()
    expect(upi.locator('[data-error-for="vpa"]')).to_have_text("Enter a valid UPI ID, like name@bank")
    page.click('[data-test-id="method-card"]')
    card = page.locator('[data-test-id="card-form"]')
    expect(page.locator('[data-test-id="pay-button"]')).to_have_count(1)  # the visible form's only
    card.locator('[data-test-id="card-number-input"]').fill("4111111111111112")
    card.locator('[data-test-id="expiry-input"]').fill("01/20")
    card.locator('[data-test-id="pay-button"]').click()
    expect(card.locator('[data-error-for="card.number"]')).to_have_text("Enter a valid card number")
    expect(card.locator('[data-error-for="card.expiry"]')).to_have_text("This card has expired")
    expect(card.locator('[data-error-for="card.cvv"]')).to_have_text("Enter the 3 or 4 digit CVV")
    expect(page.locator('[data-test-id="processing-state"]')).to_be_hidden()
    # Phone-sized: nothing overflows sideways and the pay button is fully on screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = card.locator('[data-test-id="pay-button"]').bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375
