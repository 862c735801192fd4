"""Notifications API: what was sent to customers, and the merchant's channel switches."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from common.http.pagination import page_of, page_render
from common.http.query import query_parse
from common.http.responses import json_response
from common.http.shapes import parse_json_body, validated
from notifications.api import serializers as shapes
from notifications.models import Notification, NotificationPreference
from notifications.selectors import notification_list_for_merchant, notification_preference_get
from notifications.services.preferences import notification_preference_update
from payments.api import schema
from payments.snapshots import iso


def notification_body(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "channel": notification.channel,
        "to": notification.to,
        "event_id": notification.event_id,
        "event_type": notification.event_type,
        "payment_id": notification.payment_id,
        "refund_id": notification.refund_id,
        "status": notification.status,
        "attempts": notification.attempts,
        "last_error": notification.last_error,
        "sent_at": iso(notification.sent_at),
        "created_at": iso(notification.created_at),
    }


def preference_body(preference: NotificationPreference) -> dict[str, Any]:
    return {"email_enabled": preference.email_enabled, "sms_enabled": preference.sms_enabled}


class NotificationsApi(APIView):
    @extend_schema(
        tags=["notifications"],
        operation_id="notifications_list",
        parameters=[shapes.NotificationsQuery],
        responses={200: page_of("NotificationPage", shapes.Notification), **schema.LIST_ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        query = query_parse(request, shapes.NotificationsQuery)
        queryset = notification_list_for_merchant(merchant=request.user, payment_id=query.get("payment_id"))
        return json_response(
            page_render(queryset, limit=query["limit"], offset=query["offset"], render=notification_body)
        )


class NotificationSettingsApi(APIView):
    @extend_schema(
        tags=["notifications"],
        operation_id="notification_settings_get",
        responses={200: shapes.NotificationSettings, **schema.errors(401, 429)},
    )
    def get(self, request: Request) -> HttpResponse:
        return json_response(preference_body(notification_preference_get(merchant=request.user)))

    @extend_schema(
        tags=["notifications"],
        operation_id="notification_settings_update",
        request=shapes.NotificationSettingsUpdate,
        responses={200: shapes.NotificationSettings, **schema.errors(400, 401, 413, 415, 429)},
    )
    def patch(self, request: Request) -> HttpResponse:
        data = validated(shapes.NotificationSettingsUpdate, parse_json_body(request))
        preference = notification_preference_update(merchant=request.user, **data)
        return json_response(preference_body(preference))
