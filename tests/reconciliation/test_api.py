"""GET /api/v1/reconciliation/*: merchant-scoped runs, counts and discrepancies."""

from __future__ import annotations

import pytest

from reconciliation.models import Discrepancy
from reconciliation.services.runs import reconciliation_run
from tests.reconciliation.helpers import PERIOD_END, PERIOD_START, line_for, payment_make, settlement_csv


@pytest.fixture
def run(alice, bob):
    a_success = payment_make(alice.merchant, status="success")
    a_missing = payment_make(alice.merchant, status="success")  # absent: scenario 3
    b_pending = payment_make(bob.merchant, status="pending")
    lines = [
        line_for(a_success),
        line_for(b_pending, amount=1),
        {**line_for(a_success), "payment_id": "", "provider_reference": "sim_stray"},
    ]
    outcome = reconciliation_run(
        provider="simulator", period_start=PERIOD_START, period_end=PERIOD_END, content=settlement_csv(lines)
    )
    return outcome.run, a_missing, b_pending


@pytest.mark.django_db
def test_run_list_shows_only_own_counts(run, alice, bob):
    recon, _a_missing, _b = run
    body = alice.client.get("/api/v1/reconciliation/runs").json()
    assert body["total"] == 1 and body["limit"] == 20 and body["offset"] == 0
    (item,) = body["data"]
    assert item["id"] == recon.id and item["status"] == "completed"
    assert item["counts"] == {"matched": 1, "ours_success_provider_not": 1}
    assert item["period_start"] == "2026-01-10T00:00:00.000Z"
    bob_item = bob.client.get("/api/v1/reconciliation/runs").json()["data"][0]
    assert bob_item["counts"] == {"amount_mismatch": 1}


@pytest.mark.django_db
def test_run_detail_lists_own_discrepancies(run, alice, bob):
    recon, a_missing, b_pending = run
    body = alice.client.get(f"/api/v1/reconciliation/runs/{recon.id}").json()
    assert body["discrepancies_total"] == 1
    (disc,) = body["discrepancies"]
    assert disc["class"] == "ours_success_provider_not"
    assert disc["payment_id"] == a_missing.id
    assert disc["ours"] == {"status": "success", "amount": 50000, "currency": "INR"}
    assert disc["provider_says"] == {"status": None, "amount": None, "currency": None}
    assert disc["proposed_action"] == "mark_failed" and disc["status"] == "open"
    bob_body = bob.client.get(f"/api/v1/reconciliation/runs/{recon.id}").json()
    assert [d["payment_id"] for d in bob_body["discrepancies"]] == [b_pending.id]
    assert bob_body["discrepancies"][0]["provider_says"]["amount"] == 1


@pytest.mark.django_db
def test_other_merchants_runs_and_discrepancies_are_404(run, alice, bob):
    _recon, a_missing, _b = run
    alice_disc = Discrepancy.objects.get(payment=a_missing)
    response = bob.client.get(f"/api/v1/reconciliation/discrepancies/{alice_disc.id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"
    assert alice.client.get(f"/api/v1/reconciliation/discrepancies/{alice_disc.id}").json()["id"] == alice_disc.id
    # The stray line belongs to no one: nobody sees it.
    stray = Discrepancy.objects.get(klass="unknown_to_us")
    assert alice.client.get(f"/api/v1/reconciliation/discrepancies/{stray.id}").status_code == 404
    assert bob.client.get("/api/v1/reconciliation/runs/recon_doesnotexist0000").status_code == 404


@pytest.mark.django_db
def test_a_run_without_your_payments_is_404(alice, bob):
    a = payment_make(alice.merchant, status="success")
    outcome = reconciliation_run(
        provider="simulator", period_start=PERIOD_START, period_end=PERIOD_END, content=settlement_csv([line_for(a)])
    )
    assert bob.client.get("/api/v1/reconciliation/runs").json() == {"data": [], "total": 0, "limit": 20, "offset": 0}
    response = bob.client.get(f"/api/v1/reconciliation/runs/{outcome.run.id}")
    assert response.status_code == 404
    assert alice.client.get(f"/api/v1/reconciliation/runs/{outcome.run.id}").status_code == 200


@pytest.mark.django_db
def test_discrepancy_list_filters(run, alice):
    recon, _a_missing, _b = run
    url = "/api/v1/reconciliation/discrepancies"
    assert alice.client.get(url, {"run_id": recon.id}).json()["total"] == 1
    assert alice.client.get(url, {"class": "ours_success_provider_not", "status": "open"}).json()["total"] == 1
    assert alice.client.get(url, {"class": "matched"}).json()["total"] == 0
    bad = alice.client.get(url, {"class": "nonsense"})
    assert bad.status_code == 400
    assert (bad.json()["error"]["field"], bad.json()["error"]["reason"]) == ("class", "invalid_query")
    bad = alice.client.get(url, {"status": "nonsense"})
    assert (bad.status_code, bad.json()["error"]["field"], bad.json()["error"]["reason"]) == (
        400,
        "status",
        "invalid_query",
    )
    assert alice.client.get(url, {"limit": "x"}).status_code == 400


@pytest.mark.django_db
def test_requires_authentication(anon):
    response = anon.get("/api/v1/reconciliation/runs")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTHENTICATION_ERROR"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/reconciliation/runs", "/api/v1/reconciliation/discrepancies"])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"offset": str(10**20)}, "offset"),
        ({"offset": "-1"}, "offset"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
    ],
)
def test_out_of_range_page_parameters_are_400_in_the_envelope(alice, path, params, field):
    response = alice.client.get(path, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"], error["reason"]) == ("BAD_REQUEST_ERROR", field, "invalid_query")
