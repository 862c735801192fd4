"""Checkout page, its status endpoint, /checkout.js and the dashboard pages (Django test
client against PostgreSQL; the browser suite drives the same pages in chromium)."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from payments.demo import TEST_API_SECRET, demo_seed
from payments.services.api_keys import api_key_create
from realtime.checkout import callback_signature
from realtime.models import RealtimeTicket
from realtime.services import merchant_user_link
from tests.realtime.helpers import logged_in, make_payment, settle

CHECKOUT_IDS = [
    "checkout-container",
    "order-summary",
    "order-amount",
    "order-id",
    "payment-methods",
    "method-upi",
    "method-card",
    "upi-form",
    "vpa-input",
    "pay-button",
    "card-form",
    "card-number-input",
    "expiry-input",
    "cvv-input",
    "cardholder-name-input",
    "processing-state",
    "processing-message",
    "success-state",
    "payment-id",
    "success-message",
    "error-state",
    "error-message",
    "retry-button",
]


def test_checkout_page_has_every_test_id_and_real_order(alice):
    payment = make_payment(merchant=alice.merchant, amount=50000)
    response = Client().get(f"/checkout?order_id={payment.order_id}")
    assert response.status_code == 200
    html = response.content.decode()
    for test_id in CHECKOUT_IDS:
        assert f'data-test-id="{test_id}"' in html, test_id
    assert html.count('data-test-id="pay-button"') == 2
    assert re.search(r'data-test-id="order-amount">₹500.00<', html)
    assert f'data-test-id="order-id">{payment.order_id}<' in html
    assert 'data-method="upi"' in html and 'data-method="card"' in html
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_embedded_checkout_may_be_framed_only_by_its_parent_origin(alice):
    payment = make_payment(merchant=alice.merchant)
    url = (
        f"/checkout?order_id={payment.order_id}&embedded=true&parent_origin=http://shop.example:8080&key={alice.key_id}"
    )
    response = Client().get(url)
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    assert response["Content-Security-Policy"] == "frame-ancestors http://shop.example:8080"
    config = json.loads(
        re.search(r'id="checkout-config" type="application/json">(.*?)</script>', response.content.decode()).group(1)
    )
    assert config["embedded"] is True and config["parentOrigin"] == "http://shop.example:8080"


def test_checkout_refuses_unknown_order_and_foreign_key(alice, bob):
    assert Client().get("/checkout?order_id=order_doesnotexist00").status_code == 404
    payment = make_payment(merchant=alice.merchant)
    assert Client().get(f"/checkout?order_id={payment.order_id}&embedded=true&key={bob.key_id}").status_code == 404


def test_checkout_status_is_public_and_signs_the_callback(alice):
    payment = make_payment(merchant=alice.merchant)
    client = Client()
    body = client.get(f"/checkout/payments/{payment.id}").json()
    assert body == {"payment": body["payment"], "redirect_url": None}
    assert body["payment"]["status"] == "pending" and "merchant_id" not in body["payment"]
    type(payment).objects.filter(pk=payment.id).update(callback_url="https://shop.example/return?x=1")
    settle(payment, "success")
    body = client.get(f"/checkout/payments/{payment.id}").json()
    url = body["redirect_url"]
    assert url.startswith("https://shop.example/return?x=1&payment_id=")
    assert f"order_id={payment.order_id}" in url and "status=success" in url
    from webhooks.models import WebhookEndpoint

    if WebhookEndpoint.objects.filter(merchant=alice.merchant, is_default=True).exists():
        secret = WebhookEndpoint.objects.get(merchant=alice.merchant, is_default=True).secret
        signature = callback_signature(
            secret=secret,
            order_id=payment.order_id,
            payment_id=payment.id,
            status="success",
            amount=payment.amount,
            currency=payment.currency,
        )
        assert f"signature={signature}" in url
    assert client.get("/checkout/payments/pay_0000000000000000").status_code == 404


def test_callback_url_with_a_script_scheme_is_never_used(alice):
    payment = make_payment(merchant=alice.merchant)
    type(payment).objects.filter(pk=payment.id).update(callback_url="javascript:alert(1)")
    settle(payment, "failed")
    assert Client().get(f"/checkout/payments/{payment.id}").json()["redirect_url"] is None


def test_checkout_js_serves_the_sdk(db):
    response = Client().get("/checkout.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    text = response.content.decode()
    for needle in (
        "PaymentGateway",
        "payment-gateway-modal",
        '"payment-modal"',
        '"payment-iframe"',
        '"close-modal-button"',
    ):
        assert needle in text


# ---- dashboard ----


@pytest.fixture
def alice_user(alice):
    merchant_user_link(merchant=alice.merchant, email="owner@alice.example", password="alice-pass-123")
    return alice


def test_dashboard_requires_login(db):
    response = Client().get("/dashboard/transactions")
    assert response.status_code == 302 and response["Location"] == "/login?next=/dashboard/transactions"
    assert Client().post("/dashboard/api/ticket").status_code in (401, 403)


def test_login_rejects_a_wrong_password_and_unlinked_users(alice_user, django_user_model):
    client = Client()
    bad = client.post("/login", {"email": "owner@alice.example", "password": "nope"})
    assert bad.status_code == 401 and b'data-test-id="login-error"' in bad.content
    django_user_model.objects.create_user(username="staff@example.com", password="pw-123456")
    assert client.post("/login", {"email": "staff@example.com", "password": "pw-123456"}).status_code == 401


def test_login_form_test_ids(db):
    html = Client().get("/login").content.decode()
    for test_id in ("login-form", "email-input", "password-input", "login-button"):
        assert f'data-test-id="{test_id}"' in html


def test_home_shows_key_and_stats_of_own_merchant_only(alice_user, bob):
    for amount, status in ((50000, "success"), (25000, "success"), (10000, "failed"), (500000, "pending")):
        payment = make_payment(merchant=alice_user.merchant, amount=amount)
        if status != "pending":
            settle(payment, status)
    make_payment(merchant=bob.merchant, amount=99900)  # never counted for alice
    html = logged_in("owner@alice.example", "alice-pass-123").get("/dashboard/").content.decode()
    assert f'data-test-id="api-key">{alice_user.key_id}<' in html
    assert 'data-test-id="total-transactions">4<' in html
    assert 'data-test-id="total-amount">₹750<' in html
    assert 'data-test-id="success-rate">50%<' in html
    assert TEST_API_SECRET not in html and alice_user.secret not in html  # hashed: never shown


def test_transactions_lists_only_own_payments(alice_user, bob):
    mine = make_payment(merchant=alice_user.merchant, amount=12345)
    theirs = make_payment(merchant=bob.merchant)
    html = logged_in("owner@alice.example", "alice-pass-123").get("/dashboard/transactions").content.decode()
    assert f'data-payment-id="{mine.id}"' in html and theirs.id not in html
    for test_id in (
        "transactions-table",
        "transaction-row",
        "payment-id",
        "order-id",
        "amount",
        "method",
        "status",
        "created-at",
    ):
        assert f'data-test-id="{test_id}"' in html
    assert "₹123.45" in html


def test_session_ticket_needs_csrf_and_is_for_own_merchant(alice_user):
    client = logged_in("owner@alice.example", "alice-pass-123")
    assert client.post("/dashboard/api/ticket").status_code == 403  # no CSRF token
    response = client.post("/dashboard/api/ticket", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 201
    assert RealtimeTicket.objects.get().merchant_id == alice_user.merchant.id


def test_logout_needs_post(alice_user):
    client = logged_in("owner@alice.example", "alice-pass-123")
    assert client.get("/logout").status_code == 200
    assert client.get("/dashboard/").status_code == 200  # a GET did not log out
    client.post("/logout", {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert client.get("/dashboard/").status_code == 302


def test_docs_page_has_sections_and_snippets(alice_user):
    html = logged_in("owner@alice.example", "alice-pass-123").get("/dashboard/docs").content.decode()
    for test_id in (
        "api-docs",
        "section-create-order",
        "code-snippet-create-order",
        "section-sdk-integration",
        "code-snippet-sdk",
        "section-webhook-verification",
        "code-snippet-webhook",
    ):
        assert f'data-test-id="{test_id}"' in html
    assert alice_user.key_id in html


def test_demo_seed_links_dashboard_user_with_a_stable_password(db, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    first = demo_seed()
    second = demo_seed()
    assert first["dashboard_password"] == second["dashboard_password"]
    client = logged_in("test@example.com", second["dashboard_password"])
    html = client.get("/dashboard/").content.decode()
    assert 'data-test-id="api-key">key_test_abc123<' in html
    assert f'data-test-id="api-secret">{TEST_API_SECRET}<' in html  # demo mode: the documented secret


def test_demo_secret_is_not_shown_for_other_keys(alice_user):
    api_key_create(merchant=alice_user.merchant)
    html = logged_in("owner@alice.example", "alice-pass-123").get("/dashboard/").content.decode()
    assert TEST_API_SECRET not in html


def test_static_files_are_served_without_traversal(db):
    client = Client()
    css = client.get("/static/realtime/app.css")
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
    assert client.get("/static/checkout.js")["Access-Control-Allow-Origin"] == "*"
    assert client.get("/static/../config/settings.py").status_code == 404
    assert client.get("/static/%2e%2e/config/settings.py").status_code == 404


def _docs_snippet(client: Client) -> str:
    import html as html_lib

    page = client.get("/dashboard/docs").content.decode()
    code = re.search(r'data-test-id="code-snippet-webhook"><code>(.*?)</code>', page, re.S).group(1)
    return html_lib.unescape(code)


@pytest.mark.parametrize("secret", ["generated", "whsec_test_abc123"])
def test_docs_webhook_verification_code_verifies_real_signatures(alice_user, secret):
    """The Python shown on /dashboard/docs, executed as-is, accepts what webhooks/ signs
    (both schemes, generated and demo secrets) and rejects a tampered body."""
    import time

    from standardwebhooks.webhooks import WebhookVerificationError

    from webhooks.signing import secret_generate, signature_headers

    secret = secret_generate() if secret == "generated" else secret
    python_part = _docs_snippet(logged_in("owner@alice.example", "alice-pass-123")).split("// Node.js")[0]
    namespace: dict = {}
    exec(python_part.replace('"whsec_…"', repr(secret)), namespace)
    body = b'{"id":"evt_1","event":"payment.success","timestamp":1,"data":{}}'
    headers = signature_headers(webhook_id="evt_1", timestamp=int(time.time()), body=body, secrets_active=[secret])
    assert namespace["verify_hex"](body, headers) is True
    assert namespace["verify_standard"](body, headers) == {
        "id": "evt_1",
        "event": "payment.success",
        "timestamp": 1,
        "data": {},
    }
    assert namespace["verify_hex"](body + b" ", headers) is False
    with pytest.raises(WebhookVerificationError):
        namespace["verify_standard"](body + b" ", headers)
