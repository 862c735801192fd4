"""Orders: the unit a customer pays for. At most one successful payment per order."""

from __future__ import annotations

from django.db import models

from payments.ids import new_order_id
from payments.models.merchants import Merchant, mode_field
from payments.money import DEFAULT_CURRENCY
from payments.states import OrderStatus

MIN_ORDER_AMOUNT = 100


class Order(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_order_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="orders")
    mode = mode_field()  # test or live: the acting key's, or its parent object's
    amount = models.BigIntegerField(help_text="minor units")
    currency = models.CharField(max_length=3, default=DEFAULT_CURRENCY)
    receipt = models.CharField(max_length=64, null=True, blank=True)
    notes = models.JSONField(default=dict, blank=True)
    # Where the hosted checkout sends the browser when a payment of this order ends; a
    # payment created with its own callback_url keeps that one.
    callback_url = models.URLField(max_length=2048, null=True, blank=True)
    # The customer the order is for: its payments send receipts to them.
    customer = models.ForeignKey(
        "payments.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.CREATED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "orders"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="orders_merchant_created")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=MIN_ORDER_AMOUNT), name="orders_amount_min"),
        ]

    def __str__(self) -> str:
        return self.id
