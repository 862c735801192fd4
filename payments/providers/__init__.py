"""Payment providers: the interface (:mod:`payments.providers.base`) and a registry.

``get_provider(name)`` returns the provider a payment was made with; the built-in
``simulator`` behaves like an acquirer for development, tests and demos. Providers are
registered (``register_provider``) in ``PaymentsConfig.ready``, like every other registry
(:mod:`common.registry`); a new provider is one more line there.
"""

from __future__ import annotations

from common.errors import NotFound
from common.registry import Registry
from payments.providers.base import PaymentProvider

payment_providers: Registry[PaymentProvider] = Registry("payment provider")


def register_provider(name: str, provider: PaymentProvider) -> None:
    payment_providers.register(name, provider)


def get_provider(name: str) -> PaymentProvider:
    try:
        return payment_providers.get(name)
    except LookupError:
        raise NotFound(f"Unknown payment provider {name!r}", reason="unknown_provider") from None


def provider_names() -> list[str]:
    return payment_providers.names()
