"""Websocket routes, mounted by config/asgi.py."""

from django.urls import re_path

from realtime.consumers import MerchantConsumer, PaymentConsumer

websocket_urlpatterns: list = [
    re_path(r"^ws/payments/(?P<payment_id>pay_[A-Za-z0-9]{16})$", PaymentConsumer.as_asgi()),
    re_path(r"^ws/merchant$", MerchantConsumer.as_asgi()),
]
