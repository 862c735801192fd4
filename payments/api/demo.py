"""Demo/test-mode endpoints; the URLs exist only when DEMO_MODE is on."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.demo import TEST_MERCHANT_ID
from payments.models import Merchant


class TestMerchantApi(APIView):
    """The seeded test merchant (demo mode only)."""

    @extend_schema(tags=["test"], operation_id="test_merchant_get")
    def get(self, request: Request) -> Response:
        merchant = Merchant.objects.filter(id=TEST_MERCHANT_ID).first()
        if merchant is None:
            from payments.api.errors import NotFound

            raise NotFound("The demo merchant is not seeded; run manage.py seed_demo")
        return Response(
            {
                "id": str(merchant.id),
                "name": merchant.name,
                "email": merchant.email,
                "api_key": "key_test_abc123",
                "seeded": True,
            }
        )
