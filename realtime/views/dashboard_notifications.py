"""Dashboard page of customer notifications: the merchant's two switches (a plain form,
CSRF-checked; the owner's to change, audited like every dashboard write) and the latest
notifications with their status (every role may look). The page lives with the rest of the
dashboard: realtime may import notifications, never the other way round."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from notifications.selectors import notification_list_for_merchant, notification_preference_get
from notifications.services.preferences import notification_preference_update
from notifications.sms import sms_configured
from realtime.team import dashboard_audit_record
from realtime.views.dashboard import forbidden, merchant_required


@require_http_methods(["GET", "POST"])
@merchant_required
def notifications_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not request.can["settings_manage"]:
            return forbidden(request, "Only the account owner can change notification settings.")
        switches = {
            "email_enabled": request.POST.get("email_enabled") == "on",
            "sms_enabled": request.POST.get("sms_enabled") == "on",
        }
        with transaction.atomic():
            notification_preference_update(merchant=request.merchant, **switches)
            dashboard_audit_record(membership=request.membership, action="notifications.settings", detail=switches)
        return HttpResponseRedirect("/dashboard/notifications?saved=1")
    context = {
        "nav": "notifications",
        "preference": notification_preference_get(merchant=request.merchant),
        "sms_configured": sms_configured(),
        "saved": request.GET.get("saved") == "1",
        "can_change": request.can["settings_manage"],
        "notifications": list(notification_list_for_merchant(merchant=request.merchant)[:50]),
    }
    return render(request, "notifications/dashboard.html", context)
