"""The dashboard's CSV batch upload in chromium against a real daphne and worker: every
row is checked in the page and its error shown before anything is sent, a card column
stops the file, the valid rows go as one batch, the server's own rejections are listed,
and the progress follows the payments live until the batch is completed."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from payments.models import Payment, PaymentBatch
from realtime.models import DashboardAudit
from tests.browser.test_dashboard_e2e import login, owner  # noqa: F401 - fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live, pytest.mark.worker]

CSV = (
    "reference,amount,currency,vpa,payment_method_id,order_id,customer_id\r\n"
    "pay-1,50000,INR,success@upi,,,\r\n"
    "pay-2,12.5,INR,success@upi,,,\r\n"  # not whole minor units
    '"pay-3",20000,INR,"failure@upi",,,\r\n'
    "pay-4,30000,INR,not-a-vpa,,,\r\n"
    "pay-1,10000,INR,success@upi,,,\r\n"  # repeats row 2
    "pay-5,40000,INR,success@upi,,,\r\n"
)


def upload(page: Page, name: str, content: str) -> None:
    page.locator('[data-test-id="batch-file-input"]').set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content.encode()}
    )


def test_csv_upload_shows_row_errors_then_follows_the_batch_live(live, page: Page, owner):  # noqa: F811
    login(page, live, "/dashboard/batches")
    expect(page.locator("body")).to_have_attribute("data-batches-ready", "true")

    upload(page, "cards.csv", "reference,amount,card_number\r\nx,100,4111111111111111\r\n")
    expect(page.locator('[data-test-id="batch-summary"]')).to_contain_text("card numbers are never accepted")
    expect(page.locator('[data-test-id="batch-submit"]')).to_be_disabled()

    upload(page, "payouts.csv", CSV)
    expect(page.locator('[data-test-id="batch-summary"]')).to_have_text("3 valid rows, 3 with errors.")
    errors = page.locator('[data-test-id="batch-row-error"]')
    expect(errors).to_have_count(6)
    expect(errors.nth(1)).to_contain_text("whole minor units")
    expect(errors.nth(3)).to_contain_text("vpa: name@bank")
    expect(errors.nth(4)).to_contain_text("repeats row 2")
    assert PaymentBatch.objects.count() == 0  # nothing sent yet

    page.locator('[data-test-id="batch-reference-input"]').fill("december-payouts")
    page.locator('[data-test-id="batch-submit"]').click()
    expect(page.locator('[data-test-id="batch-progress"]')).to_be_visible()
    expect(page.locator('[data-test-id="batch-status"]')).to_have_text("completed", timeout=30_000)
    expect(page.locator('[data-test-id="batch-success"]')).to_have_text("2")
    expect(page.locator('[data-test-id="batch-failed"]')).to_have_text("1")
    expect(page.locator('[data-test-id="batch-pending"]')).to_have_text("0")

    batch = PaymentBatch.objects.get()
    assert (batch.reference, batch.total, batch.accepted, batch.status) == ("december-payouts", 3, 3, "completed")
    assert dict(Payment.objects.filter(batch=batch).values_list("reference", "status")) == {
        "pay-1": "success",
        "pay-3": "failed",
        "pay-5": "success",
    }
    assert DashboardAudit.objects.filter(action="batch.create", object_id=batch.id).exists()
    expect(page.locator('[data-test-id="batch-id"]')).to_have_text(batch.id)
