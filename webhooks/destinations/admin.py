"""Admin: event destinations with their cursor, lag and last error; actions call services."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from webhooks.destinations import services
from webhooks.destinations.models import EventDestination
from webhooks.destinations.selectors import destination_lag


def _actor(request: HttpRequest) -> str:
    return f"staff:{request.user.get_username()}"


@admin.register(EventDestination)
class EventDestinationAdmin(admin.ModelAdmin):
    list_display = ("id", "merchant", "type", "status", "lag", "last_error", "published_total", "last_published_at")
    list_filter = ("type", "enabled")
    search_fields = ("id", "merchant__name", "merchant__email", "description")
    list_select_related = ("merchant",)
    exclude = ("credentials",)  # never shown, not even to staff
    readonly_fields = (
        "id",
        "merchant",
        "type",
        "target",
        "cursor_txid",
        "cursor_seq",
        "published_total",
        "last_published_at",
        "last_error",
        "failing_since",
        "consecutive_failures",
        "next_attempt_at",
        "failure_notified_at",
        "locked_until",
        "lease_token",
        "created_at",
        "updated_at",
    )
    actions = ["disable", "enable", "replay_hour", "replay_day"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # merchants register destinations through the API (SSRF policy, credentials)

    @admin.display(description="lag")
    def lag(self, obj: EventDestination) -> int:
        return destination_lag(obj)

    @admin.action(description="Disable")
    def disable(self, request: HttpRequest, queryset: QuerySet[EventDestination]) -> None:
        for destination in queryset:
            services.destination_update(destination=destination, enabled=False, actor=_actor(request))

    @admin.action(description="Enable")
    def enable(self, request: HttpRequest, queryset: QuerySet[EventDestination]) -> None:
        for destination in queryset:
            services.destination_update(destination=destination, enabled=True, actor=_actor(request))

    def _replay(self, request: HttpRequest, queryset: QuerySet[EventDestination], hours: int) -> None:
        since = timezone.now() - timedelta(hours=hours)
        for destination in queryset:
            services.destination_replay(destination=destination, since=since, actor=_actor(request))
        messages.info(request, f"{queryset.count()} destination(s) replaying from {since:%Y-%m-%d %H:%M} UTC")

    @admin.action(description="Replay the last hour")
    def replay_hour(self, request: HttpRequest, queryset: QuerySet[EventDestination]) -> None:
        self._replay(request, queryset, 1)

    @admin.action(description="Replay the last 24 hours")
    def replay_day(self, request: HttpRequest, queryset: QuerySet[EventDestination]) -> None:
        self._replay(request, queryset, 24)
