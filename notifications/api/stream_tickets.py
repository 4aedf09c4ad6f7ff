"""POST /api/notifications/stream-ticket: a short-lived, single-use ticket that opens the
notification stream from a browser's EventSource (which cannot send Authorization)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from hcm.permissions import request_user
from notifications.stream.tickets import stream_ticket_issue


class StreamTicketSerializer(serializers.Serializer):
    ticket = serializers.CharField()
    expires_at = serializers.DateTimeField()
    url = serializers.CharField(help_text="The stream's path with the ticket: give it to EventSource.")


class StreamTicketViewSet(viewsets.ViewSet):
    @extend_schema(
        summary="A ticket for the notification stream",
        description=(
            "Valid once, for NOTIFICATIONS_STREAM_TICKET_SECONDS (60 s). Open "
            "`GET /api/notifications/stream?ticket=…` with it; to resume after a disconnect, "
            "ask for a new ticket and add `&last_event_id=` (the id of the last event received)."
        ),
        request=None,
        responses={201: StreamTicketSerializer},
    )
    def create(self, request: Request) -> Response:
        issued = stream_ticket_issue(user=request_user(request))
        body = {
            "ticket": issued.ticket,
            "expires_at": issued.expires_at,
            "url": f"/api/notifications/stream?ticket={issued.ticket}",
        }
        return Response(StreamTicketSerializer(body).data, status=status.HTTP_201_CREATED)
