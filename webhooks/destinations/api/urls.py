"""API routes of event destinations, mounted under /api/v1/ by config/urls.py."""

from django.urls import path

from webhooks.destinations.api import views

urlpatterns: list = [
    path("event-destinations", views.DestinationListApi.as_view(), name="event-destinations"),
    path("event-destinations/<str:destination_id>", views.DestinationDetailApi.as_view(), name="event-destination"),
    path(
        "event-destinations/<str:destination_id>/replay",
        views.DestinationReplayApi.as_view(),
        name="event-destination-replay",
    ),
]
