"""Models of the payments core, one module per concept."""

from payments.models.batches import PaymentBatch
from payments.models.customers import Customer, SavedPaymentMethod
from payments.models.events import Event
from payments.models.idempotency import IdempotencyKey
from payments.models.merchants import ApiKey, Merchant, Mode, creation_mode, merchant_scope
from payments.models.orders import MIN_ORDER_AMOUNT, Order
from payments.models.payments import CardNetwork, Payment, PaymentMethod, Refund, TimelineEntry
from payments.models.provider_notifications import ProviderNotification
from payments.providers.simulator.models import SimulatorConfig, SimulatorToken, SimulatorTransaction

__all__ = [
    "MIN_ORDER_AMOUNT",
    "ApiKey",
    "CardNetwork",
    "Customer",
    "Event",
    "IdempotencyKey",
    "Merchant",
    "Mode",
    "Order",
    "Payment",
    "PaymentBatch",
    "PaymentMethod",
    "ProviderNotification",
    "Refund",
    "SavedPaymentMethod",
    "SimulatorConfig",
    "SimulatorToken",
    "SimulatorTransaction",
    "TimelineEntry",
    "creation_mode",
    "merchant_scope",
]
