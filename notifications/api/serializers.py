"""Shapes of the notification center API and the notification-events API."""

import json

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from hcm.fields import ChoiceField
from notifications.channels.base import all_channel_choices
from notifications.events import DATA_MAX_BYTES
from notifications.job_types import MAX_EVENT_RECIPIENTS
from notifications.models import Delivery, Notification, NotificationContact, NotificationPriority
from notifications.payload_fields import UserIdsField
from notifications.shapes import NOTIFICATION_FIELDS
from notifications.validators import validate_e164

TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,99}$"


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = list(NOTIFICATION_FIELDS)  # the stream sends the same fields
        read_only_fields = fields


class DeliverySummarySerializer(serializers.ModelSerializer):
    """What the sender of a notification sees of each outbound message it caused."""

    notification_id = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Delivery
        fields = ["id", "notification_id", "channel", "recipient", "status", "deferred_until"]
        read_only_fields = fields


class RecipientsField(serializers.ListField):
    child = serializers.IntegerField(min_value=1)

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_empty=False, max_length=1000, **kwargs)


class NotificationCreateSerializer(serializers.Serializer):
    """POST /api/notifications: a system admin's own message to users of the organization."""

    recipients = RecipientsField(help_text="User ids; default: the organization's system admins.")
    type = serializers.RegexField(TYPE_PATTERN, required=False, default="custom")
    title = serializers.CharField(max_length=200)
    message = serializers.CharField(max_length=5000, allow_blank=True, required=False, default="")
    priority = ChoiceField(NotificationPriority.choices, required=False, default="normal")
    channels = serializers.ListField(
        child=ChoiceField(all_channel_choices()), required=False, default=list, max_length=10
    )
    action_url = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    metadata = serializers.DictField(required=False, default=dict)

    def validate_metadata(self, value: dict) -> dict:
        if len(json.dumps(value)) > DATA_MAX_BYTES:
            raise serializers.ValidationError(f"Must be at most {DATA_MAX_BYTES} bytes of JSON.")
        return value

    def validate_action_url(self, value: str) -> str:
        from notifications.rendering import safe_action_url

        if value and not safe_action_url(value):
            raise serializers.ValidationError("Must be a path starting with / or an http(s) URL.")
        return value


# The field lives with the job payloads (a worker imports it without drf-spectacular); its
# schema is declared here, where the API's schema is built.
extend_schema_field(
    {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1, "maxItems": MAX_EVENT_RECIPIENTS}
)(UserIdsField)


class NotificationEventSerializer(serializers.Serializer):
    """POST /api/system/notification-events; `data` is checked by the event's own schema."""

    event = serializers.CharField(max_length=100)
    # The request key is "data"; declared fields leave the class, so Serializer.data stays.
    data = serializers.JSONField(required=False, default=dict)  # type: ignore[assignment]
    recipients = UserIdsField(
        max_length=MAX_EVENT_RECIPIENTS,
        required=False,
        help_text=f"User ids (at most {MAX_EVENT_RECIPIENTS:,}); default: the organization's system admins, "
        "as they are when the event is fanned out.",
    )


class NotificationEventQueuedSerializer(serializers.Serializer):
    """202 from POST /api/system/notification-events: the job that fans the event out."""

    job_id = serializers.CharField(help_text="The notification_fanout job.")
    status = serializers.CharField(help_text="The job's status: queued.")
    event = serializers.CharField()
    recipient_count = serializers.IntegerField(help_text="The people the event goes to (checked now).")
    job_url = serializers.CharField(
        help_text="Where to watch it (GET, system admins of the organization): its status, "
        "and once done its result and job log (recipients, notifications, deliveries)."
    )


class NotificationContactSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(allow_null=True, required=True, max_length=16, validators=[validate_e164])
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = NotificationContact
        fields = ["phone", "updated_at"]
        read_only_fields = ["updated_at"]


# --- response shapes of the actions ------------------------------------------------------


class NotifyResultSerializer(serializers.Serializer):
    """What POST /notifications and POST /notification-events answer."""

    notifications = NotificationSerializer(many=True)
    deliveries = DeliverySummarySerializer(many=True)


class NotificationsMarkedReadSerializer(serializers.Serializer):
    updated = serializers.IntegerField()


class UnreadCountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class NotificationStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    unread = serializers.IntegerField()
    read = serializers.IntegerField()
    failed = serializers.IntegerField()
    by_type = serializers.DictField(child=serializers.IntegerField())


class NotificationContactStateSerializer(serializers.Serializer):
    """Before the first PUT there is no stored contact: both fields are null."""

    phone = serializers.CharField(allow_null=True, help_text="E.164, e.g. +15551234567.")
    updated_at = serializers.DateTimeField(allow_null=True)


class NotificationEventTypeSerializer(serializers.Serializer):
    event = serializers.CharField()
    description = serializers.CharField()
    priority = serializers.CharField()
    channels = serializers.ListField(child=serializers.CharField())
    toggles = serializers.DictField(
        child=serializers.CharField(), help_text="Channel → the settings field that turns it on."
    )
    data_fields = serializers.ListField(child=serializers.CharField())


@extend_schema_serializer(many=False)  # one catalogue object, though GET on the collection
class NotificationEventTypesSerializer(serializers.Serializer):
    items = NotificationEventTypeSerializer(many=True)
