"""Bench-only URLconf: every real route plus ``POST /bench/bare-payment``, a bare Django view
doing the same inserts as a payment create (order, payment, timeline row, event) in one
transaction with raw SQL and no auth, validation or framework: the ceiling Tender's
``POST /api/v1/payments`` is measured against. Never mounted outside the bench."""

from __future__ import annotations

import json
import secrets
import string

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from bench.payments_create import MERCHANT_ID

_ALPHABET = string.ascii_letters + string.digits


def _id(prefix: str, n: int = 16) -> str:
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(n))


@csrf_exempt
def bare_payment_create(request: HttpRequest) -> HttpResponse:
    body = json.loads(request.body)
    order_id, payment_id = _id("order"), _id("pay")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO orders (id, merchant_id, amount, currency, receipt, notes, status, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, NULL, '{}', 'attempted', now(), now())",
            [order_id, MERCHANT_ID, body["amount"], body["currency"]],
        )
        cursor.execute(
            "INSERT INTO payments (id, merchant_id, order_id, amount, currency, method, vpa, status, captured,"
            " version, provider, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, 'upi', %s, 'pending', false, 1, 'simulator', now(), now())",
            [payment_id, MERCHANT_ID, order_id, body["amount"], body["currency"], body["vpa"]],
        )
        cursor.execute(
            "INSERT INTO timeline_entries (object_type, object_id, payment_id, to_status, version, detail, source,"
            " created_at) VALUES ('payment', %s, %s, 'pending', 1, 'Payment created', 'api', now())",
            [payment_id, payment_id],
        )
        cursor.execute(
            "INSERT INTO events (id, merchant_id, type, object_type, object_id, version, data, created_at)"
            " VALUES (%s, %s, 'payment.created', 'payment', %s, 1, %s, now())",
            [_id("evt", 24), MERCHANT_ID, payment_id, json.dumps({"payment": {"id": payment_id}})],
        )
    out = {"id": payment_id, "order_id": order_id, "amount": body["amount"], "status": "pending"}
    return HttpResponse(json.dumps(out), status=201, content_type="application/json")


urlpatterns = [
    path("bench/bare-payment", bare_payment_create),
    path("", include("config.urls")),
]
