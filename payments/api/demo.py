"""Demo/test-mode endpoints (``/api/v1/test/*``), as the seed gateway serves them: without
credentials, and only in demo/test mode. The URLs are mounted only when DEMO_MODE is on, and
:class:`DemoModeOnly` answers 404 again at request time, so a settings change can never
leave them reachable in production."""

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import NotFound
from payments.api import schema
from payments.demo import TEST_API_KEY, TEST_MERCHANT_ID
from payments.models import Merchant

_TestMerchant = inline_serializer(
    "TestMerchant",
    {
        "id": serializers.UUIDField(),
        "name": serializers.CharField(),
        "email": serializers.EmailField(),
        "api_key": serializers.CharField(),
        "seeded": serializers.BooleanField(),
    },
)


class DemoModeOnly(BasePermission):
    """No credentials needed, but outside demo mode the endpoint does not exist (404)."""

    def has_permission(self, request: Request, view: object) -> bool:
        if not settings.DEMO_MODE:
            raise NotFound(f"No endpoint {request.method} {request.path}", reason="unknown_endpoint")
        return True


class TestMerchantApi(APIView):
    """The seeded test merchant (demo mode only, no credentials: its key is documented)."""

    authentication_classes: list = []
    permission_classes = [DemoModeOnly]

    @extend_schema(
        tags=["test"], operation_id="test_merchant_get", auth=[], responses={200: _TestMerchant, **schema.errors(404)}
    )
    def get(self, request: Request) -> Response:
        merchant = Merchant.objects.filter(id=TEST_MERCHANT_ID).first()
        if merchant is None:
            raise NotFound("The demo merchant is not seeded; run manage.py seed_demo")
        return Response(
            {
                "id": str(merchant.id),
                "name": merchant.name,
                "email": merchant.email,
                "api_key": TEST_API_KEY,
                "seeded": True,
            }
        )
