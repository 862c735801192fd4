"""The broker interface: one module per destination type, registered in
:mod:`webhooks.destinations.brokers.registry`.

An adapter module provides

* ``SCHEMES``: the URL schemes it accepts, the first being the plain one;
* ``target_clean(target, *, merchant_id) -> dict``: the type's own keys, validated and
  defaulted (raises :class:`common.http.errors.InvalidInput`);
* ``url_check(broker)``: what the type requires of the URL's path (database, vhost, ...);
* ``publisher_open(*, broker, target) -> Publisher``: a connection, made to the address
  :func:`broker_address` checked (the SSRF policy again, at connect).

A ``Publisher.publish(messages)`` returns only once the broker confirmed every message of
the batch, and raises :class:`PublishError` otherwise; the caller advances its cursor on
return. A Kafka adapter would be one more module here (topic per merchant, key = object id,
idempotent producer; see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from django.conf import settings

from common.errors import InvalidInput
from webhooks.transport import UnsafeUrl, resolve_checked


class Message(NamedTuple):
    """One event as published: the exact signed webhook body plus what a consumer needs to
    deduplicate (``event_id``) and order (``object_id`` + ``version``) without parsing it.
    (A named tuple: one is made per event, and it costs a fraction of a frozen dataclass.)"""

    event_id: str
    type: str
    object_id: str
    version: int
    body: bytes
    correlation_id: str | None = None


class PublishError(Exception):
    """The broker did not confirm the batch (down, refused, timed out); ``error_class`` is a
    short stable cause for ``last_error``."""

    def __init__(self, error_class: str, detail: str) -> None:
        super().__init__(f"{error_class}: {detail}")
        self.error_class = error_class
        self.detail = detail


class Publisher(Protocol):
    def publish(self, messages: Sequence[Message]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class BrokerUrl:
    scheme: str
    host: str
    port: int
    path: str  # without the leading "/"
    username: str
    password: str

    @property
    def public(self) -> str:
        """The URL as stored and shown: no credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return urlunsplit((self.scheme, f"{host}:{self.port}", "/" + self.path if self.path else "", "", ""))

    @property
    def masked(self) -> str:
        """The URL as the API shows it: the user name kept, the password masked."""
        if not (self.username or self.password):
            return self.public
        userinfo = quote(self.username, safe="") + (":****" if self.password else "")
        scheme, rest = self.public.split("://", 1)
        return f"{scheme}://{userinfo}@{rest}"

    @property
    def credentials(self) -> str:
        if not (self.username or self.password):
            return ""
        return f"{quote(self.username, safe='')}:{quote(self.password, safe='')}"


def broker_url_parse(url: object, *, schemes: Sequence[str], default_ports: dict[str, int]) -> BrokerUrl:
    """Parse and check a broker URL at registration (SSRF policy included)."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("target.url is required", field="target.url", reason="missing_url")
    url = url.strip()
    if len(url) > 2048:
        raise InvalidInput("target.url must be at most 2048 characters", field="target.url", reason="invalid_url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"target.url is not valid: {exc}", field="target.url", reason="invalid_url") from exc
    if parts.scheme not in schemes:
        raise InvalidInput(
            "target.url must start with " + " or ".join(f"{s}://" for s in schemes),
            field="target.url",
            reason="unsupported_scheme",
        )
    if not parts.hostname:
        raise InvalidInput("target.url has no host", field="target.url", reason="invalid_url")
    if parts.query or parts.fragment:
        raise InvalidInput("target.url must not have a query or fragment", field="target.url", reason="invalid_url")
    parsed = BrokerUrl(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or default_ports[parts.scheme],
        path=parts.path.lstrip("/"),
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )
    try:
        resolve_checked(parsed.host, parsed.port, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)
    except UnsafeUrl as exc:
        raise InvalidInput(exc.description, field="target.url", reason=exc.reason) from exc
    return parsed


def broker_url_with_credentials(*, url: str, credentials: str) -> BrokerUrl:
    """The stored public URL and credentials put back together (no SSRF check here)."""
    parts = urlsplit(url)
    username, _, password = credentials.partition(":")
    return BrokerUrl(
        scheme=parts.scheme,
        host=parts.hostname or "",
        port=parts.port or 0,
        path=parts.path.lstrip("/"),
        username=unquote(username),
        password=unquote(password),
    )


def broker_address(broker: BrokerUrl) -> str:
    """The SSRF policy at connect: resolve once, refuse a non-allowed address, return the
    checked address to connect to (DNS cannot swap in a private one after registration)."""
    try:
        return resolve_checked(broker.host, broker.port, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)
    except UnsafeUrl as exc:
        raise PublishError(exc.reason, exc.description) from exc
