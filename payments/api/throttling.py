"""Per-API-key rate limit on an atomic Redis counter (INCR + EXPIRE in one pipeline).

DRF's built-in throttles read-modify-write a cache entry and are not a hard limit; this is.
A Redis outage fails open: PostgreSQL, not Redis, protects money, and the API stays up.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger("tender.ratelimit")


class ApiKeyRateLimit(BaseThrottle):
    def __init__(self) -> None:
        self._wait = 1.0

    def allow_request(self, request: Request, view: object) -> bool:
        limit = settings.API_RATE_LIMIT_PER_SECOND
        api_key = getattr(request, "auth", None)
        if not limit or api_key is None or not hasattr(api_key, "key_id"):
            return True
        now = time.time()
        window = int(now)
        key = f"tender:ratelimit:{api_key.key_id}:{window}"
        try:
            client = cache._cache.get_client(key, write=True)  # the raw redis-py client
            pipe = client.pipeline()
            pipe.incr(key)
            pipe.expire(key, 2)
            count, _ = pipe.execute()
        except Exception:  # noqa: BLE001 - fail open, loudly
            logger.warning("rate limiter unavailable; allowing request")
            return True
        if count > limit:
            self._wait = max(0.001, window + 1 - now)
            return False
        return True

    def wait(self) -> float:
        return self._wait
