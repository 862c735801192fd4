"""Admin: the operations console for the payments core. Actions call services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from payments.models import (
    ApiKey,
    Customer,
    Event,
    Merchant,
    Order,
    Payment,
    ProviderNotification,
    Refund,
    SavedPaymentMethod,
    SimulatorConfig,
    SimulatorTransaction,
    TimelineEntry,
)
from payments.money import format_amount
from payments.secret_display import secret_shown_once
from payments.services.api_keys import IssuedApiKey, api_key_create, api_key_revoke
from payments.services.stuck import payment_poll_provider


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ("key_id", "mode", "label", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _issued_key_page(request: HttpRequest, issued: IssuedApiKey, *, continue_url: str) -> TemplateResponse:
    return secret_shown_once(
        request,
        title=f"API key {issued.api_key.key_id} created",
        secrets=[("API key", issued.api_key.key_id), ("API secret", issued.secret)],
        continue_url=continue_url,
        note="Tender keeps only a hash of the secret: if it is lost, issue a new key and revoke this one.",
    )


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "id", "is_active", "created_at")
    search_fields = ("name", "email", "id")
    list_filter = ("is_active",)
    readonly_fields = ("id", "created_at", "updated_at")
    inlines = [ApiKeyInline]

    def save_model(self, request: HttpRequest, obj: Merchant, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            request.tender_issued_key = api_key_create(merchant=obj)  # shown by response_add

    def response_add(self, request: HttpRequest, obj: Merchant, post_url_continue: str | None = None):
        issued = getattr(request, "tender_issued_key", None)
        if issued is None:
            return super().response_add(request, obj, post_url_continue)
        return _issued_key_page(request, issued, continue_url=f"../{obj.pk}/change/")


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("merchant", "mode", "label")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("key_id", "merchant", "mode", "label", "created_at", "last_used_at", "revoked_at")
    search_fields = ("key_id", "merchant__name", "merchant__email")
    list_filter = ("mode", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("merchant",)
    actions = ["revoke_keys"]

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None):
        if obj is None:
            return ()
        return ("key_id", "merchant", "mode", "secret_hash", "created_at", "last_used_at", "revoked_at")

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = api_key_create(merchant=obj.merchant, mode=obj.mode, label=obj.label)
        obj.pk = issued.api_key.pk
        obj.key_id = issued.api_key.key_id
        obj.secret_hash = issued.api_key.secret_hash
        request.tender_issued_key = issued  # shown by response_add

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None):
        issued = getattr(request, "tender_issued_key", None)
        if issued is None:
            return super().response_add(request, obj, post_url_continue)
        return _issued_key_page(request, issued, continue_url="../")

    @admin.action(description="Revoke selected API keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


# ---------------------------------------------------------------------------
# Orders, payments, refunds, events, provider notifications, simulator
# Money and state fields are read-only: states change only through services.
# ---------------------------------------------------------------------------
class ReadOnlyAdminMixin:
    """Rows written by the gateway itself: staff look, filter and act through actions."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class TimelineInline(admin.TabularInline):
    model = TimelineEntry
    extra = 0
    can_delete = False
    ordering = ("created_at", "version")
    fields = ("created_at", "object_type", "object_id", "version", "from_status", "to_status", "source", "detail")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ("id", "amount", "status", "reason", "created_at", "processed_at")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "merchant", "display_amount", "status", "receipt", "created_at")
    list_filter = ("status", "currency")
    search_fields = ("id", "receipt", "merchant__name", "merchant__email")
    list_select_related = ("merchant",)
    readonly_fields = ("id", "merchant", "amount", "currency", "status", "created_at", "updated_at")
    fields = ("id", "merchant", "amount", "currency", "status", "receipt", "notes", "created_at", "updated_at")
    date_hierarchy = "created_at"

    @admin.display(description="amount", ordering="amount")
    def display_amount(self, obj: Order) -> str:
        return format_amount(obj.amount, obj.currency)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "merchant", "display_amount", "method", "status", "captured", "version", "created_at")
    list_filter = ("status", "method", "captured", "provider", "card_network")
    search_fields = ("id", "order__id", "provider_reference", "vpa", "merchant__name")
    list_select_related = ("merchant",)
    date_hierarchy = "created_at"
    inlines = [TimelineInline, RefundInline]
    readonly_fields = (
        "id", "merchant", "order", "amount", "currency", "method", "vpa", "card_network", "card_last4",
        "status", "captured", "error_code", "error_description", "version", "provider", "provider_reference",
        "submitted_at", "submission_claimed_at", "callback_url", "customer", "payment_method", "created_at",
        "updated_at",
    )  # fmt: skip
    actions = ["poll_provider"]

    @admin.display(description="amount", ordering="amount")
    def display_amount(self, obj: Payment) -> str:
        return format_amount(obj.amount, obj.currency)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_change_permission(request, obj)

    @admin.action(description="Ask the provider now (settle stuck pending payments)")
    def poll_provider(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        settled = payment_poll_provider(payment_ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"Polled {queryset.count()} payment(s); settled {len(settled)}.", messages.INFO)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "payment", "merchant", "display_amount", "status", "created_at", "processed_at")
    list_filter = ("status",)
    search_fields = ("id", "payment__id", "provider_reference")
    list_select_related = ("merchant", "payment")
    readonly_fields = (
        "id", "merchant", "payment", "amount", "reason", "status", "version", "provider_reference",
        "submission_claimed_at", "error_code", "error_description", "processed_at", "created_at", "updated_at",
    )  # fmt: skip

    @admin.display(description="amount", ordering="amount")
    def display_amount(self, obj: Refund) -> str:
        return format_amount(obj.amount, obj.payment.currency)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_change_permission(request, obj)


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("seq", "id", "merchant", "type", "object_id", "version", "created_at", "dispatched_at")
    list_filter = ("type", ("dispatched_at", admin.EmptyFieldListFilter))
    search_fields = ("id", "object_id", "correlation_id")
    list_select_related = ("merchant",)
    readonly_fields = (
        "seq", "id", "merchant", "type", "object_type", "object_id", "version", "data", "correlation_id",
        "txid", "created_at", "dispatched_at",
    )  # fmt: skip

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_change_permission(request, obj)


@admin.register(ProviderNotification)
class ProviderNotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("received_at", "provider", "event_id", "object_id", "status", "result")
    list_filter = ("provider", "result", "status")
    search_fields = ("event_id", "object_id")
    readonly_fields = (
        "provider", "event_id", "object_type", "object_id", "status", "payload", "raw_body", "received_at", "result",
        "detail",
    )  # fmt: skip

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_change_permission(request, obj)


@admin.register(SimulatorConfig)
class SimulatorConfigAdmin(admin.ModelAdmin):
    """The simulator's fault knobs. One row (pk=1); rates are 0..1."""

    fieldsets = (
        ("Outcomes (outside TEST_MODE)", {"fields": ("upi_success_rate", "card_success_rate")}),
        (
            "Delays (ms; TEST_MODE uses TEST_PROCESSING_DELAY)",
            {"fields": ("min_delay_ms", "max_delay_ms", "extra_delay_ms")},
        ),
        ("Submit faults", {"fields": ("submit_unreachable_rate", "submit_reply_lost_rate")}),
        ("Notification faults", {"fields": ("drop_rate", "duplicate_rate", "reorder_rate")}),
        ("Settlement faults", {"fields": ("settle_failed_rate", "amount_change_rate")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not SimulatorConfig.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SimulatorTransaction)
class SimulatorTransactionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "reference",
        "kind",
        "payment_id",
        "amount",
        "outcome",
        "notified_status",
        "settled_status",
        "decide_at",
    )
    list_filter = ("kind", "outcome", "notified_status", "settled_status")
    search_fields = ("reference", "payment_id", "refund_id", "order_id")

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_change_permission(request, obj)


# ---------------------------------------------------------------------------
# Customers and saved payment methods (tokens and fingerprints only, read-only here)
# ---------------------------------------------------------------------------
class SavedPaymentMethodInline(admin.TabularInline):
    model = SavedPaymentMethod
    extra = 0
    can_delete = False
    fields = (
        "id", "type", "card_network", "card_last4", "expiry_month", "expiry_year", "vpa", "created_at", "deleted_at",
    )  # fmt: skip
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "merchant", "email", "name", "phone", "locale", "created_at")
    search_fields = ("id", "email", "name", "phone", "merchant__name")
    list_select_related = ("merchant",)
    readonly_fields = ("id", "merchant", "created_at", "updated_at")
    fields = ("id", "merchant", "email", "name", "phone", "locale", "created_at", "updated_at")
    inlines = [SavedPaymentMethodInline]


@admin.register(SavedPaymentMethod)
class SavedPaymentMethodAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "customer", "type", "card_network", "card_last4", "vpa", "created_at", "deleted_at")
    list_filter = ("type", "card_network")
    search_fields = ("id", "customer__id", "customer__email", "vpa")
    list_select_related = ("customer",)
    # The provider token is a credential for charging the card: not shown to staff.
    exclude = ("provider_token",)
    readonly_fields = (
        "id", "merchant", "customer", "type", "provider", "card_network", "card_last4", "expiry_month",
        "expiry_year", "vpa", "fingerprint", "created_at", "deleted_at",
    )  # fmt: skip

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_change_permission(request, obj)
