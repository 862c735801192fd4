"""Factories for the payments core (orders, payments in any state, refunds)."""

from __future__ import annotations

import factory
from django.utils import timezone

from payments.models import Order, Payment, Refund
from tests.factories import MerchantFactory


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    merchant = factory.SubFactory(MerchantFactory)
    amount = 50000
    currency = "INR"
    receipt = factory.Sequence(lambda n: f"rcpt_{n}")


class PaymentFactory(factory.django.DjangoModelFactory):
    """A payment as the worker would leave it; ``status="success"`` etc. via kwargs."""

    class Meta:
        model = Payment

    merchant = factory.SelfAttribute("order.merchant")
    order = factory.SubFactory(OrderFactory)
    amount = factory.SelfAttribute("order.amount")
    currency = factory.SelfAttribute("order.currency")
    method = "upi"
    vpa = "success@upi"
    status = "pending"


class SuccessfulPaymentFactory(PaymentFactory):
    status = "success"
    version = 3
    submitted_at = factory.LazyFunction(timezone.now)
    provider_reference = factory.Sequence(lambda n: f"sim_test_{n}")


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund

    payment = factory.SubFactory(SuccessfulPaymentFactory)
    merchant = factory.SelfAttribute("payment.merchant")
    amount = 1000
