"""factory-boy factories for the core models."""

from __future__ import annotations

import factory

from payments.models import Merchant


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    email = factory.Sequence(lambda n: f"merchant{n}@example.com")
