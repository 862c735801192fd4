"""Events API: the durable, replayable, per-merchant event log (cursor-paginated): oldest
first from an ``after`` cursor for machines, ``order=desc`` newest first for people."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from common.http.query import QueryText, StrictIntegerField, query_parse
from common.http.responses import json_response
from payments.api import schema
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


class EventsQuery(serializers.Serializer):
    order = serializers.ChoiceField(
        ["asc", "desc"],
        default="asc",
        help_text=(
            "asc (default): oldest first, the replay order for machines, paged with `after`. "
            "desc: newest first, for people, paged back in time with `before`."
        ),
    )
    after = QueryText(help_text="cursor: the last event id you have (asc: pass `next_cursor`)")
    before = QueryText(
        help_text="only events before this event id (desc: pass `next_cursor` for the next, older page)",
    )
    limit = StrictIntegerField(min_value=1, max_value=MAX_LIMIT, default=20)
    type = QueryText(help_text="exact type or family, e.g. payment.*")
    object_id = QueryText()


class EventsApi(APIView):
    @extend_schema(
        tags=["events"],
        operation_id="events_list",
        description=(
            "Machines replay the log oldest first: start without a cursor, then pass each page's "
            "`next_cursor` as `after` until `has_more` is false; an event that commits late is never "
            "skipped. People ask what happened lately with `order=desc` (newest first) and page back "
            "in time by passing `next_cursor` as `before`."
        ),
        parameters=[EventsQuery],
        responses={200: schema.EventPage, **schema.LIST_ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        query = query_parse(request, EventsQuery)
        page = event_list_for_merchant(
            merchant=request.user,
            after=query.get("after"),
            before=query.get("before"),
            newest_first=query["order"] == "desc",
            limit=query["limit"],
            type=query.get("type"),
            object_id=query.get("object_id"),
        )
        return json_response(
            {"data": [event_body(e) for e in page.events], "has_more": page.has_more, "next_cursor": page.next_cursor}
        )


class EventDetailApi(APIView):
    @extend_schema(tags=["events"], operation_id="events_get", responses={200: schema.Event, **schema.READ_ERRORS})
    def get(self, request: Request, event_id: str) -> HttpResponse:
        return json_response(event_body(event_get_for_merchant(merchant=request.user, event_id=event_id)))
