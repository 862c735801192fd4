"""Dashboard transactions paging ("Load older", keyset on (created_at, id)), the status
filter and the live-stats endpoint: selector and views against real PostgreSQL."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test import Client

from payments.models import Payment
from realtime.selectors import PAYMENT_PAGE_SIZE, payment_cursor_encode, payment_page_for_merchant
from realtime.services import merchant_user_link
from tests.realtime.helpers import bulk_payments, logged_in

BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
EMAIL, PASSWORD = "owner@alice.example", "alice-pass-123"


@pytest.fixture
def alice_user(alice):
    merchant_user_link(merchant=alice.merchant, email=EMAIL, password=PASSWORD)
    return alice


@pytest.fixture
def bob_user(bob):
    merchant_user_link(merchant=bob.merchant, email="owner@bob.example", password="bob-pass-123")
    return bob


def spaced(count: int, *, start: datetime = BASE, step: timedelta = timedelta(seconds=1)) -> list[datetime]:
    # Microsecond offsets on purpose: the cursor must keep them (snapshots show milliseconds).
    return [start + i * step + timedelta(microseconds=7 * i + 3) for i in range(count)]


def newest_first(payments: list[Payment]) -> list[str]:
    return [p.id for p in sorted(payments, key=lambda p: (p.created_at, p.id), reverse=True)]


def all_pages(merchant, status: str | None = None) -> list[list[str]]:
    """Every page from the newest to the oldest, following next_cursor."""
    pages, before = [], None
    while True:
        page = payment_page_for_merchant(merchant=merchant, status=status, before=before)
        pages.append([row["id"] for row in page.rows])
        if page.next_cursor is None:
            return pages
        before = page.next_cursor


def test_page_size_is_100():
    assert PAYMENT_PAGE_SIZE == 100


@pytest.mark.parametrize(("count", "sizes"), [(0, [0]), (1, [1]), (100, [100]), (101, [100, 1]), (250, [100, 100, 50])])
def test_pages_cover_every_payment_once_in_order(alice, count, sizes):
    payments = bulk_payments(merchant=alice.merchant, created_at=spaced(count))
    pages = all_pages(alice.merchant)
    assert [len(page) for page in pages] == sizes
    assert [pid for page in pages for pid in page] == newest_first(payments)


def test_exactly_100_has_no_older_page_and_101_has_one_row_older(alice, bob):
    hundred = bulk_payments(merchant=alice.merchant, created_at=spaced(100))
    page = payment_page_for_merchant(merchant=alice.merchant)
    assert len(page.rows) == 100 and page.next_cursor is None
    assert page.as_json()["has_more"] is False

    oldest = bulk_payments(merchant=alice.merchant, created_at=[BASE - timedelta(days=1)])[0]
    first = payment_page_for_merchant(merchant=alice.merchant)
    assert [row["id"] for row in first.rows] == newest_first(hundred)
    assert first.as_json()["has_more"] is True
    older = payment_page_for_merchant(merchant=alice.merchant, before=first.next_cursor)
    assert [row["id"] for row in older.rows] == [oldest.id] and older.next_cursor is None


def test_equal_created_at_is_ordered_by_id_across_page_boundaries(alice):
    # Three timestamps shared by 130, 90 and 30 payments: the page boundaries (100, 200)
    # fall inside tie groups. Digit-only ids sort the same under every collation.
    stamps = [BASE + timedelta(microseconds=500)] * 130 + [BASE] * 90 + [BASE - timedelta(microseconds=1)] * 30
    ids = [f"pay_{n:016d}" for n in random.Random(7).sample(range(10**6), len(stamps))]
    payments = bulk_payments(merchant=alice.merchant, created_at=stamps, ids=ids)
    pages = all_pages(alice.merchant)
    assert [len(page) for page in pages] == [100, 100, 50]
    assert [pid for page in pages for pid in page] == newest_first(payments)
    # Every timestamp of the second page renders the same milliseconds: only the cursor's
    # microseconds + id tell the ties apart.
    assert {p.created_at for p in payments if p.id in pages[1]} == {BASE + timedelta(microseconds=500), BASE}


def test_new_payments_do_not_shift_older_pages(alice):
    payments = bulk_payments(merchant=alice.merchant, created_at=spaced(150))
    first = payment_page_for_merchant(merchant=alice.merchant)
    bulk_payments(merchant=alice.merchant, created_at=spaced(30, start=BASE + timedelta(days=1)))
    older = payment_page_for_merchant(merchant=alice.merchant, before=first.next_cursor)
    assert [row["id"] for row in older.rows] == newest_first(payments)[100:]


def test_another_merchants_payments_never_appear_even_with_their_cursor(alice, bob):
    # Interleaved in time, so a merchant filter that leaked would show at once.
    stamps = spaced(300)
    mine = bulk_payments(merchant=alice.merchant, created_at=stamps[0::2])
    theirs = bulk_payments(merchant=bob.merchant, created_at=stamps[1::2])
    assert [pid for page in all_pages(alice.merchant) for pid in page] == newest_first(mine)
    assert [pid for page in all_pages(bob.merchant) for pid in page] == newest_first(theirs)
    # A cursor is only a position: bob's cursor in alice's hands lists alice's older rows.
    bobs_cursor = payment_page_for_merchant(merchant=bob.merchant).next_cursor
    position = sorted(theirs, key=lambda p: (p.created_at, p.id), reverse=True)[99]
    page = payment_page_for_merchant(merchant=alice.merchant, before=bobs_cursor)
    expected = [
        p.id for p in sorted(mine, key=lambda p: p.created_at, reverse=True) if p.created_at < position.created_at
    ]
    assert [row["id"] for row in page.rows] == expected[:100]


def test_status_filter_applies_to_every_page(alice):
    statuses = ["failed", "success", "failed", "pending", "cancelled"] * 60  # 120 failed
    payments = bulk_payments(merchant=alice.merchant, created_at=spaced(300), statuses=statuses)
    for status, sizes in (("failed", [100, 20]), ("success", [60]), ("pending", [60]), ("cancelled", [60])):
        pages = all_pages(alice.merchant, status=status)
        assert [len(page) for page in pages] == sizes, status
        assert [pid for page in pages for pid in page] == newest_first([p for p in payments if p.status == status])
    assert [len(page) for page in all_pages(alice.merchant)] == [100, 100, 100]


def test_a_page_is_one_query_and_the_cursor_bound_is_an_index_condition(alice, bob, django_assert_num_queries):
    bulk_payments(merchant=alice.merchant, created_at=spaced(120))
    bulk_payments(merchant=bob.merchant, created_at=spaced(120))
    cursor = payment_page_for_merchant(merchant=alice.merchant).next_cursor
    with django_assert_num_queries(1) as captured:
        payment_page_for_merchant(merchant=alice.merchant, before=cursor)
    (query,) = captured.captured_queries
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("ANALYZE payments")
        cur.execute("SET LOCAL enable_seqscan = off")  # a table this small would be read whole otherwise
        cur.execute(f"EXPLAIN {query['sql']}")
        plan = "\n".join(row[0] for row in cur.fetchall())
    # The merchant and the cursor's time bound both narrow the index scan; the id tie-break
    # is only a filter (an index on (merchant, created_at, id) would make it exact).
    assert "payments_merchant_created" in plan, plan
    index_cond = next(line for line in plan.splitlines() if "Index Cond" in line)
    assert "merchant_id = " in index_cond and "created_at <= " in index_cond, plan


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_CURSORS = [
    "",
    "not a cursor!",
    "%%%",
    "A" * 201,
    cursor_of("2024-05-01T12:00:00+00:00"),  # no id
    cursor_of("2024-05-01T12:00:00+00:00|pay_AAAAAAAAAAAAAAAA|x"),
    cursor_of("yesterday|pay_AAAAAAAAAAAAAAAA"),
    cursor_of("2024-05-01T12:00:00|pay_AAAAAAAAAAAAAAAA"),  # naive time
    cursor_of("0001-01-01T00:00:00+14:00|pay_AAAAAAAAAAAAAAAA"),  # before datetime.min in UTC
    cursor_of("2024-05-01T12:00:00+00:00|order_AAAAAAAAAAAAAAAA"),
    cursor_of("2024-05-01T12:00:00+00:00|pay_AAAA'; --"),
    base64.urlsafe_b64encode(b"\xff\xfe|pay_AAAAAAAAAAAAAAAA").decode().rstrip("="),
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_a_malformed_cursor_is_a_400_in_the_envelope(alice_user, cursor):
    client = logged_in(EMAIL, PASSWORD)
    response = client.get("/dashboard/api/payments/older", {"before": cursor}, HTTP_X_CORRELATION_ID="corr-1")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "BAD_REQUEST_ERROR",
            "description": "before is not a valid cursor",
            "field": "before",
            "reason": "invalid_cursor",
            "correlation_id": "corr-1",
        }
    }


def test_missing_cursor_is_a_400(alice_user):
    response = logged_in(EMAIL, PASSWORD).get("/dashboard/api/payments/older")
    assert response.status_code == 400 and response.json()["error"]["reason"] == "invalid_cursor"


@pytest.mark.parametrize("path", ["/dashboard/api/payments", "/dashboard/api/payments/older"])
def test_an_unknown_status_is_a_400(alice_user, path):
    cursor = payment_cursor_encode(created_at=BASE, payment_id="pay_AAAAAAAAAAAAAAAA")
    response = logged_in(EMAIL, PASSWORD).get(path, {"status": "settled", "before": cursor})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"], error["reason"]) == ("BAD_REQUEST_ERROR", "status", "invalid_status")
    assert error["description"] == "status must be one of all, pending, success, failed, cancelled, duplicate"


def test_api_pages_follow_the_cursor_with_the_filter(alice_user, bob):
    statuses = ["failed", "success"] * 130  # 130 failed
    payments = bulk_payments(merchant=alice_user.merchant, created_at=spaced(260), statuses=statuses)
    bulk_payments(merchant=bob.merchant, created_at=spaced(50, start=BASE + timedelta(microseconds=1)))
    client = logged_in(EMAIL, PASSWORD)
    first = client.get("/dashboard/api/payments", {"status": "failed"}).json()
    assert len(first["data"]) == 100 and first["has_more"] is True
    older = client.get("/dashboard/api/payments/older", {"status": "failed", "before": first["next_cursor"]}).json()
    assert older["has_more"] is False and older["next_cursor"] is None
    failed = newest_first([p for p in payments if p.status == "failed"])
    assert [row["id"] for row in first["data"] + older["data"]] == failed
    row = older["data"][-1]
    oldest = Payment.objects.get(pk=failed[-1])
    assert row["status"] == "failed" and row["version"] == oldest.version
    assert row["amount_display"] == f"₹{oldest.amount / 100:.2f}"
    assert row["created_at"] == oldest.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    everything = client.get("/dashboard/api/payments", {"status": "all"}).json()
    assert [r["id"] for r in everything["data"]] == newest_first(payments)[:100]
    assert client.get("/dashboard/api/payments").json() == everything


def test_api_of_another_merchant_session_sees_only_its_own(alice_user, bob_user):
    stamps = spaced(240)
    mine = bulk_payments(merchant=alice_user.merchant, created_at=stamps[0::2])
    theirs = bulk_payments(merchant=bob_user.merchant, created_at=stamps[1::2])
    alice_client, bob_client = logged_in(EMAIL, PASSWORD), logged_in("owner@bob.example", "bob-pass-123")
    alices_cursor = alice_client.get("/dashboard/api/payments").json()["next_cursor"]
    seen = bob_client.get("/dashboard/api/payments/older", {"before": alices_cursor}).json()["data"]
    theirs_ids = {p.id for p in theirs}
    assert seen and {row["id"] for row in seen} <= theirs_ids
    assert not {row["id"] for row in seen} & {p.id for p in mine}


@pytest.mark.parametrize("path", ["/dashboard/api/payments/older?before=x", "/dashboard/api/stats"])
def test_json_endpoints_need_a_session(db, path):
    response = Client().get(path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTHENTICATION_ERROR"


def test_transactions_page_renders_the_first_page_with_a_load_older_button(alice_user):
    payments = bulk_payments(merchant=alice_user.merchant, created_at=spaced(101))
    client = logged_in(EMAIL, PASSWORD)
    html = client.get("/dashboard/transactions").content.decode()
    assert html.count('data-test-id="transaction-row"') == 100
    oldest = newest_first(payments)[-1]
    assert oldest not in html
    cursor = payment_page_for_merchant(merchant=alice_user.merchant).next_cursor
    assert f'data-test-id="load-older-button"\n        data-next-cursor="{cursor}">' in html
    assert '<select id="status-filter" name="status" autocomplete="off" data-test-id="status-filter">' in html
    assert '<option value="all" selected>all</option>' in html


def test_transactions_page_at_exactly_100_hides_load_older(alice_user):
    bulk_payments(merchant=alice_user.merchant, created_at=spaced(100))
    html = logged_in(EMAIL, PASSWORD).get("/dashboard/transactions").content.decode()
    assert html.count('data-test-id="transaction-row"') == 100
    assert 'data-test-id="load-older-button"\n        data-next-cursor="" hidden>' in html


def test_transactions_page_filters_server_side(alice_user):
    payments = bulk_payments(
        merchant=alice_user.merchant, created_at=spaced(6), statuses=["failed", "success", "pending"] * 2
    )
    client = logged_in(EMAIL, PASSWORD)
    html = client.get("/dashboard/transactions", {"status": "success"}).content.decode()
    assert html.count('data-test-id="transaction-row"') == 2
    assert all((p.id in html) == (p.status == "success") for p in payments)
    assert '<option value="success" selected>success</option>' in html
    # An unknown filter on the page shows everything (the JSON API answers 400 instead).
    html = client.get("/dashboard/transactions", {"status": "bogus"}).content.decode()
    assert html.count('data-test-id="transaction-row"') == 6
    assert '<option value="all" selected>all</option>' in html


def test_stats_endpoint_counts_own_payments_only(alice_user, bob):
    bulk_payments(
        merchant=alice_user.merchant,
        created_at=spaced(4),
        statuses=["success", "success", "failed", "pending"],
    )
    bulk_payments(merchant=bob.merchant, created_at=spaced(3), statuses=["success"] * 3)
    response = logged_in(EMAIL, PASSWORD).get("/dashboard/api/stats")
    assert response.status_code == 200
    # bulk_payments amounts: 10000 + i minor units; successes are i = 0, 1.
    assert response.json() == {"total_transactions": 4, "total_amount": "₹200.01", "success_rate": "50%"}


def test_stats_follow_the_overviews_mode(alice_user):
    payments = bulk_payments(
        merchant=alice_user.merchant, created_at=spaced(4), statuses=["success", "success", "failed", "success"]
    )
    Payment.objects.filter(pk__in=[payments[0].pk, payments[2].pk]).update(mode="live")
    client = logged_in(EMAIL, PASSWORD)
    # amounts 10000 + i minor units: live = i 0 (success) and 2 (failed); test = 1 and 3
    assert client.get("/dashboard/api/stats", {"mode": "live"}).json() == {
        "total_transactions": 2,
        "total_amount": "₹100",
        "success_rate": "50%",
    }
    assert client.get("/dashboard/api/stats", {"mode": "test"}).json()["total_amount"] == "₹200.04"
    assert client.get("/dashboard/api/stats").json()["total_transactions"] == 4  # both modes
    assert client.get("/dashboard/api/stats", {"mode": "all"}).json()["total_transactions"] == 4
    bad = client.get("/dashboard/api/stats", {"mode": "prod"})
    assert bad.status_code == 400 and bad.json()["error"]["reason"] == "invalid_mode"
    page = client.get("/dashboard/", {"mode": "live"}).content.decode()
    assert 'data-test-id="total-transactions">2<' in page and 'data-mode="live"' in page
