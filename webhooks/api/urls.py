"""API routes of this app, mounted under /api/v1/ by config/urls.py."""

from django.urls import path

from webhooks.api import views

urlpatterns: list = [
    path("webhook-endpoints", views.EndpointListApi.as_view(), name="webhook-endpoints"),
    path("webhook-endpoints/<str:endpoint_id>", views.EndpointDetailApi.as_view(), name="webhook-endpoint"),
    path(
        "webhook-endpoints/<str:endpoint_id>/rotate-secret",
        views.EndpointRotateSecretApi.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path("webhook-endpoints/<str:endpoint_id>/test", views.EndpointTestApi.as_view(), name="webhook-endpoint-test"),
    path(
        "webhook-endpoints/<str:endpoint_id>/recover",
        views.EndpointRecoverApi.as_view(),
        name="webhook-endpoint-recover",
    ),
    path("webhooks", views.DeliveryListApi.as_view(), name="webhooks"),
    path("webhooks/logs", views.DeliveryLogsAliasApi.as_view(), name="webhooks-logs"),
    path("webhooks/<str:delivery_id>", views.DeliveryDetailApi.as_view(), name="webhook"),
    path("webhooks/<str:delivery_id>/attempts", views.DeliveryAttemptsApi.as_view(), name="webhook-attempts"),
    path("webhooks/<str:delivery_id>/retry", views.DeliveryRetryApi.as_view(), name="webhook-retry"),
]
