"""API key authentication: ``X-Api-Key`` + ``X-Api-Secret`` headers, or HTTP Basic
``key:secret``. Failure is a 401 in the envelope (DRF answers 401, not 403, because
``authenticate_header`` names a scheme).

The demo merchant's key (``key_test_abc123``, published in the docs) authenticates only in
demo mode: a database seeded for a demo and then run in production must not accept it.

The key's mode becomes the merchant's ``acting_mode`` for the request, so every selector
and service confines itself to that world (test or live). A live key is refused while the
provider is the simulator (which moves no money) unless ``SIMULATOR_ALLOW_LIVE_KEYS``."""

from __future__ import annotations

import base64
import binascii

from django.conf import settings
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from common.errors import AUTHENTICATION_ERROR
from common.http.errors import ApiError
from payments.demo import TEST_API_KEY
from payments.models import ApiKey, Mode
from payments.services.api_keys import api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[object, ApiKey] | None:
        key_id = request.headers.get("X-Api-Key")
        secret = request.headers.get("X-Api-Secret")
        if not key_id and not secret:
            key_id, secret = _basic_credentials(request)
        if not key_id or not secret:
            raise exceptions.NotAuthenticated("Missing API credentials: send X-Api-Key and X-Api-Secret")
        if key_id == TEST_API_KEY and not settings.DEMO_MODE:
            raise exceptions.AuthenticationFailed("Invalid API key or secret")
        api_key = api_key_authenticate(key_id=key_id, secret=secret)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid API key or secret")
        if (
            api_key.mode == Mode.LIVE
            and settings.PAYMENT_PROVIDER == "simulator"
            and not settings.SIMULATOR_ALLOW_LIVE_KEYS
        ):
            raise ApiError(
                "Live keys are refused while the payment provider is the simulator, which moves no money "
                "(use a test key, or set SIMULATOR_ALLOW_LIVE_KEYS=true)",
                code=AUTHENTICATION_ERROR,
                status=401,
                reason="live_key_on_simulator",
            )
        request._request.merchant_id_for_log = str(api_key.merchant_id)
        merchant = api_key.merchant
        merchant.acting_mode = api_key.mode  # this request's world: test or live
        return merchant, api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="tender"'


def _basic_credentials(request: Request) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    key_id, sep, secret = decoded.partition(":")
    return (key_id, secret) if sep else (None, None)
