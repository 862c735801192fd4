"""Event destinations API: parse, call one service or selector, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.http.shapes import validated
from payments.api.http import api_key_actor
from payments.api.schema import errors
from webhooks.destinations import selectors, services
from webhooks.destinations.api.serializers import (
    DestinationCreateSerializer,
    DestinationListSerializer,
    DestinationSerializer,
    DestinationUpdateSerializer,
    ReplaySerializer,
)

TAG = "event destinations"


class DestinationListApi(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="event_destinations_list",
        responses={200: DestinationListSerializer, **errors(401, 429)},
    )
    def get(self, request: Request) -> Response:
        destinations = selectors.destination_list_for_merchant(merchant=request.user)
        items = [selectors.destination_snapshot(d) for d in destinations]
        return Response({"data": items, "total": len(items)})

    @extend_schema(
        tags=[TAG],
        operation_id="event_destinations_create",
        request=DestinationCreateSerializer,
        responses={201: DestinationSerializer, **errors(400, 401, 415, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(DestinationCreateSerializer, request.data)
        destination = services.destination_create(merchant=request.user, actor=api_key_actor(request), **data)
        return Response(selectors.destination_snapshot(destination), status=201)


class DestinationDetailApi(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="event_destinations_get",
        responses={200: DestinationSerializer, **errors(401, 404, 429)},
    )
    def get(self, request: Request, destination_id: str) -> Response:
        destination = selectors.destination_get(merchant=request.user, destination_id=destination_id)
        return Response(selectors.destination_snapshot(destination))

    @extend_schema(
        tags=[TAG],
        operation_id="event_destinations_update",
        request=DestinationUpdateSerializer,
        responses={200: DestinationSerializer, **errors(400, 401, 404, 415, 429)},
    )
    def patch(self, request: Request, destination_id: str) -> Response:
        destination = selectors.destination_get(merchant=request.user, destination_id=destination_id)
        data = validated(DestinationUpdateSerializer, request.data)
        destination = services.destination_update(destination=destination, actor=api_key_actor(request), **data)
        return Response(selectors.destination_snapshot(destination))

    @extend_schema(
        tags=[TAG],
        operation_id="event_destinations_delete",
        responses={204: None, **errors(401, 404, 429)},
    )
    def delete(self, request: Request, destination_id: str) -> Response:
        destination = selectors.destination_get(merchant=request.user, destination_id=destination_id)
        services.destination_delete(destination=destination, actor=api_key_actor(request))
        return Response(status=204)


class DestinationReplayApi(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="event_destinations_replay",
        request=ReplaySerializer,
        responses={200: DestinationSerializer, **errors(400, 401, 404, 415, 429)},
    )
    def post(self, request: Request, destination_id: str) -> Response:
        destination = selectors.destination_get(merchant=request.user, destination_id=destination_id)
        data = validated(ReplaySerializer, request.data)
        destination = services.destination_replay(destination=destination, actor=api_key_actor(request), **data)
        return Response(selectors.destination_snapshot(destination))
