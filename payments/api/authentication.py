"""API key authentication: ``X-Api-Key`` + ``X-Api-Secret`` headers, or HTTP Basic
``key:secret``. Failure is a 401 in the envelope (DRF answers 401, not 403, because
``authenticate_header`` names a scheme).

The demo merchant's key (``key_test_abc123``, published in the docs) authenticates only in
demo mode: a database seeded for a demo and then run in production must not accept it."""

from __future__ import annotations

import base64
import binascii

from django.conf import settings
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from payments.demo import TEST_API_KEY
from payments.models import ApiKey
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
        request._request.merchant_id_for_log = str(api_key.merchant_id)
        return api_key.merchant, api_key

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
