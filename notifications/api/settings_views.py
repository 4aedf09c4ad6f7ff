"""/api/system/notification-settings: the organization's one settings row (a singleton
resource: GET, PUT, PATCH) and its test email. Thin: the services do the work."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from hcm.errors import UpstreamError
from hcm.exceptions import InvalidInput
from hcm.openapi import error_response
from hcm.permissions import IsSystemAdmin, request_organization
from notifications.api.settings_serializers import (
    NotificationSettingsSerializer,
    NotificationSettingsUpdateSerializer,
    TestEmailQuerySerializer,
    TestEmailSentSerializer,
)
from notifications.email import EmailDeliveryError
from notifications.models import NotificationSettings
from notifications.services.notification_settings import notification_settings_get, notification_settings_update
from notifications.services.test_email import EmailDisabledError, send_test_email

_UPDATE: dict[str, Any] = {
    "request": NotificationSettingsUpdateSerializer,
    "responses": NotificationSettingsSerializer,
    "description": "Every field is optional; a field left out keeps its value. Unknown fields → 400.",
}


@extend_schema_view(
    retrieve=extend_schema(summary="Your organization's notification settings"),
    update=extend_schema(summary="Change notification settings", **_UPDATE),
    partial_update=extend_schema(summary="Change some notification settings", **_UPDATE),
)
class NotificationSettingsViewSet(mixins.RetrieveModelMixin, mixins.UpdateModelMixin, GenericViewSet):
    permission_classes = [IsSystemAdmin]
    queryset = NotificationSettings.objects.none()  # the model, for the router and the schema; get_queryset() scopes
    serializer_class = NotificationSettingsSerializer
    pagination_class = None
    rate_limits = {
        "update": "notification_settings_update",
        "partial_update": "notification_settings_update",
        "test_email": "notification_settings_test_email",
    }

    def get_queryset(self) -> QuerySet[NotificationSettings]:
        return NotificationSettings.objects.filter(organization=request_organization(self.request))

    def get_object(self) -> NotificationSettings:
        # Created with the seed's defaults on first use.
        return self.get_queryset().first() or notification_settings_get(organization=request_organization(self.request))

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ns = self.get_object()
        # PUT and PATCH alike: every field is optional.
        incoming = NotificationSettingsUpdateSerializer(ns, data=request.data)
        incoming.is_valid(raise_exception=True)
        ns = notification_settings_update(
            settings=ns, data=incoming.validated_data, updated_by=request.user.get_username()
        )
        return Response(NotificationSettingsSerializer(ns).data)

    @extend_schema(
        summary="Send a test email with the organization's email settings",
        request=None,
        parameters=[
            OpenApiParameter(
                "recipient", OpenApiTypes.EMAIL, description="Where to send it; default: the from address."
            )
        ],
        responses={200: TestEmailSentSerializer, 502: error_response(502)},
    )
    @action(detail=False, methods=["post"], url_path="test-email")
    def test_email(self, request: Request) -> Response:
        query = TestEmailQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        ns = self.get_object()
        recipient = query.validated_data.get("recipient") or ns.email_from_address
        try:
            sent = send_test_email(ns, recipient=recipient, requested_by=request.user.get_username())
        except EmailDisabledError as exc:
            raise InvalidInput.field(exc.field, str(exc)) from exc
        except EmailDeliveryError as exc:
            raise UpstreamError(f"Test email not sent: {exc}") from exc
        return Response({"status": "sent", "to": recipient, "message_id": sent.message_id})
