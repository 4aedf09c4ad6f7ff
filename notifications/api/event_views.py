"""/api/system/notification-events: how the rest of the platform reports an event."""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from hcm.permissions import IsSystemAdmin, request_organization
from notifications.api.serializers import (
    NotificationEventQueuedSerializer,
    NotificationEventSerializer,
    NotificationEventTypesSerializer,
)
from notifications.events import event_names, get_event
from notifications.services.event_fanout import notification_event_enqueue


@extend_schema_view(
    list=extend_schema(
        summary="The events that can be sent, with their channels", responses=NotificationEventTypesSerializer
    ),
    create=extend_schema(
        summary="Report an event: notify its recipients on the channels the settings allow",
        request=NotificationEventSerializer,
        description="Checks the event, its data and its recipients now (400 naming the field, nothing "
        "saved), then queues one `notification_fanout` job that creates the notifications and queues "
        "the deliveries: 202 with the job. Watch it at `job_url` (GET /api/system/background-jobs/{id}).",
        responses={202: NotificationEventQueuedSerializer},
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
        queued = notification_event_enqueue(
            request_organization(request),
            incoming.validated_data["event"],
            data=incoming.validated_data["data"],
            recipients=incoming.validated_data.get("recipients"),
            created_by=request.user.get_username(),
        )
        job_url = reverse("background-job-detail", kwargs={"job_id": queued.job.pk})
        body = {
            "job_id": queued.job.pk,
            "status": queued.job.status,
            "event": queued.event,
            "recipient_count": queued.recipient_count,
            "job_url": job_url,
        }
        return Response(
            NotificationEventQueuedSerializer(body).data, status=status.HTTP_202_ACCEPTED, headers={"Location": job_url}
        )
