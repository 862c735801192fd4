"""Test settings: the real settings with demo mode on and test-only Redis databases.

Each concurrent test run may pick its own PostgreSQL test database and Redis database
numbers through TEST_DATABASE_NAME / TEST_REDIS_DB so runs never see each other's data.
"""

import os

os.environ.setdefault("DEMO_MODE", "true")
os.environ.setdefault("TEST_MODE", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")
_redis_db = int(os.environ.get("TEST_REDIS_DB", "10"))
_redis_base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ["REDIS_URL"] = _redis_base.rsplit("/", 1)[0] + f"/{_redis_db}"
os.environ.setdefault("CELERY_BROKER_URL", _redis_base.rsplit("/", 1)[0] + f"/{_redis_db + 1}")
os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"tender-test-{_redis_db}")

from config.settings import *  # noqa: E402,F403

API_RATE_LIMIT_PER_SECOND = 0  # rate-limit tests turn it on explicitly
CHECKOUT_RATE_LIMIT_PER_MINUTE = 0
CHECKOUT_ATTEMPTS_PER_ORDER_PER_HOUR = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user fixtures
