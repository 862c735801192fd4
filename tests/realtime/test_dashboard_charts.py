"""Overview charts (server-side SVG) take the values the seeded data implies: per local day
in the merchant's timezone, success rate by method, refunds, and per-endpoint webhook
success rate and p95 latency (Django test client, PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from payments.models import Payment
from realtime.services import merchant_user_link
from tests.realtime.charts_seed import seed_charts

pytestmark = pytest.mark.django_db


def bars(html: str, test_id: str) -> list[tuple[str, str]]:
    figure = html.split(f'data-test-id="{test_id}"')[1].split("</figure>")[0]
    return re.findall(r'data-test-id="chart-bar" data-label="([^"]*)" data-value="([^"]*)"', figure)


def test_overview_charts_take_the_seeded_values(alice, bob, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    seeded = seed_charts(alice.merchant, bob.merchant)
    client = Client()
    client.force_login(merchant_user_link(merchant=alice.merchant, email="owner@alice.example"))
    html = client.get("/dashboard/").content.decode()
    assert 'data-days="7"' in html
    assert bars(html, "chart-volume") == list(zip(seeded.labels, map(str, seeded.volume), strict=True))
    assert bars(html, "chart-count") == list(zip(seeded.labels, map(str, seeded.count), strict=True))
    assert bars(html, "chart-refunds") == list(zip(seeded.labels, map(str, seeded.refunded), strict=True))
    assert dict(bars(html, "chart-methods")) == {k: str(v) for k, v in seeded.method_rates.items()}
    assert dict(bars(html, "chart-endpoint-success")) == {k: str(v) for k, v in seeded.endpoint_rates.items()}
    assert dict(bars(html, "chart-endpoint-p95")) == {k: str(v) for k, v in seeded.endpoint_p95.items()}
    assert "<title>" + seeded.labels[3] + ": ₹400</title>" in html  # 40000 paise, for people
    month = client.get("/dashboard/?days=30").content.decode()
    volume = bars(month, "chart-volume")
    assert len(volume) == 30 and volume[-7:] == list(zip(seeded.labels, map(str, seeded.volume), strict=True))
    assert sum(int(v) for _, v in bars(month, "chart-count")) == 6
    # One mode at a time: the newest payment (40000, today) becomes a live one.
    Payment.objects.filter(merchant=alice.merchant, amount=40000).update(mode="live")
    live = client.get("/dashboard/?mode=live").content.decode()
    assert 'data-mode="live"' in live and [v for _, v in bars(live, "chart-volume")] == ["0"] * 6 + ["40000"]
    assert bars(live, "chart-refunds") == [(label, "0") for label in seeded.labels]  # the refund is a test one
    assert bars(live, "chart-endpoint-p95") == []  # the attempts are of test events
    test = client.get("/dashboard/?mode=test").content.decode()
    assert [v for _, v in bars(test, "chart-volume")] == [str(v) for v in seeded.volume[:6]] + ["0"]
    assert 'data-mode="all"' in client.get("/dashboard/?mode=prod").content.decode()
