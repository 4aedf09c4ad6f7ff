"""/api/system/notification-events: how the rest of the platform reports an event."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from hcm.permissions import IsSystemAdmin, request_organization
from notifications.api.center_views import notify_response
from notifications.api.serializers import (
    NotificationEventSerializer,
    NotificationEventTypesSerializer,
    NotifyResultSerializer,
)
from notifications.events import event_names, get_event
from notifications.services.notify import notify


@extend_schema_view(
    list=extend_schema(
        summary="The events that can be sent, with their channels", responses=NotificationEventTypesSerializer
    ),
    create=extend_schema(
        summary="Report an event: notify its recipients on the channels the settings allow",
        request=NotificationEventSerializer,
        responses={201: NotifyResultSerializer},
    ),
)
class NotificationEventViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, GenericViewSet):
    permission_classes = [IsSystemAdmin]
    serializer_class = NotificationEventSerializer
    pagination_class = None
    rate_limits = {"create": "notification_event"}

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The events that can be sent (a fixed catalogue, not a page of rows)."""
        events = [e for e in (get_event(name) for name in event_names()) if e is not None]
        return Response(
            {
                "items": [
                    {
                        "event": e.name,
                        "description": e.description,
                        "priority": e.priority,
                        "channels": e.channels,
                        "toggles": e.toggles,
                        "data_fields": sorted(e.data().fields) if e.data else [],
                    }
                    for e in events
                ]
            }
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = NotificationEventSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        result = notify(
            request_organization(request),
            incoming.validated_data["event"],
            data=incoming.validated_data["data"],
            recipients=incoming.validated_data.get("recipients"),
            created_by=request.user.get_username(),
        )
        return notify_response(result)
