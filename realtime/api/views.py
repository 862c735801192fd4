"""API: websocket tickets for merchant servers (API-key auth)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.snapshots import iso
from realtime.services import ticket_create


class TicketCreateApi(APIView):
    """``POST /api/v1/realtime/tickets``: a single-use ticket (≤ 60 s) for ``ws/merchant``."""

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "RealtimeTicket",
                {
                    "ticket": serializers.CharField(),
                    "expires_at": serializers.DateTimeField(),
                    "url": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        # The socket it opens closes (4401) once this key is revoked (socket_authority_check).
        issued = ticket_create(merchant=request.user, api_key=request.auth)
        return Response(
            {
                "ticket": issued.ticket,
                "expires_at": iso(issued.expires_at),
                "url": f"/ws/merchant?ticket={issued.ticket}",
            },
            status=201,
        )
