"""How the simulated acquirer decides: deterministic test instruments first, then the
TEST_MODE flags, then the configured dice. The card number never reaches the worker, so
test cards are recognised by network + last four digits.

Test instruments belong to test mode: for a live payment (only possible with
SIMULATOR_ALLOW_LIVE_KEYS) ``success@upi`` or 4111 1111 1111 1111 are ordinary
instruments, decided like any other, so nobody can pay live orders with a test card."""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.conf import settings

from payments.providers.simulator.models import SimulatorConfig

SUCCESS = "success"
FAILED = "failed"
TIMEOUT = "timeout"  # the acquirer never answers; get_status keeps saying pending

# VPA -> (outcome, error_code, error_description)
TEST_VPAS: dict[str, tuple[str, str | None, str | None]] = {
    "success@upi": (SUCCESS, None, None),
    "failure@upi": (FAILED, "payment_declined", "The payer's bank declined the UPI payment"),
    "timeout@upi": (TIMEOUT, None, None),
}
# (network, last4) -> outcome, for 4111 1111 1111 1111, 4000 0000 0000 0002, 4000 0000 0000 0119
TEST_CARDS: dict[tuple[str, str], tuple[str, str | None, str | None]] = {
    ("visa", "1111"): (SUCCESS, None, None),
    ("visa", "0002"): (FAILED, "card_declined", "The card was declined by the issuer"),
    ("visa", "0119"): (TIMEOUT, None, None),
}
# Tokenisation sees the whole number (once, in memory) and records only its outcome class;
# payments with the token are then decided by the class. Numbers not listed are "standard".
TEST_CARD_CLASSES: dict[str, str] = {
    "4111111111111111": "approve",
    "4000000000000002": "decline",
    "4000000000000119": "no_answer",
}
TOKEN_OUTCOMES: dict[str, tuple[str, str | None, str | None]] = {
    "approve": TEST_CARDS[("visa", "1111")],
    "decline": TEST_CARDS[("visa", "0002")],
    "no_answer": TEST_CARDS[("visa", "0119")],
}
GENERIC_DECLINE = ("payment_failed", "The payment was declined by the provider")


@dataclass(frozen=True)
class Decision:
    outcome: str
    error_code: str | None
    error_description: str | None
    delay_ms: int


def simulator_config() -> SimulatorConfig:
    config, _ = SimulatorConfig.objects.get_or_create(pk=1)
    return config


def decide(
    *,
    config: SimulatorConfig,
    method: str,
    vpa: str | None,
    card_network: str | None,
    card_last4: str | None,
    token_outcome_class: str | None = None,
    live: bool = False,
) -> Decision:
    if live:
        fixed = None  # test instruments mean nothing for live payments
    elif token_outcome_class is not None:  # a saved card: decided by what tokenisation recorded
        fixed = TOKEN_OUTCOMES.get(token_outcome_class)
    elif method == "upi":
        fixed = TEST_VPAS.get((vpa or "").lower())
    else:
        fixed = TEST_CARDS.get((card_network, card_last4))
    if fixed is not None:
        outcome, code, description = fixed
    elif settings.TEST_MODE:
        outcome, code, description = (
            (SUCCESS, None, None) if settings.TEST_PAYMENT_SUCCESS else (FAILED, *GENERIC_DECLINE)
        )
    else:
        rate = config.upi_success_rate if method == "upi" else config.card_success_rate
        outcome, code, description = (SUCCESS, None, None) if random.random() < rate else (FAILED, *GENERIC_DECLINE)
    if settings.TEST_MODE:
        delay = settings.TEST_PROCESSING_DELAY_MS
    else:
        low, high = sorted((config.min_delay_ms, config.max_delay_ms))
        delay = random.randint(low, high)
    return Decision(outcome, code, description, delay + config.extra_delay_ms)


def settlement_for(*, config: SimulatorConfig, outcome: str, amount: int) -> tuple[str | None, int | None]:
    """What the acquirer will put in its settlement file, decided once (files are stable).

    Faults: a declined payment settled anyway (``settle_failed_rate``), a settled amount
    that differs from the authorised one (``amount_change_rate``)."""
    if outcome == TIMEOUT:
        return None, None
    status = outcome
    if outcome == FAILED and random.random() < config.settle_failed_rate:
        status = SUCCESS
    settled_amount = amount
    if status == SUCCESS and random.random() < config.amount_change_rate:
        settled_amount = max(1, amount - max(1, amount // 100))
    return status, settled_amount
