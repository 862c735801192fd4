"""Logins are throttled (django-axes, per account and per IP, on the dashboard and the
admin), passwords are validated, and the client IP behind every limit ignores a
client-sent X-Forwarded-For unless TRUSTED_PROXY_COUNT says proxies stand in front."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory, override_settings

from common.http.client_ip import client_ip
from realtime.services import merchant_user_link

pytestmark = pytest.mark.django_db
LIMIT = 5  # AXES_FAILURE_LIMIT's default: the 5th failure is answered 429 and locks


@pytest.fixture
def owner(alice):
    merchant_user_link(merchant=alice.merchant, email="owner@alice.example", password="alice-pass-123")
    return "owner@alice.example"


@pytest.fixture
def staff(db):
    get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456")
    return "ops"


def dashboard_login(email: str, password: str, ip: str = "203.0.113.7", **extra):
    return Client().post("/login", {"email": email, "password": password}, REMOTE_ADDR=ip, **extra)


def admin_login(username: str, password: str, ip: str = "203.0.113.7"):
    return Client().post("/admin/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_dashboard_account_locks_after_the_limit_even_with_the_right_password_from_another_ip(owner):
    for n in range(LIMIT - 1):
        assert dashboard_login(owner, "wrong-guess", ip=f"198.51.100.{n}").status_code == 401
    assert dashboard_login(owner, "wrong-guess", ip="198.51.100.99").status_code == 429
    locked = dashboard_login(owner, "alice-pass-123", ip="192.0.2.200")  # a fresh IP: the account is locked
    assert locked.status_code == 429
    assert "sessionid" not in locked.cookies


def test_dashboard_ip_locks_for_every_account_it_tries(owner, bob):
    for n in range(LIMIT - 1):  # password spraying: one IP, many accounts
        assert dashboard_login(f"victim{n}@example.com", "Summer2026!").status_code == 401
    assert dashboard_login("victim-last@example.com", "Summer2026!").status_code == 429
    assert dashboard_login(owner, "alice-pass-123").status_code == 429
    assert dashboard_login(owner, "alice-pass-123", ip="192.0.2.9").status_code == 302  # others log in


def test_a_success_before_the_limit_resets_the_count(owner):
    for _ in range(LIMIT - 1):
        dashboard_login(owner, "wrong-guess")
    assert dashboard_login(owner, "alice-pass-123").status_code == 302
    for _ in range(LIMIT - 1):
        assert dashboard_login(owner, "wrong-guess").status_code == 401


def test_admin_login_is_throttled_per_account_and_per_ip(staff):
    for n in range(LIMIT - 1):
        assert admin_login(staff, "wrong-guess", ip=f"198.51.100.{n}").status_code == 200  # the form again
    assert admin_login(staff, "wrong-guess", ip="198.51.100.99").status_code == 429
    assert admin_login(staff, "pw-ops-123456", ip="192.0.2.1").status_code == 429
    for n in range(LIMIT):
        admin_login(f"nobody{n}", "wrong-guess", ip="192.0.2.50")
    assert admin_login("someone-else", "x", ip="192.0.2.50").status_code == 429


def test_x_forwarded_for_cannot_dodge_the_ip_lockout_without_trusted_proxies(owner):
    for n in range(LIMIT):
        dashboard_login(f"victim{n}@example.com", "guess", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    assert dashboard_login(owner, "alice-pass-123", HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429


def test_password_validators_refuse_weak_passwords():
    for weak in ("short1", "password1234", "123456789012"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    user = get_user_model()(username="owner@alice.example", email="owner@alice.example")
    with pytest.raises(ValidationError):
        validate_password("owner@alice.example", user=user)
    validate_password("correct horse battery staple")


def test_admin_password_change_form_applies_the_validators(staff):
    client = Client()
    client.force_login(get_user_model().objects.get(username=staff))
    response = client.post(
        "/admin/password_change/",
        {"old_password": "pw-ops-123456", "new_password1": "password1234", "new_password2": "password1234"},
    )
    assert response.status_code == 200 and b"This password is too common" in response.content
    assert get_user_model().objects.get(username=staff).check_password("pw-ops-123456")


# --- the client IP ------------------------------------------------------------------------


def request_from(remote: str, xff: str | None = None):
    extra = {"HTTP_X_FORWARDED_FOR": xff} if xff is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **extra)


def test_client_ip_ignores_x_forwarded_for_by_default():
    assert client_ip(request_from("203.0.113.7", "1.2.3.4")) == "203.0.113.7"
    assert client_ip(request_from("203.0.113.7")) == "203.0.113.7"


def test_client_ip_behind_trusted_proxies_takes_the_address_the_outermost_proxy_saw(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # the client forged "6.6.6.6"; the one proxy appended the address it really saw
    assert client_ip(request_from("10.0.0.2", "6.6.6.6, 198.51.100.23")) == "198.51.100.23"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 2}
    assert client_ip(request_from("10.0.0.2", "6.6.6.6, 198.51.100.23, 10.0.0.1")) == "198.51.100.23"


DECLINED = {"number": "4000 0000 0000 0002", "expiry_month": 12, "expiry_year": 2099, "cvv": "123"}


def test_checkout_ip_limit_is_not_bypassed_by_rotating_x_forwarded_for(alice, anon, redis_client, monkeypatch):
    """The card-testing limit of the issue: a new X-Forwarded-For per attempt used to be a
    new identity (DRF's NUM_PROXIES=None took the whole header)."""
    from common.http import throttling
    from tests.payments.factories import OrderFactory

    monkeypatch.setattr(throttling.time, "time", lambda: 1_800_000_000.25)
    orders = [OrderFactory(merchant=alice.merchant) for _ in range(3)]
    with override_settings(CHECKOUT_RATE_LIMIT_PER_MINUTE=2):
        statuses = [
            anon.post(
                "/api/v1/payments/public",
                {"order_id": order.id, "method": "card", "card": DECLINED},
                format="json",
                REMOTE_ADDR="203.0.113.7",
                HTTP_X_FORWARDED_FOR=f"10.1.{n}.{n}",
            ).status_code
            for n, order in enumerate(orders)
        ]
    assert statuses == [201, 201, 429]
