"""The simulated acquirer's card vault, which keeps no card numbers.

``tokenize`` sees the number once, in memory, and records only a random token, the test
card's outcome class (approve / decline / no_answer / standard), the network, last four
digits and expiry. A later payment with the token is decided by that class, as a real
acquirer decides by the card behind its token.
"""

from __future__ import annotations

import secrets
import uuid

from payments.models import Payment, SavedPaymentMethod
from payments.providers.base import TokenizeResult
from payments.providers.simulator.models import SimulatorToken
from payments.providers.simulator.outcomes import TEST_CARD_CLASSES
from payments.validation import CardDetails


def token_create(*, merchant_id: uuid.UUID, card: CardDetails) -> TokenizeResult:
    """Store a token for ``card`` (one INSERT) and return it."""
    row = SimulatorToken.objects.create(
        token="simtok_" + secrets.token_hex(12),
        merchant_id=merchant_id,
        outcome_class=TEST_CARD_CLASSES.get(card.number, SimulatorToken.OutcomeClass.STANDARD),
        card_network=card.network,
        card_last4=card.last4,
        expiry_month=card.expiry_month,
        expiry_year=card.expiry_year,
    )
    return TokenizeResult(
        token=row.token,
        card_network=row.card_network,
        card_last4=row.card_last4,
        expiry_month=row.expiry_month,
        expiry_year=row.expiry_year,
    )


def token_outcome_class(*, payment: Payment) -> str | None:
    """The outcome class of the token a card payment was made with; None without one."""
    if payment.payment_method_id is None or payment.method != "card":
        return None
    token = SavedPaymentMethod.objects.filter(pk=payment.payment_method_id).values("provider_token")[:1]
    return SimulatorToken.objects.filter(token=token).values_list("outcome_class", flat=True).first()
