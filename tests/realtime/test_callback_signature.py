"""The checkout's callback signature covers the outcome: the redirect the checkout produces
is verified by the merchant code published in docs/security.md (Python and Node, executed
as-is), and an edited ``status``, ``amount`` or ``currency`` fails it."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from django.test import Client

from realtime.checkout import callback_signature
from tests.realtime.helpers import make_payment, settle
from webhooks.services.endpoints import endpoint_default_get_or_create

pytestmark = pytest.mark.django_db
DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def docs_snippet(marker: str) -> str:
    text = DOCS.read_text()
    return re.search(rf"<!-- {marker} -->\n```\w+\n(.*?)```", text, re.S).group(1)


def python_verifier():
    namespace: dict = {}
    exec(docs_snippet("callback-verify-python"), namespace)  # our own published docs, run as a merchant would
    return namespace["verify_callback"]


def node_verify(url: str, secret: str) -> dict | None:
    script = (
        docs_snippet("callback-verify-node")
        + "\nconsole.log(JSON.stringify(verifyCallback(process.argv[1], process.argv[2])));"
    )
    result = subprocess.run(["node", "-e", script, url, secret], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(result.stdout)


def edited(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return urlunsplit((*parts[:3], urlencode({**query, **changes}), parts.fragment))


def redirect_for(merchant, *, to_status: str, amount: int = 50000) -> str:
    payment = make_payment(merchant=merchant, amount=amount)
    type(payment).objects.filter(pk=payment.id).update(callback_url="https://shop.example/return?cart=7")
    settle(payment, to_status)
    return Client().get(f"/checkout/payments/{payment.id}").json()["redirect_url"]


@pytest.mark.parametrize("to_status", ["success", "failed"])
def test_redirect_signs_status_amount_and_currency(alice, to_status):
    secret = endpoint_default_get_or_create(merchant=alice.merchant).secret
    url = redirect_for(alice.merchant, to_status=to_status, amount=77100)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["status"] == to_status and query["amount"] == "77100" and query["currency"] == "INR"
    assert query["signature"] == callback_signature(
        secret=secret,
        order_id=query["order_id"],
        payment_id=query["payment_id"],
        status=to_status,
        amount=77100,
        currency="INR",
    )


def test_docs_python_verifier_accepts_the_real_redirect_and_rejects_every_edit(alice):
    secret = endpoint_default_get_or_create(merchant=alice.merchant).secret
    verify = python_verifier()
    url = redirect_for(alice.merchant, to_status="failed")
    assert verify(url, secret)["status"] == "failed"
    assert verify(edited(url, status="success"), secret) is None  # the attack the issue measured
    assert verify(edited(url, amount="1"), secret) is None
    assert verify(edited(url, currency="USD"), secret) is None
    assert verify(url, "whsec_someone_elses") is None
    assert verify(edited(url, signature=""), secret) is None


def test_docs_node_verifier_accepts_the_real_redirect_and_rejects_an_edited_status(alice):
    secret = endpoint_default_get_or_create(merchant=alice.merchant).secret
    url = redirect_for(alice.merchant, to_status="failed")
    assert node_verify(url, secret)["status"] == "failed"
    assert node_verify(edited(url, status="success"), secret) is None
    assert node_verify(edited(url, amount="1"), secret) is None
