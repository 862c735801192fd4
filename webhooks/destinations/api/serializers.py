"""Request shapes of the event-destinations API (validation only) and the response schema."""

from __future__ import annotations

from rest_framework import serializers

from payments.api.fields import StrictBooleanField


class DestinationCreateSerializer(serializers.Serializer):
    type = serializers.CharField(max_length=32, help_text="redis_stream, rabbitmq or nats")
    target = serializers.DictField(
        help_text="{url, stream, maxlen} | {url, exchange} | {url, subject_prefix, stream}; see PRODUCT.md §10"
    )
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, allow_empty=False, min_length=1
    )
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    enabled = StrictBooleanField(required=False, default=True)


class DestinationUpdateSerializer(serializers.Serializer):
    target = serializers.DictField(required=False, help_text="without url: only the keys given change")
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, allow_empty=False, min_length=1
    )
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    enabled = StrictBooleanField(required=False)


class ReplaySerializer(serializers.Serializer):
    after = serializers.CharField(max_length=40, required=False, help_text="re-send every event after this one")
    since = serializers.DateTimeField(required=False, help_text="re-send every event created at or after this time")


class DestinationSerializer(serializers.Serializer):
    """Schema only: the destination as rendered by ``destination_snapshot``."""

    id = serializers.CharField()
    type = serializers.CharField()
    mode = serializers.ChoiceField(choices=["test", "live"], help_text="its world: the creating key's mode")
    target = serializers.DictField(help_text="the url's password shows as ****")
    event_types = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    enabled = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["active", "failing", "disabled"])
    lag = serializers.IntegerField(help_text="committed matching events not yet confirmed by the broker")
    last_error = serializers.CharField(allow_null=True)
    failing_since = serializers.DateTimeField(allow_null=True)
    published_total = serializers.IntegerField()
    last_published_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class DestinationListSerializer(serializers.Serializer):
    data = DestinationSerializer(many=True)
    total = serializers.IntegerField()
