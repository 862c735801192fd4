"""GET /api/v1/refunds: the merchant's refunds, newest first, filtered by payment, status
and created range, paginated like payments, in the schema's shape."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from payments.models import Refund
from tests.payments.factories import OrderFactory, RefundFactory, SuccessfulPaymentFactory
from tests.payments.test_contract import assert_conforms

pytestmark = pytest.mark.django_db

URL = "/api/v1/refunds"


def _refund(payment, *, status="pending", created_at: str, amount=1000) -> Refund:
    refund = RefundFactory(payment=payment, status=status, amount=amount)
    Refund.objects.filter(pk=refund.pk).update(created_at=datetime.fromisoformat(created_at).replace(tzinfo=UTC))
    return refund


@pytest.fixture
def refunds(alice):
    first = SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant, amount=50000))
    second = SuccessfulPaymentFactory(order=OrderFactory(merchant=alice.merchant, amount=50000))
    return {
        "a": _refund(first, status="processed", created_at="2026-01-10T09:00:00"),
        "b": _refund(first, status="pending", created_at="2026-01-11T09:00:00"),
        "c": _refund(second, status="failed", created_at="2026-01-12T09:00:00"),
        "first": first,
        "second": second,
    }


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["data"]]


def test_lists_newest_first_in_the_page_shape(alice, refunds):
    response = alice.client.get(URL)
    body = assert_conforms(response, URL)
    assert [item["id"] for item in body["data"]] == [refunds["c"].id, refunds["b"].id, refunds["a"].id]
    assert (body["total"], body["limit"], body["offset"]) == (3, 20, 0)
    assert body["data"][0]["payment_id"] == refunds["second"].id and body["data"][0]["status"] == "failed"


def test_paginates_like_payments(alice, refunds):
    page = alice.client.get(URL, {"limit": 2, "offset": 1}).json()
    assert [item["id"] for item in page["data"]] == [refunds["b"].id, refunds["a"].id]
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)


def test_filters_by_payment_status_and_created_range(alice, refunds):
    get = alice.client.get
    assert _ids(get(URL, {"payment_id": refunds["first"].id})) == [refunds["b"].id, refunds["a"].id]
    assert _ids(get(URL, {"status": "processed"})) == [refunds["a"].id]
    assert _ids(get(URL, {"payment_id": refunds["first"].id, "status": "failed"})) == []
    in_range = {"created_after": "2026-01-11T09:00:00Z", "created_before": "2026-01-12T09:00:00Z"}
    assert _ids(get(URL, in_range)) == [refunds["b"].id]  # after inclusive, before exclusive
    assert _ids(get(URL, {"created_after": "2026-01-11"})) == [refunds["c"].id, refunds["b"].id]
    assert get(URL, {"status": "processed", "limit": 1}).json()["total"] == 1


def test_another_merchant_sees_none_of_them(alice, bob, refunds):
    assert _ids(bob.client.get(URL)) == []
    assert _ids(bob.client.get(URL, {"payment_id": refunds["first"].id})) == []
    bobs = RefundFactory(payment=SuccessfulPaymentFactory(order=OrderFactory(merchant=bob.merchant)))
    assert _ids(alice.client.get(URL, {"payment_id": bobs.payment_id})) == []
    assert bobs.id not in _ids(alice.client.get(URL))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "refunded"}, "status"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2026-13-01"}, "created_before"),
        ({"limit": "0"}, "limit"),
        ({"limit": "y"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"payment_id": "p" * 65}, "payment_id"),
    ],
)
def test_bad_filters_are_400_naming_the_parameter(alice, refunds, params, field):
    response = alice.client.get(URL, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"], error["reason"]) == ("BAD_REQUEST_ERROR", field, "invalid_query")


def test_needs_credentials(anon):
    assert anon.get(URL).status_code == 401
