"""Admin: the operations console for the payments core. Actions call services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from payments.models import ApiKey, Merchant
from payments.services.api_keys import api_key_create, api_key_revoke


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ("key_id", "mode", "label", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


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
            issued = api_key_create(merchant=obj)
            messages.warning(
                request,
                f"API key {issued.api_key.key_id} created. Secret (shown once, copy it now): {issued.secret}",
            )


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
        messages.warning(request, f"API key {obj.key_id} created. Secret (shown once, copy it now): {issued.secret}")

    @admin.action(description="Revoke selected API keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)
