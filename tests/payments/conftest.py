"""Fixtures of the payments tests."""

from __future__ import annotations

import pytest

from payments.models import SimulatorConfig

VISA_OK = "4111 1111 1111 1111"
VISA_DECLINED = "4000 0000 0000 0002"
VISA_TIMEOUT = "4000 0000 0000 0119"


def card(number: str = VISA_OK, **overrides) -> dict:
    body = {"number": number, "expiry_month": 12, "expiry_year": 2099, "cvv": "123", "holder_name": "Asha Rao"}
    body.update(overrides)
    return body


@pytest.fixture
def simulator(db):
    """The simulator's knobs, reset to a well-behaved acquirer."""
    config, _ = SimulatorConfig.objects.update_or_create(
        pk=1,
        defaults={
            "drop_rate": 0.0,
            "duplicate_rate": 0.0,
            "reorder_rate": 0.0,
            "extra_delay_ms": 0,
            "settle_failed_rate": 0.0,
            "amount_change_rate": 0.0,
            "submit_unreachable_rate": 0.0,
            "submit_reply_lost_rate": 0.0,
        },
    )
    return config
