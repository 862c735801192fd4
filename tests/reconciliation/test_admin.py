"""The admin console: upload form and the review queue's actions, all through services."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from payments.models import Event, TimelineEntry
from reconciliation.models import Action, Discrepancy, Run, SettlementFile
from reconciliation.services.runs import reconciliation_run
from tests.reconciliation.helpers import PERIOD_END, PERIOD_START, line_for, payment_make, settlement_csv
from tests.support.admin_urls import admin_change_url

QUEUE = "/admin/reconciliation/discrepancy/"


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(user)
    return client


def _upload(staff, data: bytes, **extra):
    return staff.post(
        "/admin/reconciliation/settlementfile/add/",
        {
            "provider": "simulator",
            "period_start": "2026-01-10 00:00",
            "period_end": "2026-01-11 00:00",
            "file": SimpleUploadedFile("upload.csv", data, content_type="text/csv"),
            **extra,
        },
    )


@pytest.mark.django_db
def test_the_upload_redirect_reaches_a_run_whose_id_reads_as_an_admin_escape(staff, alice, monkeypatch):
    # "_3A" is how the admin escapes ":" in a key: the redirect must quote the id.
    monkeypatch.setattr(Run._meta.get_field("id"), "_get_default", lambda: "recon_3AcdEFghIJklMNop")
    payment = payment_make(alice.merchant, status="pending")
    response = _upload(staff, settlement_csv([line_for(payment)]))
    assert Run.objects.get().id == "recon_3AcdEFghIJklMNop"
    page = staff.get(response["Location"])
    assert page.status_code == 200 and "recon_3AcdEFghIJklMNop" in page.content.decode()


@pytest.mark.django_db
def test_upload_form_imports_and_redirects_to_the_run(staff, alice):
    pending = payment_make(alice.merchant, status="pending")
    assert staff.get("/admin/reconciliation/settlementfile/add/").status_code == 200
    response = _upload(staff, settlement_csv([line_for(pending)]))
    run = Run.objects.get()
    assert response.status_code == 302
    assert response["Location"] == admin_change_url(Run, run.id)
    assert SettlementFile.objects.get().source == "admin"
    pending.refresh_from_db()
    assert pending.status == "success"
    assert staff.get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_upload_form_shows_why_a_file_is_rejected(staff):
    response = _upload(staff, b"not,a,settlement\n")
    assert response.status_code == 200
    assert b"Rejected, nothing changed: wrong columns" in response.content
    assert SettlementFile.objects.count() == 0


def _queue(alice):
    """A scenario-3 discrepancy (flagged by the default policy) and an unknown line."""
    missing = payment_make(alice.merchant, status="success")
    other = payment_make(alice.merchant, status="success")
    stray = {**line_for(other), "payment_id": "", "provider_reference": "sim_stray"}
    reconciliation_run(
        provider="simulator",
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        content=settlement_csv([line_for(other), stray]),
    )
    return missing, Discrepancy.objects.get(payment=missing), Discrepancy.objects.get(klass="unknown_to_us")


@pytest.mark.django_db
def test_review_queue_lists_and_filters(staff, alice):
    _missing, flagged, stray = _queue(alice)
    page = staff.get(QUEUE, {"status__exact": "open", "klass__exact": "ours_success_provider_not", "age": "1h"})
    assert page.status_code == 200
    assert flagged.id.encode() in page.content and stray.id.encode() not in page.content
    by_merchant = staff.get(QUEUE, {"merchant__id__exact": str(alice.merchant.id)})
    assert flagged.id.encode() in by_merchant.content and stray.id.encode() not in by_merchant.content
    assert flagged.id.encode() not in staff.get(QUEUE, {"age": "older"}).content
    assert staff.get(admin_change_url(Discrepancy, flagged.id)).status_code == 200


@pytest.mark.django_db
def test_approve_proposed_marks_failed_through_the_state_machine(staff, alice):
    missing, flagged, _stray = _queue(alice)
    response = staff.post(QUEUE, {"action": "approve_proposed", ACTION_CHECKBOX_NAME: [flagged.id]})
    assert response.status_code == 302
    missing.refresh_from_db()
    assert missing.status == "failed"
    entry = TimelineEntry.objects.filter(payment=missing).latest("version")
    assert (entry.from_status, entry.to_status, entry.source) == ("success", "failed", "admin")
    assert Event.objects.filter(object_id=missing.id, type="payment.failed").count() == 1
    flagged.refresh_from_db()
    assert flagged.status == "resolved" and flagged.resolved_by == "ops"
    action = Action.objects.get(discrepancy=flagged)
    assert (action.kind, action.status, action.actor, action.user.username) == (
        "mark_failed",
        "applied",
        "staff",
        "ops",
    )


@pytest.mark.django_db
def test_dismiss_needs_a_note_and_records_it(staff, alice):
    _missing, _flagged, stray = _queue(alice)
    form = staff.post(QUEUE, {"action": "dismiss", ACTION_CHECKBOX_NAME: [stray.id]})
    assert form.status_code == 200 and b"why nothing needs to be done" in form.content
    staff.post(QUEUE, {"action": "dismiss", ACTION_CHECKBOX_NAME: [stray.id], "apply": "1", "note": ""})
    stray.refresh_from_db()
    assert stray.status == "open"
    staff.post(QUEUE, {"action": "dismiss", ACTION_CHECKBOX_NAME: [stray.id], "apply": "1", "note": "test line"})
    stray.refresh_from_db()
    assert (stray.status, stray.note, stray.resolved_by) == ("dismissed", "test line", "ops")


@pytest.mark.django_db
def test_choose_another_action_applies_or_refuses_what_does_not_fit(staff, alice):
    missing, flagged, stray = _queue(alice)
    refused = staff.post(
        QUEUE,
        {"action": "choose_action", ACTION_CHECKBOX_NAME: [flagged.id, stray.id], "apply": "1", "resolution": "accept"},
        follow=True,
    )
    assert refused.status_code == 200
    assert b"accept does not apply to a ours_success_provider_not discrepancy" in refused.content
    assert b"accept does not apply to a unknown_to_us discrepancy" in refused.content
    missing.refresh_from_db()
    flagged.refresh_from_db()
    stray.refresh_from_db()
    assert missing.status == "success" and flagged.status == "open" and stray.status == "open"


@pytest.mark.django_db
def test_choose_refund_for_an_amount_mismatch(staff, alice):
    changed = payment_make(alice.merchant, status="pending", amount=10000)
    reconciliation_run(
        provider="simulator",
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        content=settlement_csv([line_for(changed, amount=9000)]),
    )
    mismatch = Discrepancy.objects.get(payment=changed)
    assert mismatch.klass == "amount_mismatch"
    staff.post(
        QUEUE,
        {"action": "choose_action", ACTION_CHECKBOX_NAME: [mismatch.id], "apply": "1", "resolution": "refund"},
    )
    changed.refresh_from_db()
    assert changed.status == "success"
    (refund,) = changed.refunds.all()
    assert refund.amount == 10000
    assert sorted(Action.objects.filter(discrepancy=mismatch).values_list("kind", "status")) == [
        ("accept", "applied"),
        ("refund", "applied"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/admin/reconciliation/run/",
        "/admin/reconciliation/settlementfile/",
        "/admin/reconciliation/reconciliationpolicy/",
        "/admin/reconciliation/reconciliationpolicy/add/",
        "/admin/reconciliation/action/",
        "/admin/reconciliation/discrepancy/",
    ],
)
def test_console_pages_render(staff, alice, path):
    _queue(alice)
    assert staff.get(path).status_code == 200


@pytest.mark.django_db
def test_policy_is_edited_in_the_admin(staff, alice):
    response = staff.post(
        "/admin/reconciliation/reconciliationpolicy/add/",
        {
            "merchant": str(alice.merchant.id),
            "provider_settled_ours_not": "refund",
            "ours_success_provider_not": "confirm_and_fail",
        },
    )
    assert response.status_code == 302
    policy = alice.merchant.reconciliation_policy
    assert (policy.provider_settled_ours_not, policy.ours_success_provider_not) == ("refund", "confirm_and_fail")
