"""Routes of the payments core API."""

from django.conf import settings
from django.urls import path

from payments.api import demo

urlpatterns: list = []

if settings.DEMO_MODE:
    urlpatterns += [
        path("test/merchant", demo.TestMerchantApi.as_view(), name="test-merchant"),
    ]
