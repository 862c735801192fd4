"""Models of the payments core, one module per concept."""

from payments.models.events import Event
from payments.models.idempotency import IdempotencyKey
from payments.models.merchants import ApiKey, Merchant
from payments.models.orders import MIN_ORDER_AMOUNT, Order
from payments.models.payments import CardNetwork, Payment, PaymentMethod, Refund, TimelineEntry

__all__ = [
    "MIN_ORDER_AMOUNT",
    "ApiKey",
    "CardNetwork",
    "Event",
    "IdempotencyKey",
    "Merchant",
    "Order",
    "Payment",
    "PaymentMethod",
    "Refund",
    "TimelineEntry",
]
