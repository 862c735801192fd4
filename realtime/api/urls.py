"""API routes of this app, mounted under /api/v1/ by config/urls.py."""

from django.urls import path

from realtime.api.views import TicketCreateApi

urlpatterns: list = [
    path("realtime/tickets", TicketCreateApi.as_view(), name="realtime-ticket-create"),
]
