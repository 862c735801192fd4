"""Events API: the durable, replayable, per-merchant event log (cursor-paginated)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from payments.api import schema
from payments.api.http import json_response, query_int
from payments.models import Event
from payments.selectors.events import MAX_LIMIT, event_get_for_merchant, event_list_for_merchant
from payments.snapshots import iso


def event_body(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "version": event.version,
        "created_at": iso(event.created_at),
        "correlation_id": event.correlation_id,
        "data": event.data,
    }


class EventsApi(APIView):
    @extend_schema(
        tags=["events"],
        operation_id="events_list",
        parameters=[
            OpenApiParameter("after", str, description="cursor: the last event id you have"),
            OpenApiParameter("limit", int, description=f"1-{MAX_LIMIT}, default 20"),
            OpenApiParameter("type", str, description="exact type or family, e.g. payment.*"),
            OpenApiParameter("object_id", str),
        ],
        responses={200: schema.EventPage, **schema.LIST_ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        page = event_list_for_merchant(
            merchant=request.user,
            after=request.query_params.get("after") or None,
            limit=query_int(request, "limit", default=20, minimum=1, maximum=MAX_LIMIT),
            type=request.query_params.get("type") or None,
            object_id=request.query_params.get("object_id") or None,
        )
        return json_response(
            {"data": [event_body(e) for e in page.events], "has_more": page.has_more, "next_cursor": page.next_cursor}
        )


class EventDetailApi(APIView):
    @extend_schema(tags=["events"], operation_id="events_get", responses={200: schema.Event, **schema.READ_ERRORS})
    def get(self, request: Request, event_id: str) -> HttpResponse:
        return json_response(event_body(event_get_for_merchant(merchant=request.user, event_id=event_id)))
