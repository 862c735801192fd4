"""The provider interface: what the payments core needs from an acquirer.

A provider takes payments and refunds (``submit``/``refund``), keeps cards for later
payments (``tokenize``: the gateway stores only the token it returns), answers status queries
(``get_status``, used by the stuck-payment job), publishes settlement files
(``fetch_settlement``, used by reconciliation) and signs the notifications it sends to
``POST /api/v1/provider-webhooks/<name>`` (``verify_webhook``). Implementations must be
idempotent per payment/refund id: the worker may call ``submit`` again after a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import uuid

    from payments.models import Payment, Refund
    from payments.validation import CardDetails

SETTLEMENT_COLUMNS = (
    "provider_reference",
    "payment_id",
    "order_id",
    "amount",
    "currency",
    "status",
    "settled_at",
    "fee",
)


class ProviderError(Exception):
    """A provider call failed; the caller retries later.

    Unless it is a :class:`ProviderNotReached`, the request may have reached the provider
    and been acted on (a read timeout, a connection dropped after the request was sent, a
    5xx from a proxy in front of it): its outcome is *unknown*. A submit that fails like
    that leaves the payment pending and not cancellable until the provider's answer to a
    retried submit (idempotent per payment id), its notification or reconciliation decides."""


class ProviderNotReached(ProviderError):
    """The error proves the provider never received the request: the connection was
    refused, the name did not resolve, the connect (or TLS handshake) timed out before a
    byte of the request was sent, or the provider answered that it did not accept it.
    Only this releases a payment's submission (it may be cancelled again)."""


class ProviderOutcomeUnknown(ProviderError):
    """The request was (or may have been) sent and no answer came back: a timeout while
    waiting for the response, or the connection dropped mid-response."""


class InvalidSignature(Exception):
    """An inbound notification failed signature verification."""


@dataclass(frozen=True)
class SubmitResult:
    reference: str


@dataclass(frozen=True)
class TokenizeResult:
    """A card the provider now keeps: its token and what may be shown of the card."""

    token: str
    card_network: str
    card_last4: str
    expiry_month: int
    expiry_year: int


@dataclass(frozen=True)
class ProviderStatus:
    """What the provider says about a payment or refund. ``status`` is one of
    ``pending`` (still deciding, or the provider cannot tell), ``success``, ``failed``
    (payments) or ``processed``, ``failed`` (refunds)."""

    status: str
    error_code: str | None = None
    error_description: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status != "pending"


@dataclass(frozen=True)
class ProviderNotification:
    """A verified inbound notification, normalised."""

    event_id: str
    object_type: str  # "payment" | "refund"
    object_id: str  # our pay_/rfnd_ id
    reference: str
    status: str
    error_code: str | None
    error_description: str | None
    payload: dict


@runtime_checkable
class PaymentProvider(Protocol):
    name: str

    def submit(self, *, payment: Payment) -> SubmitResult: ...

    def tokenize(self, *, merchant_id: uuid.UUID, card: CardDetails) -> TokenizeResult: ...

    def get_status(self, *, reference: str) -> ProviderStatus: ...

    def refund(self, *, refund: Refund, payment: Payment) -> SubmitResult: ...

    def fetch_settlement(self, *, period_start: datetime, period_end: datetime) -> bytes: ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderNotification: ...
