"""Admin: the operations console for webhooks. Actions call services and are audited."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone

from common.errors import DomainError
from payments.secret_display import secret_shown_once
from webhooks.models import WebhookAttempt, WebhookAudit, WebhookDelivery, WebhookEndpoint
from webhooks.services import endpoints as endpoint_services
from webhooks.services.delivery import delivery_retry


def _actor(request: HttpRequest) -> str:
    return f"staff:{request.user.get_username()}"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("id", "merchant", "url", "enabled", "is_default", "disabled_reason", "failing_since", "created_at")
    list_filter = ("enabled", "is_default", "disabled_reason")
    search_fields = ("id", "url", "merchant__name", "merchant__email")
    list_select_related = ("merchant",)
    readonly_fields = (
        "id",
        "merchant",
        "is_default",
        "previous_secret_expires_at",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "deleted_at",
        "created_at",
        "updated_at",
    )
    exclude = ("secret", "previous_secret")
    actions = ["rotate_secret", "disable", "enable", "send_test", "recover_day", "recover_week"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # merchants create endpoints through the API or the dashboard

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description="Rotate secret (old one signs for 24 h)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> TemplateResponse:
        rotated = []
        for endpoint in queryset:
            _, secret = endpoint_services.endpoint_rotate_secret(endpoint=endpoint, actor=_actor(request))
            rotated.append((endpoint.id, secret))
        return secret_shown_once(
            request,
            title=f"{len(rotated)} webhook secret(s) rotated",
            secrets=rotated,
            continue_url=request.get_full_path(),
            note="Give each new secret to its merchant; the old one keeps signing for 24 hours.",
        )

    @admin.action(description="Disable")
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            endpoint_services.endpoint_disable(
                endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.MANUAL, actor=_actor(request)
            )
        messages.success(request, f"{queryset.count()} endpoint(s) disabled")

    @admin.action(description="Enable")
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            endpoint_services.endpoint_enable(endpoint=endpoint, actor=_actor(request))
        messages.success(request, f"{queryset.count()} endpoint(s) enabled")

    @admin.action(description="Send a webhook.test event")
    def send_test(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            try:
                event_id = endpoint_services.endpoint_test(endpoint=endpoint, actor=_actor(request))
                messages.success(request, f"{endpoint.id}: test event {event_id} scheduled")
            except DomainError as exc:
                messages.error(request, f"{endpoint.id}: {exc.description}")

    def _recover(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint], days: int) -> None:
        since = timezone.now() - timedelta(days=days)
        for endpoint in queryset:
            try:
                count = endpoint_services.endpoint_recover(endpoint=endpoint, since=since, actor=_actor(request))
                messages.success(request, f"{endpoint.id}: {count} failed deliveries re-queued")
            except DomainError as exc:
                messages.error(request, f"{endpoint.id}: {exc.description}")

    @admin.action(description="Recover failed deliveries of the last 24 h")
    def recover_day(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._recover(request, queryset, 1)

    @admin.action(description="Recover failed deliveries of the last 7 days")
    def recover_week(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._recover(request, queryset, 7)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "status_code", "latency_ms", "error_class", "error", "response_body")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "merchant",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "response_code",
        "last_error",
        "next_retry_at",
        "created_at",
    )
    list_filter = ("status", "event_type", "last_error")
    search_fields = ("id", "event__id", "endpoint__id", "merchant__email")
    list_select_related = ("merchant", "endpoint")
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [WebhookAttemptInline]
    actions = ["retry"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description="Retry now (new schedule)")
    def retry(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        done = 0
        for delivery in queryset:
            try:
                delivery_retry(delivery=delivery, actor=_actor(request))
                done += 1
            except DomainError as exc:
                messages.error(request, f"{delivery.id}: {exc.description}")
        messages.success(request, f"{done} delivery(ies) scheduled")


@admin.register(WebhookAudit)
class WebhookAuditAdmin(admin.ModelAdmin):
    list_display = ("created_at", "merchant", "action", "actor", "endpoint", "delivery")
    list_filter = ("action",)
    search_fields = ("actor", "endpoint__id", "delivery__id")
    readonly_fields = [f.name for f in WebhookAudit._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
