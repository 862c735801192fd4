"""JSON responses without DRF's renderer: an endpoint renders a plain dict once, and that exact
byte string is what an idempotent replay returns (payments.api.http.mutate)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

from common.http.inputs import JSON


def render(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(data: Any, *, status: int = 200) -> HttpResponse:
    return HttpResponse(render(data), status=status, content_type=JSON)
