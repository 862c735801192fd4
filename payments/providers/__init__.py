"""Payment providers: the interface (:mod:`payments.providers.base`) and a registry.

``get_provider(name)`` returns the provider a payment was made with; the built-in
``simulator`` behaves like an acquirer for development, tests and demos.
"""

from __future__ import annotations

from functools import cache

from payments.providers.base import PaymentProvider


@cache
def _registry() -> dict[str, PaymentProvider]:
    from payments.providers.simulator.provider import SimulatorProvider

    return {"simulator": SimulatorProvider()}


def get_provider(name: str) -> PaymentProvider:
    from common.errors import NotFound

    try:
        return _registry()[name]
    except KeyError:
        raise NotFound(f"Unknown payment provider {name!r}", reason="unknown_provider") from None


def provider_names() -> list[str]:
    return sorted(_registry())
