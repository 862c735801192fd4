"""DRF serializers of the notifications API: query, input and the documented shapes."""

from __future__ import annotations

from rest_framework import serializers

from common.http.query import PageQuery, QueryText
from payments.api.fields import StrictBooleanField


class NotificationsQuery(PageQuery):
    payment_id = QueryText(max_length=32, help_text="only this payment's notifications")


class Notification(serializers.Serializer):
    id = serializers.CharField(help_text="ntf_ + 16 alphanumerics")
    channel = serializers.ChoiceField(["email", "sms"])
    to = serializers.CharField(help_text="email address or E.164 phone number")
    event_id = serializers.CharField()
    event_type = serializers.CharField(help_text="payment.success, payment.failed or refund.processed")
    payment_id = serializers.CharField()
    refund_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(["pending", "sent", "failed"])
    attempts = serializers.IntegerField()
    last_error = serializers.CharField(allow_blank=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class NotificationSettings(serializers.Serializer):
    email_enabled = serializers.BooleanField(help_text="email receipts to customers")
    sms_enabled = serializers.BooleanField(help_text="SMS receipts (needs the customer's phone and an SMS backend)")


class NotificationSettingsUpdate(serializers.Serializer):
    email_enabled = StrictBooleanField(required=False)
    sms_enabled = StrictBooleanField(required=False)
