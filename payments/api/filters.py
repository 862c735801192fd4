"""django-filter filter sets for the list endpoints."""

from __future__ import annotations

import django_filters

from payments.models import Payment, PaymentMethod
from payments.states import PaymentStatus


class PaymentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PaymentStatus.choices)
    method = django_filters.ChoiceFilter(choices=PaymentMethod.choices)
    order_id = django_filters.CharFilter(field_name="order_id")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Payment
        fields = ["status", "method", "order_id", "created_after", "created_before"]
