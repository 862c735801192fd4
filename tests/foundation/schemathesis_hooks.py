"""Schemathesis hooks for tests/foundation/test_schemathesis.py (loaded by schemathesis,
not by pytest).

One adjustment, and why: schemathesis draws ``Idempotency-Key`` values from a small space
("0", "00", ...), so unrelated requests share a key, and a key reused with another request
is a 400 ``idempotency_key_reused`` by design (tests/payments/test_contract.py proves that
rule). A well-formed key is therefore made unique per request; a malformed one is left as
generated, so the negative checks still see the server refuse it.
"""

from __future__ import annotations

import re
import uuid

import schemathesis

WELL_FORMED_KEY = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]{0,244}[\x21-\x7e])?$")


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    headers = case.headers or {}
    for name in list(headers):
        value = headers[name]
        if name.lower() == "idempotency-key" and isinstance(value, str) and WELL_FORMED_KEY.match(value):
            headers[name] = f"st-{uuid.uuid4().hex}"
