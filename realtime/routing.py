"""Websocket routes and their Origin check, mounted by config/asgi.py.

Every socket here is authorised by a token in its URL, never by a cookie: ``ws/payments/{id}``
by the unguessable payment id (the checkout's capability) or a merchant ticket, and
``ws/merchant`` by a single-use ticket. A missing ``Origin`` therefore cannot be a
cross-site attack: browsers always send ``Origin`` on a websocket handshake, so a
handshake without one comes from a merchant server, a mobile app or a script, which holds
the token itself and is accepted. A browser ``Origin`` that is not an allowed host is still
refused (HTTP 403), so a page elsewhere cannot use a visitor's browser to open a socket.
Do not mount a cookie- or session-authenticated socket behind this validator.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import ParseResult

from channels.routing import URLRouter
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import re_path

from realtime.consumers import MerchantConsumer, PaymentConsumer

websocket_urlpatterns: list = [
    re_path(r"^ws/payments/(?P<payment_id>pay_[A-Za-z0-9]{16})$", PaymentConsumer.as_asgi()),
    re_path(r"^ws/merchant$", MerchantConsumer.as_asgi()),
]


class TokenSocketOriginValidator(OriginValidator):
    """Channels' ``AllowedHostsOriginValidator``, except that a handshake with no ``Origin``
    header at all (a non-browser client) is let through to the token check."""

    def __init__(self, application: Any) -> None:
        super().__init__(application, settings.ALLOWED_HOSTS)

    def valid_origin(self, parsed_origin: ParseResult | None) -> bool:
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)


websocket_application = TokenSocketOriginValidator(URLRouter(websocket_urlpatterns))
