"""/api/system/notification-settings: thin views over the settings services."""

from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hcm.errors import UpstreamError
from hcm.permissions import IsSystemAdmin
from hcm.ratelimit import enforce_rate_limit
from notifications.email import EmailDeliveryError
from notifications.serializers_settings import (
    NotificationSettingsSerializer,
    NotificationSettingsUpdateSerializer,
)
from notifications.services.notification_settings import (
    notification_settings_get,
    notification_settings_update,
)
from notifications.services.test_email import EmailDisabledError, send_test_email


class NotificationSettingsView(APIView):
    permission_classes = [IsSystemAdmin]

    def get(self, request: Request) -> Response:
        ns = notification_settings_get(organization=request.user.organization)
        return Response(NotificationSettingsSerializer(ns).data)

    def put(self, request: Request) -> Response:
        enforce_rate_limit(request, "notification_settings_update")
        ns = notification_settings_get(organization=request.user.organization)
        incoming = NotificationSettingsUpdateSerializer(ns, data=request.data)
        incoming.is_valid(raise_exception=True)
        ns = notification_settings_update(
            settings=ns, data=incoming.validated_data, updated_by=request.user.get_username()
        )
        return Response(NotificationSettingsSerializer(ns).data)

    patch = put  # every field is optional in both


class TestEmailQuery(serializers.Serializer):
    recipient = serializers.EmailField(required=False)


class NotificationSettingsTestEmailView(APIView):
    permission_classes = [IsSystemAdmin]

    def post(self, request: Request) -> Response:
        enforce_rate_limit(request, "notification_settings_test_email")
        query = TestEmailQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        ns = notification_settings_get(organization=request.user.organization)
        recipient = query.validated_data.get("recipient") or ns.email_from_address
        try:
            sent = send_test_email(ns, recipient=recipient, requested_by=request.user.get_username())
        except EmailDisabledError as exc:
            raise ValidationError({exc.field: [str(exc)]}) from exc
        except EmailDeliveryError as exc:
            raise UpstreamError(f"Test email not sent: {exc}") from exc
        return Response({"status": "sent", "to": recipient, "message_id": sent.message_id}, status=status.HTTP_200_OK)
