"""The input layer (common/http/inputs.py, issue 12 §1): every bad byte a client can send
gets a 400 (413/415) in the envelope naming the field and the reason, never a 500, and
nothing is written. The first tests reproduce the 500s measured on ``make run``."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from common.http.inputs import MAX_JSON_DEPTH
from config.asgi import application
from payments.models import Order, Payment, Refund
from payments.providers.simulator import signing
from realtime.services import merchant_user_link
from tests.payments.factories import SuccessfulPaymentFactory
from tests.realtime.helpers import logged_in
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db
ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]


def post_raw(client, path: str, body: bytes | str, *, content_type: str = "application/json", **extra):
    return client.generic("POST", path, body, content_type=content_type, **extra)


def refused(response, status: int, reason: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "BAD_REQUEST_ERROR"
    assert error["reason"] == reason
    assert error["field"] == field
    assert error["correlation_id"]
    return error


# --- the measured 500s --------------------------------------------------------------


def test_nul_in_notes_value_is_400_naming_the_note(alice):
    body = '{"amount":771,"currency":"INR","notes":{"a":"x\\u0000y"}}'
    refused(post_raw(alice.client, "/api/v1/orders", body), 400, "nul_byte", "notes.a")
    assert Order.objects.count() == 0


def test_nul_in_receipt_is_400(alice):
    body = '{"amount":771,"currency":"INR","receipt":"r\\u0000"}'
    refused(post_raw(alice.client, "/api/v1/orders", body), 400, "nul_byte", "receipt")
    assert Order.objects.count() == 0


def test_lone_surrogate_in_receipt_is_400(alice):
    body = '{"amount":771,"currency":"INR","receipt":"\\ud8c9"}'
    refused(post_raw(alice.client, "/api/v1/orders", body), 400, "lone_surrogate", "receipt")
    assert Order.objects.count() == 0


def test_nul_in_public_order_path_is_400_without_auth(anon):
    refused(anon.get("/api/v1/orders/%00/public"), 400, "nul_byte", "path")


def test_100k_nested_brackets_on_a_drf_parsed_view_is_refused(alice):
    # 100,000 bytes are over the 64 KiB cap: 413 before parsing; under the cap, 400.
    refused(post_raw(alice.client, "/api/v1/webhook-endpoints", "[" * 100_000), 413, "body_too_large")
    refused(post_raw(alice.client, "/api/v1/webhook-endpoints", "[" * 60_000), 400, "too_deep")
    assert not WebhookEndpoint.objects.filter(merchant=alice.merchant).exists()


def test_post_to_unknown_api_url_is_the_404_envelope_not_the_csrf_page(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/v1/nothing-here", data="{}", content_type="application/json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["reason"] == "unknown_endpoint"


# --- bodies -------------------------------------------------------------------------


def test_nul_in_a_key_is_400(alice):
    body = '{"amount":771,"notes":{"k\\u0000":"v"}}'
    refused(post_raw(alice.client, "/api/v1/orders", body), 400, "nul_byte", "notes.<key>")


def test_raw_nul_byte_in_body_is_400(alice):
    refused(post_raw(alice.client, "/api/v1/orders", b'{"amount":771,"receipt":"a\x00"}'), 400, "nul_byte")


def test_invalid_utf8_body_is_400(alice):
    refused(post_raw(alice.client, "/api/v1/orders", b'{"amount":771,"receipt":"\xff\xfe"}'), 400, "invalid_utf8")
    # An encoded surrogate (CESU-8 style) is not UTF-8 either.
    refused(post_raw(alice.client, "/api/v1/orders", b'{"receipt":"\xed\xa0\x80"}'), 400, "invalid_utf8")
    assert Order.objects.count() == 0


def test_nesting_past_the_documented_limit_is_400_naming_where(alice):
    deep: object = "x"
    for _ in range(MAX_JSON_DEPTH):
        deep = {"n": deep}
    response = post_raw(alice.client, "/api/v1/orders", json.dumps({"amount": 771, "notes": deep}))
    error = refused(response, 400, "too_deep", "notes" + ".n" * (MAX_JSON_DEPTH - 1))
    assert str(MAX_JSON_DEPTH) in error["description"]
    assert Order.objects.count() == 0


@pytest.mark.parametrize("amount", [str(2**63), str(-(2**63) - 1), "1" + "0" * 30, "9" * 5000])
def test_integers_outside_64_bits_are_400_naming_the_field(alice, amount):
    response = post_raw(alice.client, "/api/v1/orders", f'{{"amount":{amount}}}')
    refused(response, 400, "integer_out_of_range", "amount")
    assert Order.objects.count() == 0


def test_nan_and_infinity_are_not_numbers(alice):
    for literal in ("NaN", "Infinity", "-Infinity"):
        refused(post_raw(alice.client, "/api/v1/orders", f'{{"amount":{literal}}}'), 400, "invalid_number")


@pytest.mark.parametrize("amount", ["500.0", "5e2", "5E2", "500.5", '"500"', "true"])
def test_amounts_must_be_json_integers(alice, amount):
    for path, extra in (("/api/v1/orders", ""), ("/api/v1/payments", ',"method":"upi","vpa":"a@upi"')):
        response = post_raw(alice.client, path, f'{{"amount":{amount}{extra}}}')
        refused(response, 400, "invalid_type", "amount")
    assert Order.objects.count() == 0 and Payment.objects.count() == 0


def test_refund_amount_must_be_an_integer(alice):
    payment = SuccessfulPaymentFactory(merchant=alice.merchant, amount=50000)
    response = post_raw(alice.client, f"/api/v1/payments/{payment.id}/refunds", '{"amount":100.0}')
    refused(response, 400, "invalid_type", "amount")
    assert not Refund.objects.exists()


def test_body_over_the_cap_is_413_on_every_parser_path(alice, settings):
    settings.API_MAX_BODY_BYTES = 1024
    big = json.dumps({"amount": 771, "receipt": "r", "notes": {"a": "x" * 2000}})
    for path in ("/api/v1/orders", "/api/v1/webhook-endpoints", "/api/v1/provider-webhooks/simulator"):
        refused(post_raw(alice.client, path, big), 413, "body_too_large")
    assert Order.objects.count() == 0
    assert not WebhookEndpoint.objects.filter(merchant=alice.merchant).exists()


def test_the_drf_parser_takes_the_paths_own_cap(settings):
    """DRF-parsed bodies get the same per-path cap as the input layer's own reads."""
    import io

    from django.test import RequestFactory

    from common.http.errors import ApiError
    from common.http.inputs import StrictJSONParser

    settings.API_MAX_BODY_BYTES, settings.API_BATCH_MAX_BODY_BYTES = 1024, 4096
    body = json.dumps({"items": ["x" * 2000]}).encode()
    parse = StrictJSONParser().parse
    batch = RequestFactory().post("/api/v1/payments/batch")
    assert parse(io.BytesIO(body), parser_context={"request": batch}) == {"items": ["x" * 2000]}
    with pytest.raises(ApiError) as refused_:
        parse(io.BytesIO(body), parser_context={"request": RequestFactory().post("/api/v1/orders")})
    assert (refused_.value.status_code, refused_.value.reason) == (413, "body_too_large")


def test_non_json_media_type_is_415(alice):
    refused(
        post_raw(alice.client, "/api/v1/orders", "amount=771", content_type="text/plain"), 415, "unsupported_media_type"
    )
    response = post_raw(alice.client, "/api/v1/webhook-endpoints", "url=x", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["error"]["reason"] == "unsupported_media_type"


def test_nul_in_drf_parsed_body_is_400(alice):
    body = '{"url":"https://example.com/\\u0000"}'
    refused(post_raw(alice.client, "/api/v1/webhook-endpoints", body), 400, "nul_byte", "url")
    assert not WebhookEndpoint.objects.filter(merchant=alice.merchant).exists()


def test_public_checkout_create_refuses_bad_bytes(anon, alice):
    order = Order.objects.create(merchant=alice.merchant, amount=50000, currency="INR")
    body = f'{{"order_id":"{order.id}","method":"upi","vpa":"a\\ud800@upi"}}'
    refused(post_raw(anon, "/api/v1/payments/public", body), 400, "lone_surrogate", "vpa")
    assert not Payment.objects.exists()


def test_provider_webhook_refuses_bad_bytes_before_the_provider_parses(anon):
    body = '{"id":"evt_1","status":"success\\u0000"}'
    response = post_raw(
        anon, "/api/v1/provider-webhooks/simulator", body, HTTP_X_SIMULATOR_SIGNATURE=signing.sign(body.encode())
    )
    refused(response, 400, "nul_byte", "status")


def test_dashboard_json_view_refuses_bad_bytes(alice):
    merchant_user_link(merchant=alice.merchant, email="owner@alice.example", password="alice-pass-123")
    client = logged_in("owner@alice.example", "alice-pass-123")
    token = client.cookies["csrftoken"].value
    for body, reason in ((b'{"url":"https://a.example/\\u0000"}', "nul_byte"), (b"[" * 5000, "too_deep")):
        response = post_raw(client, "/dashboard/api/webhooks/config", body, HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 400, response.content
        assert response.json()["error"]["reason"] == reason
    assert not WebhookEndpoint.objects.filter(merchant=alice.merchant).exclude(url="").exists()


# --- query string, path, headers ----------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/payments", "/api/v1/webhooks", "/api/v1/events"])
def test_wrong_typed_query_params_are_400_not_the_default(alice, path):
    refused(alice.client.get(path, {"limit": "y"}), 400, "invalid_query", "limit")
    refused(alice.client.get(path, {"limit": "0"}), 400, "invalid_query", "limit")
    refused(alice.client.get(path, {"limit": str(2**64)}), 400, "invalid_query", "limit")


def test_nul_and_bad_utf8_in_query_are_400_naming_the_parameter(alice):
    refused(alice.client.get("/api/v1/payments?order_id=%00"), 400, "nul_byte", "order_id")
    refused(alice.client.get("/api/v1/payments?order_id=%FF"), 400, "invalid_utf8", "order_id")
    refused(alice.client.get("/api/v1/payments?%00=1"), 400, "nul_byte", "query")
    refused(alice.client.get("/checkout?order_id=%ED%A0%80"), 400, "invalid_utf8", "order_id")


def test_bad_bytes_in_a_merchant_path_are_400(alice):
    refused(alice.client.get("/api/v1/payments/pay_%00"), 400, "nul_byte", "path")
    refused(alice.client.get("/api/v1/payments/pay_%FF"), 400, "invalid_utf8", "path")


def test_nul_in_an_auth_header_is_400_naming_the_header(anon):
    response = anon.get("/api/v1/orders", HTTP_X_API_KEY="key_\x00", HTTP_X_API_SECRET="s")
    refused(response, 400, "nul_byte", "X-Api-Key")


def test_invalid_utf8_in_a_header_is_400_naming_the_header(anon):
    # WSGI hands header bytes over as latin-1 text: "\xff" is the byte 0xFF, not UTF-8.
    response = anon.get("/api/v1/orders", HTTP_X_API_KEY="key_\xff", HTTP_X_API_SECRET="s")
    refused(response, 400, "invalid_utf8", "X-Api-Key")
    # UTF-8 proper (é as two bytes, latin-1 decoded by the server) passes the input layer.
    assert anon.get("/api/v1/orders", HTTP_X_API_KEY="key_\xc3\xa9", HTTP_X_API_SECRET="s").status_code == 401


def test_bad_content_length_is_400(alice):
    response = alice.client.generic(
        "POST", "/api/v1/orders", b"{}", content_type="application/json", CONTENT_LENGTH="x"
    )
    refused(response, 400, "invalid_content_length", "Content-Length")


# --- websocket frames -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_websocket_frames_under_the_input_layer(alice, redis_client):
    from tests.realtime.helpers import make_payment

    payment = make_payment(merchant=alice.merchant)

    async def scenario() -> list:
        comm = WebsocketCommunicator(application, f"/ws/payments/{payment.id}", headers=ORIGIN)
        connected, _ = await comm.connect()
        assert connected
        await comm.receive_json_from(timeout=5)  # the snapshot
        answers = []
        for frame in ('{"type":"resume","version":"\\ud800"}', "[" * 4000, "x" * 5000):
            await comm.send_to(text_data=frame)
            answers.append(await comm.receive_json_from(timeout=5))
        await comm.send_to(bytes_data=b"{}")
        answers.append(await comm.receive_json_from(timeout=5))
        await comm.disconnect()
        return answers

    answers = async_to_sync(scenario)()
    assert [a["reason"] for a in answers] == ["lone_surrogate", "too_deep", "frame_too_large", "binary_frame"]
    assert answers[0]["field"] == "version"
    assert all(a["type"] == "error" for a in answers)


@pytest.mark.django_db(transaction=True)
def test_websocket_query_with_bad_bytes_closes_4400(redis_client):
    async def scenario() -> int:
        comm = WebsocketCommunicator(application, "/ws/merchant?ticket=%00", headers=ORIGIN)
        connected, _ = await comm.connect()
        assert connected
        message = await comm.receive_output(timeout=5)
        assert message["type"] == "websocket.close"
        return message["code"]

    assert async_to_sync(scenario)() == 4400


def test_body_fields_take_their_json_type_only_and_no_unknown_field(alice):
    """DRF would take 0 for a boolean and 5 for a string; the schema says boolean/string."""
    for body, field in (
        ({"url": "https://example.com/h", "enabled": 0}, "enabled"),
        ({"url": "https://example.com/h", "description": 5}, "description"),
    ):
        refused(alice.client.post("/api/v1/webhook-endpoints", body, format="json"), 400, "invalid_type", field)
    response = alice.client.post("/api/v1/orders", {"amount": 771, "ammount": 771}, format="json")
    refused(response, 400, "unknown_field", "ammount")
    assert Order.objects.count() == 0
    assert not WebhookEndpoint.objects.filter(merchant=alice.merchant).exists()


# --- under ASGI -----------------------------------------------------------------------


def test_under_asgi_no_middleware_is_adapted_so_async_views_stay_in_the_event_loop(caplog, settings):
    # Django logs (under DEBUG) each sync/async adaptation while building the chain; one
    # sync-only link would run every request, the async long-poll included, in a thread.
    from django.core.handlers.asgi import ASGIHandler

    settings.DEBUG = True
    with caplog.at_level("DEBUG", logger="django.request"):
        ASGIHandler().load_middleware(is_async=True)
    assert [r.getMessage() for r in caplog.records if "adapted" in r.getMessage()] == []


def test_under_asgi_bad_bytes_are_refused_in_the_envelope_and_not_stored(anon):
    from django.test import AsyncClient

    response = async_to_sync(AsyncClient().get)("/api/v1/payments/pay_%00")
    error = refused(response, 400, "nul_byte", "path")
    assert response["X-Correlation-ID"] == error["correlation_id"]
    assert response["Cache-Control"] == "no-store"


def test_chunked_body_over_the_wsgi_limit_is_the_413_envelope_with_a_correlation_id():
    # gunicorn's chunked bodies are bounded before Django (config/wsgi.py): its 413 is still
    # the documented envelope, with a correlation id echoed like every other answer.
    import io

    from config.wsgi import ChunkedBodyMiddleware

    def never_called(environ, start_response):
        raise AssertionError("Django must not see a body over the limit")

    answer: dict = {}
    middleware = ChunkedBodyMiddleware(never_called, limit=10)
    environ = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b"x" * 11)}
    payload = b"".join(middleware(environ, lambda status, headers: answer.update(status=status, headers=dict(headers))))
    assert answer["status"].startswith("413")
    error = json.loads(payload)["error"]
    assert error == {
        "code": "BAD_REQUEST_ERROR",
        "description": "Request body exceeds 10 bytes",
        "field": None,
        "reason": "body_too_large",
        "correlation_id": answer["headers"]["X-Correlation-ID"],
    }
    assert error["correlation_id"]
    assert answer["headers"]["Connection"] == "close"
