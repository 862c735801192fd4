"""The one outbound HTTP client of the payments core: the simulator's notifications, and
the rule an acquirer's HTTP client applies to a failed call (:func:`provider_error_for`).

It plays an external acquirer calling our inbound webhook endpoint, so it is plain
``requests`` with short timeouts and no redirects (no SSRF guard: it only ever calls the
gateway's own configured base URL).
"""

from __future__ import annotations

import requests  # noqa: TID251 - the provider client is the one module allowed to
from urllib3.exceptions import MaxRetryError, NewConnectionError

from payments.providers.base import ProviderError, ProviderNotReached, ProviderOutcomeUnknown

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


def provider_error_for(exc: requests.RequestException) -> ProviderError:
    """What a failed HTTP call to an acquirer proves (docs/payments.md "Ambiguous provider
    outcome"). Only a failure to open the connection — a connect timeout, a refused
    connection, a name that does not resolve (urllib3's ``NewConnectionError``) — proves no
    byte of the request left this host: :class:`ProviderNotReached`. Everything else (a read
    timeout, a connection reset or closed mid-response, a TLS error, a malformed answer)
    happened after the request may have been sent: :class:`ProviderOutcomeUnknown`."""
    if isinstance(exc, requests.ConnectTimeout):
        return ProviderNotReached(str(exc))
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    if isinstance(exc, requests.ConnectionError) and isinstance(cause, NewConnectionError):
        return ProviderNotReached(str(exc))
    return ProviderOutcomeUnknown(str(exc))
