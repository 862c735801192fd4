"""The client's IP address, decided once for every limit: the API's and checkout's rate
limits (DRF throttles, through REST_FRAMEWORK NUM_PROXIES) and django-axes' login lockout.

``X-Forwarded-For`` is client-writable, so it counts only when ``TRUSTED_PROXY_COUNT`` > 0
reverse proxies stand in front: then the address that many entries from the right (what
the outermost trusted proxy saw) is the client; everything left of it is the client's own
claim. With 0 the header is ignored and ``REMOTE_ADDR`` is the client.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

_throttle = BaseThrottle()


def client_ip(request: HttpRequest) -> str | None:
    """The client IP of ``request`` (a Django or DRF request), as DRF's throttles see it."""
    return _throttle.get_ident(request) or None
