"""A customer who pays one order twice, in two chromium tabs of the hosted checkout (UPI in
one, card in the other), with a real daphne and a real Celery worker: the provider charges
both, one tab ends in success, the other says the order was already paid and this charge is
being refunded — and it is (a processed ``duplicate_payment`` refund)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from payments.models import Order, Payment, Refund
from tests.browser.conftest import WORKER_ENV
from tests.support.processes import celery_worker, daphne_server, free_port, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live, pytest.mark.worker]


@pytest.fixture
def live() -> Iterator[str]:
    """As the suite's ``live``, with the simulator deciding after 2 s: both tabs' payments
    exist before the first one is charged (a click in each tab takes well under that). Per
    test, so the processes are gone before the test database is flushed (a worker still
    dispatching the last events would hold locks the flush's TRUNCATE needs)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**WORKER_ENV, "TEST_PROCESSING_DELAY": "2000", "SIMULATOR_CALLBACK_BASE_URL": base, "PUBLIC_BASE_URL": base}
    with daphne_server(port=port, env=env), celery_worker(env=env):
        yield base


def _ready(page: Page) -> None:
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def test_paying_one_order_in_two_tabs_refunds_the_second_charge(live, browser: Browser, alice):
    order = alice.client.post("/api/v1/orders", {"amount": 50000, "currency": "INR"}, format="json").json()
    context = browser.new_context()
    try:
        upi_tab, card_tab = context.new_page(), context.new_page()
        for tab in (upi_tab, card_tab):
            tab.goto(f"{live}/checkout?order_id={order['id']}")
            _ready(tab)
        upi_tab.locator('[data-test-id="method-upi"]').click()
        upi_tab.locator('[data-test-id="vpa-input"]').fill("success@upi")
        card_tab.locator('[data-test-id="method-card"]').click()
        form = card_tab.locator('[data-test-id="card-form"]')
        form.locator('[data-test-id="card-number-input"]').fill("4111 1111 1111 1111")
        form.locator('[data-test-id="expiry-input"]').fill("12/39")
        form.locator('[data-test-id="cvv-input"]').fill("123")
        form.locator('[data-test-id="cardholder-name-input"]').fill("Asha Rao")

        upi_tab.locator('[data-test-id="upi-form"] [data-test-id="pay-button"]').click()
        form.locator('[data-test-id="pay-button"]').click()
        for tab in (upi_tab, card_tab):
            expect(tab.locator('[data-test-id="processing-state"]')).to_be_visible()
        assert Payment.objects.filter(order_id=order["id"]).count() == 2  # both reached the provider

        # Whichever charge the provider reports first keeps the money.
        payments = Payment.objects.filter(order_id=order["id"])
        wait_for(
            lambda: sorted(payments.values_list("status", flat=True)) == ["duplicate", "success"],
            timeout=30,
            message="both charges recorded",
        )
        keeper = payments.get(status="success")
        duplicate = payments.get(status="duplicate")
        tabs = {"upi": upi_tab, "card": card_tab}
        expect(tabs[keeper.method].locator('[data-test-id="success-state"]')).to_be_visible()
        expect(tabs[duplicate.method].locator('[data-test-id="error-state"]')).to_be_visible()
        expect(tabs[duplicate.method].locator('[data-test-id="error-message"]')).to_have_text(
            "This order was already paid with another payment. "
            "This charge is being refunded to you in full automatically."
        )
    finally:
        context.close()

    assert {keeper.method, duplicate.method} == {"upi", "card"}
    assert Order.objects.get(pk=order["id"]).status == "paid"
    wait_for(
        lambda: Refund.objects.filter(payment=duplicate, status="processed", reason="duplicate_payment").exists(),
        timeout=30,
        message="the duplicate charge refunded",
    )
