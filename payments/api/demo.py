"""Demo/test-mode endpoints; the URLs exist only when DEMO_MODE is on."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.api.errors import NotFound
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


class TestMerchantApi(APIView):
    """The seeded test merchant (demo mode only)."""

    @extend_schema(tags=["test"], operation_id="test_merchant_get", responses={200: _TestMerchant})
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
