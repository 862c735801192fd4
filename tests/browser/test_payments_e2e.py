"""Full payments in chromium through the SDK modal and the hosted checkout: real daphne,
real Celery worker, the simulator settling test cards/VPAs; websocket and polling paths."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from payments.models import Order, Payment
from payments.services.transitions import payment_record_event
from tests.realtime.helpers import settle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live, pytest.mark.worker]


def order_for(tenant, amount: int = 50000) -> Order:
    response = tenant.client.post("/api/v1/orders", {"amount": amount, "currency": "INR"}, format="json")
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["id"])


def make_payment_for_order(order: Order) -> Payment:
    payment = Payment.objects.create(
        merchant=order.merchant, order=order, amount=order.amount, currency=order.currency, method="upi", vpa="a@upi"
    )
    payment_record_event(payment=payment, event_type="payment.created", from_status=None, detail="", source="api")
    return payment


def ready(frame_or_page) -> None:
    """The checkout script has attached its handlers (clicks before that would be lost)."""
    expect(frame_or_page.locator("body")).to_have_attribute("data-ready", "true")


def pay_by_card(frame, number: str) -> None:
    ready(frame)
    frame.locator('[data-test-id="method-card"]').click()
    form = frame.locator('[data-test-id="card-form"]')
    form.locator('[data-test-id="card-number-input"]').fill(number)
    form.locator('[data-test-id="expiry-input"]').fill("12/39")
    form.locator('[data-test-id="cvv-input"]').fill("123")
    form.locator('[data-test-id="cardholder-name-input"]').fill("Asha Rao")
    form.locator('[data-test-id="pay-button"]').click()


def test_card_payment_through_sdk_modal_fires_success_callback(live, shop, page: Page, alice):
    order = order_for(alice)
    shop.open(page, gateway=live, key=alice.key_id, order_id=order.id)
    page.click("#buy")
    frame = page.frame_locator('[data-test-id="payment-iframe"]')
    pay_by_card(frame, "4111 1111 1111 1111")
    expect(frame.locator('[data-test-id="processing-message"]')).to_be_visible()
    expect(frame.locator('[data-test-id="success-message"]')).to_be_visible()
    payment = Payment.objects.get(order=order)
    assert payment.status == "success" and payment.card_last4 == "1111" and payment.card_network == "visa"
    expect(frame.locator('[data-test-id="payment-id"]')).to_have_text(payment.id)
    expect(page.locator("#result")).to_have_text(f"success:{payment.id}")
    events = page.evaluate("window.events")
    assert events[0]["data"]["orderId"] == order.id and events[0]["data"]["status"] == "success"


def test_upi_payment_through_sdk_modal_fires_success_callback(live, shop, page: Page, alice):
    order = order_for(alice, amount=1999)
    shop.open(page, gateway=live, key=alice.key_id, order_id=order.id)
    page.click("#buy")
    frame = page.frame_locator('[data-test-id="payment-iframe"]')
    expect(frame.locator('[data-test-id="order-amount"]')).to_have_text("₹19.99")
    ready(frame)
    frame.locator('[data-test-id="method-upi"]').click()
    frame.locator('[data-test-id="vpa-input"]').fill("success@upi")
    frame.locator('[data-test-id="upi-form"] [data-test-id="pay-button"]').click()
    expect(frame.locator('[data-test-id="success-state"]')).to_be_visible()
    payment = Payment.objects.get(order=order)
    assert payment.method == "upi" and payment.vpa == "success@upi" and payment.status == "success"
    expect(page.locator("#result")).to_have_text(f"success:{payment.id}")


def test_declined_card_shows_error_state_then_retry_succeeds(live, shop, page: Page, alice):
    order = order_for(alice)
    shop.open(page, gateway=live, key=alice.key_id, order_id=order.id)
    page.click("#buy")
    frame = page.frame_locator('[data-test-id="payment-iframe"]')
    pay_by_card(frame, "4000000000000002")
    expect(frame.locator('[data-test-id="error-state"]')).to_be_visible()
    declined = Payment.objects.get(order=order)
    assert declined.status == "failed"
    expect(frame.locator('[data-test-id="error-message"]')).to_have_text(declined.error_description)
    expect(page.locator("#result")).to_have_text(f"failure:{declined.id}")
    frame.locator('[data-test-id="retry-button"]').click()
    expect(frame.locator('[data-test-id="payment-methods"]')).to_be_visible()
    pay_by_card(frame, "4111111111111111")
    expect(frame.locator('[data-test-id="success-state"]')).to_be_visible()
    paid = Payment.objects.get(order=order, status="success")
    expect(page.locator("#result")).to_have_text(f"success:{paid.id}")


def test_checkout_finishes_by_polling_with_the_websocket_blocked(live, page: Page, alice):
    blocked: list[str] = []

    def refuse(ws) -> None:  # never connects to daphne: the page's socket stays silent
        blocked.append(ws.url)

    page.route_web_socket("**/ws/**", refuse)
    order = order_for(alice)
    page.goto(f"{live}/checkout?order_id={order.id}")
    ready(page)
    page.locator('[data-test-id="method-upi"]').click()
    page.locator('[data-test-id="vpa-input"]').fill("success@upi")
    page.locator('[data-test-id="upi-form"] [data-test-id="pay-button"]').click()
    expect(page.locator('[data-test-id="success-state"]')).to_be_visible()
    payment = Payment.objects.get(order=order)
    assert blocked == [f"{live.replace('http', 'ws')}/ws/payments/{payment.id}"]
    expect(page.locator('[data-test-id="payment-id"]')).to_have_text(payment.id)


def test_failed_upi_shows_the_error_state_with_the_reason(live, page: Page, alice):
    order = order_for(alice)
    page.goto(f"{live}/checkout?order_id={order.id}")
    ready(page)
    page.locator('[data-test-id="method-upi"]').click()
    page.locator('[data-test-id="vpa-input"]').fill("failure@upi")
    page.locator('[data-test-id="upi-form"] [data-test-id="pay-button"]').click()
    expect(page.locator('[data-test-id="error-state"]')).to_be_visible()
    payment = Payment.objects.get(order=order)
    assert payment.status == "failed"
    expect(page.locator('[data-test-id="error-message"]')).to_have_text(payment.error_description)


def test_api_error_is_shown_inline_in_the_form(live, page: Page, alice):
    order = order_for(alice)
    page.goto(f"{live}/checkout?order_id={order.id}")
    ready(page)
    # Meanwhile the order gets paid elsewhere: the API refuses, the page says why, inline.
    settle(make_payment_for_order(order), "success")
    page.locator('[data-test-id="method-upi"]').click()
    page.locator('[data-test-id="vpa-input"]').fill("success@upi")
    page.locator('[data-test-id="upi-form"] [data-test-id="pay-button"]').click()
    expect(page.locator('[data-test-id="upi-form"] .form-error')).to_have_text("Order is already paid")
    expect(page.locator('[data-test-id="processing-state"]')).to_be_hidden()
    assert Payment.objects.filter(order=order).count() == 1
