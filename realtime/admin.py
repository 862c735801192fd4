"""Admin: dashboard users (which person belongs to which merchant, with which role), their
invitations, the dashboard audit log (read-only) and websocket tickets."""

from django.contrib import admin

from realtime.models import DashboardAudit, Invitation, MerchantUser, RealtimeTicket


@admin.register(MerchantUser)
class MerchantUserAdmin(admin.ModelAdmin):
    list_display = ("user", "merchant", "role", "refund_limit", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username", "user__email", "merchant__email", "merchant__name")
    raw_id_fields = ("user", "merchant")


@admin.register(RealtimeTicket)
class RealtimeTicketAdmin(admin.ModelAdmin):
    list_display = ("id", "merchant", "created_at", "expires_at", "used_at")
    list_filter = ("used_at",)
    readonly_fields = ("token_hash", "merchant", "created_at", "expires_at", "used_at")

    def has_add_permission(self, request) -> bool:
        return False  # tickets are issued by the API and the dashboard only


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "merchant", "role", "created_at", "expires_at", "accepted_at")
    search_fields = ("email", "merchant__name")
    readonly_fields = (
        "merchant",
        "email",
        "role",
        "refund_limit",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
    )
    exclude = ("token_hash",)

    def has_add_permission(self, request) -> bool:
        return False  # owners invite from the dashboard (the e-mail carries the only token)


@admin.register(DashboardAudit)
class DashboardAuditAdmin(admin.ModelAdmin):
    list_display = ("created_at", "merchant", "actor", "action", "object_id")
    list_filter = ("action",)
    search_fields = ("actor", "object_id", "merchant__name")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # an audit trail is never edited

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
