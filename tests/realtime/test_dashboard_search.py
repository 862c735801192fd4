"""Dashboard search (id, e-mail, VPA, last four, amount and date range, status, method)
with keyset pages, and the streamed CSV export of every matching row in the merchant's
timezone. Django test client against PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from payments.models import Customer, Payment, Refund
from realtime.models import DashboardSettings, MerchantUser
from realtime.services import merchant_user_link
from tests.realtime.helpers import bulk_payments

pytestmark = pytest.mark.django_db


def session(tenant, email: str = "owner@alice.example", role: str = "owner") -> Client:
    user = merchant_user_link(merchant=tenant.merchant, email=email)
    MerchantUser.objects.filter(user=user).update(role=role)
    client = Client()
    client.force_login(user)
    return client


def found(client: Client, **query) -> list[str]:
    response = client.get("/dashboard/transactions", query)
    assert response.status_code == 200, response.content
    html = response.content.decode()
    assert 'data-test-id="search-results"' in html
    return sorted(part.split('"')[0] for part in html.split('data-payment-id="')[1:])


@pytest.fixture
def shop(alice, bob):
    """Five of alice's payments of different shapes (and one of bob's like them)."""
    base = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    upi, card, big, failed, late = bulk_payments(
        merchant=alice.merchant,
        created_at=[base, base + timedelta(hours=1), base + timedelta(hours=2), base + timedelta(hours=3),
                    datetime(2026, 11, 30, 20, 0, tzinfo=UTC)],  # 01:30 on Dec 1 in Kolkata
        statuses=["success", "success", "success", "failed", "success"],
    )  # fmt: skip
    customer = Customer.objects.create(merchant=alice.merchant, email="Asha@Example.com", name="Asha")
    Payment.objects.filter(pk=upi.pk).update(vpa="asha@okbank", customer=customer)
    Payment.objects.filter(pk=card.pk).update(method="card", vpa=None, card_network="visa", card_last4="4242")
    Payment.objects.filter(pk=big.pk).update(amount=2500000)
    refund = Refund.objects.create(merchant=alice.merchant, payment=big, amount=1000, status="processed")
    (theirs,) = bulk_payments(merchant=bob.merchant, created_at=[base])
    Payment.objects.filter(pk=theirs.pk).update(vpa="asha@okbank", card_last4="4242")
    return {"upi": upi, "card": card, "big": big, "failed": failed, "late": late, "refund": refund, "theirs": theirs}


def test_search_by_every_key_and_filter(alice, shop):
    client = session(alice)
    ids = {name: p.id for name, p in shop.items() if name != "refund"}
    assert found(client, q=ids["card"]) == [ids["card"]]
    assert found(client, q=shop["big"].order_id) == [ids["big"]]
    assert found(client, q=shop["refund"].id) == [ids["big"]]
    assert found(client, q="asha@example.COM") == [ids["upi"]]  # the customer's e-mail, any case
    assert found(client, q="ASHA@okbank") == [ids["upi"]]  # the VPA
    assert found(client, q="4242") == [ids["card"]]
    assert found(client, q=ids["theirs"]) == []  # another merchant's payment is not found
    assert found(client, q="asha") == []  # no partial matches
    assert found(client, amount_min="25000", amount_max="25000.00") == [ids["big"]]
    assert found(client, method="card") == [ids["card"]]
    Payment.objects.filter(pk=ids["big"]).update(mode="live")
    assert found(client, mode="live") == [ids["big"]]
    assert ids["big"] not in found(client, mode="test") and len(found(client, mode="test")) == 4
    assert client.get("/dashboard/transactions", {"mode": "prod"}).status_code == 400
    assert len(found(client, q="", mode="all", method="all", status="all", amount_min="1")) == 5  # as the form sends
    Payment.objects.filter(pk=ids["big"]).update(mode="test")
    assert found(client, method="upi", status="failed", amount_min="1") == [ids["failed"]]
    # Dates are calendar days in the merchant's timezone (Asia/Kolkata by default).
    assert found(client, date_from="2026-12-01") == [ids["late"]]
    assert found(client, date_to="2026-11-30") == sorted(ids[n] for n in ("upi", "card", "big", "failed"))
    DashboardSettings.objects.create(merchant=alice.merchant, timezone="UTC")
    assert found(client, date_from="2026-12-01") == []
    assert found(client, date_from="2026-11-30", date_to="2026-11-30") == sorted(
        ids[n] for n in ("upi", "card", "big", "failed", "late")
    )


def test_status_only_is_the_live_table_and_bad_values_are_explained(alice, shop):
    client = session(alice)
    live = client.get("/dashboard/transactions", {"status": "failed"}).content.decode()
    assert 'id="transactions-table"' in live and 'data-test-id="search-results"' not in live
    for query, message in (
        ({"amount_min": "ten"}, "Enter an amount like 12.55"),
        ({"date_from": "2026-13-01"}, "date_from must be a date like 2026-12-01"),
        ({"date_to": "yesterday"}, "date_to must be a date like"),
        ({"method": "cash"}, "is not a valid choice"),
        ({"q": "x", "before": "not-a-cursor"}, "before is not a valid cursor"),
    ):
        response = client.get("/dashboard/transactions", query)
        assert response.status_code == 400, query
        assert message in response.content.decode(), query


def test_search_results_page_by_keyset(alice):
    stamps = [datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=i) for i in range(150)]
    payments = bulk_payments(merchant=alice.merchant, created_at=stamps)
    client = session(alice)
    first = client.get("/dashboard/transactions", {"method": "upi"}).content.decode()
    assert first.count('data-test-id="transaction-row"') == 100
    older = first.split('data-test-id="search-older"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = client.get("/dashboard/transactions" + older.replace("&amp;", "&")).content.decode()
    assert second.count('data-test-id="transaction-row"') == 50 and 'data-test-id="search-older"' not in second
    shown = [part.split('"')[0] for part in (first + second).split('data-payment-id="')[1:]]
    assert shown == [p.id for p in reversed(payments)]


def export(client: Client, **query) -> tuple[object, list[dict]]:
    response = client.get("/dashboard/transactions.csv", query)
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content).decode()
    return response, list(csv.DictReader(io.StringIO(body)))


def test_csv_export_streams_every_matching_row_in_the_merchants_timezone(alice, bob, shop):
    viewer = session(alice, "viewer@alice.example", "viewer")  # read-only roles may export
    stamps = [datetime(2026, 10, 1, tzinfo=UTC) + timedelta(seconds=i) for i in range(2500)]
    bulk_payments(merchant=alice.merchant, created_at=stamps, statuses=["failed"] * 2500)
    response, rows = export(viewer)
    assert response.streaming and response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith('attachment; filename="transactions-')
    assert response["Cache-Control"] == "no-store"
    assert len(rows) == 2505 and shop["theirs"].id not in {r["payment_id"] for r in rows}
    by_id = {r["payment_id"]: r for r in rows}
    assert {r["mode"] for r in rows} == {"test"}
    late = by_id[shop["late"].id]
    assert late["created_at"] == "2026-12-01T01:30:00+05:30"
    big = by_id[shop["big"].id]
    assert (big["amount"], big["amount_minor"], big["currency"], big["refunded_minor"]) == (
        "25000.00",
        "2500000",
        "INR",
        "1000",
    )
    assert (
        by_id[shop["card"].id]["card_last4"] == "4242" and by_id[shop["upi"].id]["customer_email"] == "Asha@Example.com"
    )
    assert [r["payment_id"] for r in rows[:1]] == [shop["late"].id]  # newest first
    _, failed = export(viewer, status="failed", date_to="2026-10-31")
    assert len(failed) == 2500 and {r["status"] for r in failed} == {"failed"}
    bad = viewer.get("/dashboard/transactions.csv", {"amount_max": "-1"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "amount_max"
    assert session(bob, "owner@bob.example").get("/dashboard/transactions.csv").status_code == 200
    _, theirs = export(session(bob, "other@bob.example"))
    assert [r["payment_id"] for r in theirs] == [shop["theirs"].id]


def test_csv_cells_that_look_like_formulas_are_defused(alice, shop):
    Customer.objects.filter(merchant=alice.merchant).update(email="=cmd@example.com")
    _, rows = export(session(alice))
    assert {r["customer_email"] for r in rows if r["customer_email"]} == {"'=cmd@example.com"}


def test_only_the_owner_sets_the_timezone(alice):
    owner, viewer = session(alice), session(alice, "viewer@alice.example", "viewer")
    owner.get("/dashboard/team")
    assert viewer.post("/dashboard/settings/timezone", {"timezone": "UTC"}).status_code == 403
    bad = owner.post("/dashboard/settings/timezone", {"timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and "Choose a timezone like Asia/Kolkata" in bad.content.decode()
    assert not DashboardSettings.objects.exists()
    assert owner.post("/dashboard/settings/timezone", {"timezone": "Europe/Berlin"}).status_code == 302
    assert DashboardSettings.objects.get(merchant=alice.merchant).timezone == "Europe/Berlin"
    assert "Times in Europe/Berlin" in owner.get("/dashboard/transactions", {"q": "4242"}).content.decode()
