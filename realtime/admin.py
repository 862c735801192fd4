"""Admin: dashboard users (which person belongs to which merchant) and websocket tickets."""

from django.contrib import admin

from realtime.models import MerchantUser, RealtimeTicket


@admin.register(MerchantUser)
class MerchantUserAdmin(admin.ModelAdmin):
    list_display = ("user", "merchant", "created_at")
    search_fields = ("user__username", "user__email", "merchant__email", "merchant__name")
    raw_id_fields = ("user", "merchant")


@admin.register(RealtimeTicket)
class RealtimeTicketAdmin(admin.ModelAdmin):
    list_display = ("id", "merchant", "created_at", "expires_at", "used_at")
    list_filter = ("used_at",)
    readonly_fields = ("token_hash", "merchant", "created_at", "expires_at", "used_at")

    def has_add_permission(self, request) -> bool:
        return False  # tickets are issued by the API and the dashboard only
