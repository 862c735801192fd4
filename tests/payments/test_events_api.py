"""Events API: cursor pagination, filters, tenancy, and the visibility rule that keeps a
cursor from skipping an event committed late."""

import threading

import pytest
from django.db import connection, transaction

from payments.models import Event
from payments.outbox import event_record
from tests.support.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def wait_visible(tenant, count: int) -> None:
    """Events become visible when no older writing transaction is open anywhere in the
    PostgreSQL cluster (other test runs share it), so wait rather than assume."""
    wait_for(
        lambda: len(tenant.client.get("/api/v1/events?limit=100").json()["data"]) >= count,
        timeout=60,
        message=f"{count} visible events",
    )


def record(merchant, type="payment.created", object_id="pay_x", version=1):
    with transaction.atomic():
        return event_record(
            merchant_id=merchant.id, type=type, object_type="payment", object_id=object_id, version=version, data={}
        )


def test_cursor_pagination(alice):
    events = [record(alice.merchant, object_id=f"pay_{i}") for i in range(5)]
    wait_visible(alice, 5)
    page = alice.client.get("/api/v1/events?limit=2").json()
    assert [e["id"] for e in page["data"]] == [events[0].id, events[1].id]
    assert page["has_more"] is True
    assert page["next_cursor"] == events[1].id
    page2 = alice.client.get(f"/api/v1/events?limit=2&after={page['next_cursor']}").json()
    assert [e["id"] for e in page2["data"]] == [events[2].id, events[3].id]
    page3 = alice.client.get(f"/api/v1/events?limit=2&after={page2['next_cursor']}").json()
    assert [e["id"] for e in page3["data"]] == [events[4].id]
    assert page3["has_more"] is False
    empty = alice.client.get(f"/api/v1/events?after={events[4].id}").json()
    assert empty == {"data": [], "has_more": False, "next_cursor": events[4].id}


def test_event_body_and_detail(alice, bob):
    event = record(alice.merchant)
    wait_visible(alice, 1)
    body = alice.client.get(f"/api/v1/events/{event.id}").json()
    assert set(body) == {"id", "type", "object_type", "object_id", "version", "created_at", "correlation_id", "data"}
    assert body["type"] == "payment.created"
    assert bob.client.get(f"/api/v1/events/{event.id}").status_code == 404


def test_filters_and_tenancy(alice, bob):
    record(alice.merchant, type="payment.created", object_id="pay_a")
    record(alice.merchant, type="payment.success", object_id="pay_a", version=3)
    record(alice.merchant, type="refund.created", object_id="rfnd_b")
    record(bob.merchant, type="payment.created", object_id="pay_c")
    wait_visible(alice, 3)
    wait_visible(bob, 1)
    types = lambda q: [e["type"] for e in alice.client.get(f"/api/v1/events?{q}").json()["data"]]  # noqa: E731
    assert types("type=payment.success") == ["payment.success"]
    assert types("type=payment.*") == ["payment.created", "payment.success"]
    assert types("object_id=rfnd_b") == ["refund.created"]
    assert len(bob.client.get("/api/v1/events").json()["data"]) == 1


def test_foreign_cursor_is_400(alice, bob):
    event = record(bob.merchant)
    response = alice.client.get(f"/api/v1/events?after={event.id}")
    assert response.status_code == 400
    assert response.json()["error"]["reason"] == "invalid_cursor"


def test_late_committing_event_is_never_skipped(alice):
    """T1 takes its transaction id first but commits last; T2's event is hidden until T1
    ends, so a reader's cursor cannot move past T1's event."""
    started, release, done = threading.Event(), threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_current_xact_id()")  # take the txid now
                started.set()
                release.wait(10)
                event_record(
                    merchant_id=alice.merchant.id,
                    type="payment.success",
                    object_type="payment",
                    object_id="pay_slow",
                    version=2,
                    data={},
                )
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert started.wait(10)
    fast = record(alice.merchant, object_id="pay_fast")
    assert alice.client.get("/api/v1/events").json()["data"] == []  # hidden behind the open T1
    release.set()
    assert done.wait(10)
    thread.join()
    wait_visible(alice, 2)
    ids = [e["object_id"] for e in alice.client.get("/api/v1/events").json()["data"]]
    assert ids == ["pay_slow", "pay_fast"]  # (txid, seq) order: T1 began first
    assert Event.objects.get(object_id="pay_fast").id == fast.id


def test_newest_first_for_people_pages_back_in_time(alice, bob):
    events = [record(alice.merchant, object_id=f"pay_{i}") for i in range(5)]
    record(bob.merchant)
    wait_visible(alice, 5)
    page = alice.client.get("/api/v1/events?order=desc&limit=2").json()
    assert [e["id"] for e in page["data"]] == [events[4].id, events[3].id]
    assert page["has_more"] is True and page["next_cursor"] == events[3].id
    page2 = alice.client.get(f"/api/v1/events?order=desc&limit=2&before={page['next_cursor']}").json()
    assert [e["id"] for e in page2["data"]] == [events[2].id, events[1].id]
    page3 = alice.client.get(f"/api/v1/events?order=desc&limit=2&before={page2['next_cursor']}").json()
    assert [e["id"] for e in page3["data"]] == [events[0].id]
    assert page3["has_more"] is False and page3["next_cursor"] == events[0].id
    # Filters and bounds work the same way in both directions.
    newest = alice.client.get(f"/api/v1/events?order=desc&object_id=pay_2&after={events[0].id}").json()
    assert [e["id"] for e in newest["data"]] == [events[2].id]
    window = alice.client.get(f"/api/v1/events?after={events[0].id}&before={events[4].id}").json()
    assert [e["id"] for e in window["data"]] == [events[1].id, events[2].id, events[3].id]
    # The machines' replay is unchanged: oldest first by default and with order=asc.
    assert alice.client.get("/api/v1/events?limit=1").json()["data"][0]["id"] == events[0].id
    assert alice.client.get("/api/v1/events?order=asc&limit=1").json()["data"][0]["id"] == events[0].id


def test_bad_order_or_before_is_400(alice, bob):
    foreign = record(bob.merchant)
    response = alice.client.get("/api/v1/events?order=newest")
    assert response.status_code == 400
    assert (response.json()["error"]["field"], response.json()["error"]["reason"]) == ("order", "invalid_query")
    response = alice.client.get(f"/api/v1/events?order=desc&before={foreign.id}")
    assert response.status_code == 400
    assert (response.json()["error"]["field"], response.json()["error"]["reason"]) == ("before", "invalid_cursor")
