"""/api/system/notification-events: how the rest of the platform reports an event."""

from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hcm.permissions import IsSystemAdmin
from hcm.ratelimit import enforce_rate_limit
from notifications.events import InvalidNotification, event_names, get_event
from notifications.serializers_notifications import NotificationEventSerializer
from notifications.services.notify import notify
from notifications.views_notifications import notify_response


class NotificationEventView(APIView):
    permission_classes = [IsSystemAdmin]

    def get(self, request: Request) -> Response:
        """The events that can be sent, with the channels each may use."""
        events = [get_event(name) for name in event_names()]
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

    def post(self, request: Request) -> Response:
        enforce_rate_limit(request, "notification_event")
        incoming = NotificationEventSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            result = notify(
                request.user.organization,
                incoming.validated_data["event"],
                data=incoming.validated_data["data"],
                recipients=incoming.validated_data.get("recipients"),
                created_by=request.user.get_username(),
            )
        except InvalidNotification as exc:
            raise ValidationError(exc.errors) from exc
        return notify_response(result)
