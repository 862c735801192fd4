"""Routes of the payments core API (mounted under /api/v1/; no trailing slashes)."""

from django.conf import settings
from django.urls import path

from payments.api import batches, customers, demo, events, jobs, orders, payments, provider_webhooks, refunds

urlpatterns: list = [
    path("orders", orders.OrdersApi.as_view(), name="orders"),
    path("orders/<str:order_id>", orders.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<str:order_id>/public", orders.OrderPublicApi.as_view(), name="order-public"),
    path("payments", payments.PaymentsApi.as_view(), name="payments"),
    path("payments/public", payments.PaymentPublicCreateApi.as_view(), name="payment-public-create"),
    path("payments/batch", batches.PaymentBatchesApi.as_view(), name="payment-batches"),
    path("payments/batch/<str:batch_id>", batches.PaymentBatchDetailApi.as_view(), name="payment-batch-detail"),
    path("payments/<str:payment_id>", payments.PaymentDetailApi.as_view(), name="payment-detail"),
    path("payments/<str:payment_id>/public", payments.PaymentPublicApi.as_view(), name="payment-public"),
    path("payments/<str:payment_id>/status", payments.payment_status, name="payment-status"),
    path("payments/<str:payment_id>/capture", payments.PaymentCaptureApi.as_view(), name="payment-capture"),
    path("payments/<str:payment_id>/cancel", payments.PaymentCancelApi.as_view(), name="payment-cancel"),
    path("payments/<str:payment_id>/refunds", payments.PaymentRefundsApi.as_view(), name="payment-refunds"),
    path("refunds", refunds.RefundsApi.as_view(), name="refunds"),
    path("refunds/<str:refund_id>", refunds.RefundDetailApi.as_view(), name="refund-detail"),
    path("customers", customers.CustomersApi.as_view(), name="customers"),
    path("customers/<str:customer_id>", customers.CustomerDetailApi.as_view(), name="customer-detail"),
    path(
        "customers/<str:customer_id>/payment-methods",
        customers.CustomerPaymentMethodsApi.as_view(),
        name="customer-payment-methods",
    ),
    path(
        "customers/<str:customer_id>/payment-methods/<str:payment_method_id>",
        customers.CustomerPaymentMethodDetailApi.as_view(),
        name="customer-payment-method-detail",
    ),
    path("events", events.EventsApi.as_view(), name="events"),
    path("events/<str:event_id>", events.EventDetailApi.as_view(), name="event-detail"),
    path(
        "provider-webhooks/<str:provider>",
        provider_webhooks.ProviderWebhookApi.as_view(),
        name="provider-webhook",
    ),
]

if settings.DEMO_MODE:
    urlpatterns += [
        path("test/merchant", demo.TestMerchantApi.as_view(), name="test-merchant"),
        path("test/jobs/status", jobs.JobsStatusApi.as_view(), name="test-jobs-status"),
    ]
