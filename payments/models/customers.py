"""Customers of a merchant and the payment methods they saved.

A saved card is only the provider's token plus what a receipt or a picker shows (network,
last four digits, expiry) and a keyed fingerprint (:mod:`payments.fingerprints`) that
recognises the same card again without keeping it. The number and CVV never reach a row.
"""

from __future__ import annotations

from django.db import models

from payments.ids import new_customer_id, new_payment_method_id
from payments.models.merchants import Merchant, mode_field
from payments.models.payments import CardNetwork, PaymentMethod


class Customer(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_customer_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="customers")
    mode = mode_field()  # test or live: the acting key's
    email = models.EmailField(max_length=254, null=True, blank=True)
    name = models.CharField(max_length=255, null=True, blank=True)
    # E.164 (+919876543210): what an SMS gateway needs.
    phone = models.CharField(max_length=16, null=True, blank=True)
    # BCP 47 tag (en-IN, de-DE): how amounts and times are written in this customer's receipts.
    locale = models.CharField(max_length=16, default="en-IN")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "customers"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="customers_merchant_created")]

    def __str__(self) -> str:
        return self.id


class SavedPaymentMethod(models.Model):
    """A customer's saved card (a provider token) or UPI address (``pm_…``).

    Deleting one sets ``deleted_at``: payments made with it keep their reference (and a
    payment still in flight its token), and no new payment can use it."""

    id = models.CharField(primary_key=True, max_length=32, default=new_payment_method_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="payment_methods")
    mode = mode_field()  # its customer's
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payment_methods")
    type = models.CharField(max_length=8, choices=PaymentMethod.choices)
    provider = models.CharField(max_length=32)
    provider_token = models.CharField(max_length=64, null=True, blank=True)
    card_network = models.CharField(max_length=16, choices=CardNetwork.choices, null=True, blank=True)
    card_last4 = models.CharField(max_length=4, null=True, blank=True)
    expiry_month = models.PositiveSmallIntegerField(null=True, blank=True)
    expiry_year = models.PositiveSmallIntegerField(null=True, blank=True)
    vpa = models.CharField(max_length=255, null=True, blank=True)
    # HMAC-SHA256 (hex) of the card number or VPA under PAYMENT_METHOD_FINGERPRINT_KEY.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "payment_methods"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="payment_methods_customer")]
        constraints = [
            # Saving the same card (or VPA) twice for one customer gives back the first method.
            models.UniqueConstraint(
                fields=["customer", "fingerprint"],
                condition=models.Q(deleted_at__isnull=True),
                name="payment_methods_one_live_per_fingerprint",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(type="card", card_last4__isnull=False, expiry_month__isnull=False)
                    | models.Q(type="upi", vpa__isnull=False)
                ),
                name="payment_methods_type_fields",
            ),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
