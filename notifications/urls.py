"""Page routes of notifications (mounted at the site root, beside the dashboard's)."""

from django.urls import path

from notifications import views

urlpatterns: list = [
    path("dashboard/notifications", views.notifications_page, name="dashboard-notifications"),
]
