"""The one outbound HTTP client of the payments core: the simulator's notifications.

It plays an external acquirer calling our inbound webhook endpoint, so it is plain
``requests`` with short timeouts and no redirects (no SSRF guard: it only ever calls the
gateway's own configured base URL).
"""

from __future__ import annotations

import requests  # noqa: TID251 - the provider client is the one module allowed to

CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 10.0
_session = requests.Session()


def post_json(*, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` and return the status code; raises ``OSError``-like errors upward."""
    response = _session.post(
        url,
        data=body,
        headers={"Content-Type": "application/json", **headers},
        timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
        allow_redirects=False,
    )
    return response.status_code


HTTPError = requests.RequestException
