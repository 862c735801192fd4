"""API routes of this app, mounted under /api/v1/ by config/urls.py."""

from django.urls import path

from reconciliation.api import views

urlpatterns: list = [
    path("reconciliation/runs", views.RunListApi.as_view(), name="reconciliation-runs"),
    path("reconciliation/runs/<str:run_id>", views.RunDetailApi.as_view(), name="reconciliation-run"),
    path("reconciliation/discrepancies", views.DiscrepancyListApi.as_view(), name="reconciliation-discrepancies"),
    path(
        "reconciliation/discrepancies/<str:discrepancy_id>",
        views.DiscrepancyDetailApi.as_view(),
        name="reconciliation-discrepancy",
    ),
]
