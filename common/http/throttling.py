"""Rate limits on atomic Redis counters (INCR + EXPIRE in one pipeline, fixed windows).

* per API key, per second, on every authenticated API request;
* on the public checkout create (no API key): per client IP per minute, and per order per
  hour (``checkout_attempt_register``), so the hosted checkout is no card-testing oracle.

DRF's built-in throttles read-modify-write a cache entry and are not a hard limit; these are.
The counters live in the application's one Redis client (common.redis, ``REDIS_URL``).
A Redis outage fails open: PostgreSQL, not Redis, protects money, and the API stays up.
"""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from common.errors import RATE_LIMIT_ERROR
from common.http.errors import ApiError
from common.redis import redis_client

logger = logging.getLogger("tender.ratelimit")


def _over_limit(name: str, *, limit: int, window_seconds: int) -> float | None:
    """Count one hit of ``name`` in the current fixed window; return the seconds until the
    window ends when the count exceeds ``limit``, else None (also when Redis is down)."""
    if not limit:
        return None
    now = time.time()
    window = int(now // window_seconds)
    key = f"tender:ratelimit:{name}:{window}"
    try:
        pipe = redis_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, window_seconds + 1)
        count, _ = pipe.execute()
    except Exception:  # noqa: BLE001 - fail open, loudly
        logger.warning("rate limiter unavailable; allowing request", extra={"limit_name": name.split(":")[0]})
        return None
    if count > limit:
        return max(0.001, (window + 1) * window_seconds - now)
    return None


class _FixedWindowThrottle(BaseThrottle):
    """A DRF throttle over ``_over_limit``: subclasses name the counter and its limit."""

    window_seconds = 1

    def __init__(self) -> None:
        self._wait = float(self.window_seconds)

    def counter(self, request: Request) -> tuple[str, int] | None:
        """(counter name, limit) for this request, or None when it is not limited."""
        raise NotImplementedError

    def allow_request(self, request: Request, view: object) -> bool:
        counter = self.counter(request)
        if counter is None:
            return True
        name, limit = counter
        wait = _over_limit(name, limit=limit, window_seconds=self.window_seconds)
        if wait is None:
            return True
        self._wait = wait
        return False

    def wait(self) -> float:
        return self._wait


class ApiKeyRateLimit(_FixedWindowThrottle):
    """Authenticated API requests per API key per second (``API_RATE_LIMIT_PER_SECOND``)."""

    def counter(self, request: Request) -> tuple[str, int] | None:
        api_key = getattr(request, "auth", None)
        if api_key is None or not hasattr(api_key, "key_id"):
            return None
        return f"key:{api_key.key_id}", settings.API_RATE_LIMIT_PER_SECOND


class CheckoutIpRateLimit(_FixedWindowThrottle):
    """Public checkout creates per client IP per minute (``CHECKOUT_RATE_LIMIT_PER_MINUTE``)."""

    window_seconds = 60

    def counter(self, request: Request) -> tuple[str, int] | None:
        # get_ident honours REST_FRAMEWORK NUM_PROXIES (TRUSTED_PROXY_COUNT)
        return f"checkout-ip:{self.get_ident(request)}", settings.CHECKOUT_RATE_LIMIT_PER_MINUTE


class BatchRateLimit(_FixedWindowThrottle):
    """Batch creates per merchant per hour (``BATCH_RATE_LIMIT_PER_HOUR``, 10 as in seed 003):
    a batch is up to 1,000 payments, so the per-key request limit does not bound it."""

    window_seconds = 3600

    def counter(self, request: Request) -> tuple[str, int] | None:
        merchant = getattr(request, "user", None)
        if merchant is None or not hasattr(merchant, "pk"):
            return None
        return batch_counter(merchant_id=merchant.pk)


def batch_counter(*, merchant_id: object) -> tuple[str, int]:
    """The one batch counter of a merchant: the API and the dashboard upload share it."""
    return f"batch:{merchant_id}", settings.BATCH_RATE_LIMIT_PER_HOUR


def batch_attempt_register(*, merchant_id: object) -> None:
    """Count a batch create outside DRF (the dashboard upload); 429 past the limit."""
    name, limit = batch_counter(merchant_id=merchant_id)
    wait = _over_limit(name, limit=limit, window_seconds=BatchRateLimit.window_seconds)
    if wait is not None:
        raise ApiError(
            "Too many batches this hour; try again later",
            code=RATE_LIMIT_ERROR,
            status=429,
            reason="rate_limited",
            headers={"Retry-After": str(math.ceil(wait))},
        )


def checkout_attempt_register(*, order_id: str) -> None:
    """Count a public payment attempt on ``order_id``; raise 429 ``RATE_LIMIT_ERROR``
    (reason ``too_many_attempts``) past ``CHECKOUT_ATTEMPTS_PER_ORDER_PER_HOUR``. A real
    customer retries a declined card a few times; a card tester tries hundreds."""
    wait = _over_limit(
        f"checkout-order:{order_id}", limit=settings.CHECKOUT_ATTEMPTS_PER_ORDER_PER_HOUR, window_seconds=3600
    )
    if wait is not None:
        raise ApiError(
            "Too many payment attempts for this order; try again later",
            code=RATE_LIMIT_ERROR,
            status=429,
            field="order_id",
            reason="too_many_attempts",
            headers={"Retry-After": str(math.ceil(wait))},
        )
