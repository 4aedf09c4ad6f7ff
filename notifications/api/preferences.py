"""GET/PATCH /api/notifications/preferences: the caller's own event × channel matrix."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from hcm.models import User
from hcm.permissions import request_user
from notifications.events import InvalidNotification
from notifications.models import PersonalQuietHours
from notifications.preferences import preference_matrix
from notifications.services.notification_settings import notification_settings_get
from notifications.services.preferences import PreferenceChange, preferences_update
from notifications.validators import validate_hh_mm


class PreferenceCellSerializer(serializers.Serializer):
    event = serializers.CharField()
    channel = serializers.CharField()
    allowed = serializers.BooleanField(help_text="The organization sends this event on this channel.")
    chosen = serializers.BooleanField(help_text="The person's own choice (on unless turned off).")
    effective = serializers.BooleanField(help_text="allowed and chosen: what the person gets.")
    locked = serializers.BooleanField(help_text="The person cannot change it (critical alerts in-app).")


class QuietHoursSerializer(serializers.Serializer):
    start = serializers.CharField(allow_null=True, required=False, validators=[validate_hh_mm])
    end = serializers.CharField(allow_null=True, required=False, validators=[validate_hh_mm])
    timezone = serializers.CharField(
        allow_null=True, required=False, max_length=64, help_text="IANA zone; null: the organization's."
    )

    def validate_timezone(self, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise serializers.ValidationError(f"Unknown time zone {value!r}; use an IANA name such as Europe/Berlin.")
        return value


class PreferencesSerializer(serializers.Serializer):
    items = PreferenceCellSerializer(many=True)
    quiet_hours = QuietHoursSerializer(help_text="The person's own quiet hours, on top of the organization's.")


class PreferenceChangeSerializer(serializers.Serializer):
    event = serializers.CharField(max_length=100)
    channel = serializers.CharField(max_length=20)
    enabled = serializers.BooleanField()


class PreferencesUpdateSerializer(serializers.Serializer):
    changes = serializers.ListField(child=PreferenceChangeSerializer(), required=False, max_length=200)
    quiet_hours = QuietHoursSerializer(required=False)

    def validate(self, attrs: dict) -> dict:
        unknown = set(self.initial_data) - set(self.fields) if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
        quiet = attrs.get("quiet_hours") or {}
        if ("start" in quiet or "end" in quiet) and (
            ("start" in quiet) != ("end" in quiet) or (quiet.get("start") is None) != (quiet.get("end") is None)
        ):
            raise ValidationError({"quiet_hours": ["Set start and end together (or both to null: no quiet hours)."]})
        return attrs


def preferences_data(user: User) -> dict:
    assert user.organization is not None  # callers are members of an organization
    settings = notification_settings_get(organization=user.organization)
    quiet = PersonalQuietHours.objects.filter(user=user).first() or PersonalQuietHours(user=user)
    return {
        "items": [cell.__dict__ for cell in preference_matrix(user=user, settings=settings)],
        "quiet_hours": {"start": quiet.start, "end": quiet.end, "timezone": quiet.timezone},
    }


class PreferencesViewSet(viewsets.ViewSet):
    """The caller's own notification preferences (any signed-in member of an organization)."""

    @extend_schema(summary="Your notification preferences", responses={200: PreferencesSerializer})
    def retrieve(self, request: Request) -> Response:
        return Response(PreferencesSerializer(preferences_data(request_user(request))).data)

    @extend_schema(
        summary="Change your notification preferences",
        description=(
            "All or nothing: a change to an unknown event or channel, to a cell your organization "
            "does not send, or muting a critical alert in-app is a 400 naming `changes[i]`, and "
            "nothing is saved. Answers the new matrix."
        ),
        request=PreferencesUpdateSerializer,
        responses={200: PreferencesSerializer},
    )
    def partial_update(self, request: Request) -> Response:
        incoming = PreferencesUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        changes = [PreferenceChange(**c) for c in incoming.validated_data.get("changes", [])]
        try:
            preferences_update(
                user=request_user(request), changes=changes, quiet_hours=incoming.validated_data.get("quiet_hours")
            )
        except InvalidNotification as exc:
            raise ValidationError(exc.errors) from exc
        return Response(PreferencesSerializer(preferences_data(request_user(request))).data)
