"""Shared fixtures: two merchants (alice and bob) with API keys and clients, so every API
test can check that the other merchant sees 404 and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from payments.models import Merchant
from payments.services.api_keys import api_key_create
from tests.factories import MerchantFactory


@dataclass
class Tenant:
    merchant: Merchant
    key_id: str
    secret: str
    client: APIClient

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.key_id, "X-Api-Secret": self.secret}


def _tenant(name: str) -> Tenant:
    merchant = MerchantFactory(name=name.title(), email=f"{name}@example.com")
    issued = api_key_create(merchant=merchant)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=issued.api_key.key_id, HTTP_X_API_SECRET=issued.secret)
    return Tenant(merchant=merchant, key_id=issued.api_key.key_id, secret=issued.secret, client=client)


@pytest.fixture
def alice(db) -> Tenant:
    return _tenant("alice")


@pytest.fixture
def bob(db) -> Tenant:
    return _tenant("bob")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def redis_client():
    """The test Redis database, flushed before and after the test."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def demo(db, settings, tmp_path) -> dict:
    """The demo merchant of PRODUCT.md §3, seeded as `make run` seeds it."""
    from payments.demo import demo_seed

    settings.BASE_DIR = tmp_path  # keep the credentials file out of the work tree
    return demo_seed()
