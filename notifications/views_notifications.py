"""/api/notifications: each signed-in user's own notification center (thin views)."""

from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hcm.pagination import paginate
from hcm.permissions import IsOrganizationMember, IsSystemAdmin
from hcm.ratelimit import enforce_rate_limit
from notifications import selectors
from notifications.events import InvalidNotification
from notifications.models import NotificationContact
from notifications.serializers_notifications import (
    DeliverySummarySerializer,
    NotificationContactSerializer,
    NotificationCreateSerializer,
    NotificationListQuery,
    NotificationSerializer,
)
from notifications.services.notification_center import (
    notification_delete,
    notification_mark_read,
    notifications_mark_all_read,
)
from notifications.services.notify import NotifyResult, notification_send_custom


def notify_response(result: NotifyResult) -> Response:
    return Response(
        {
            "notifications": NotificationSerializer(result.notifications, many=True).data,
            "deliveries": DeliverySummarySerializer(result.deliveries, many=True).data,
        },
        status=status.HTTP_201_CREATED,
    )


class NotificationListView(APIView):
    """GET: the caller's notifications. POST (system_admin): send one to users of the org."""

    def get_permissions(self):
        return [IsOrganizationMember() if self.request.method in SAFE_METHODS else IsSystemAdmin()]

    def get(self, request: Request) -> Response:
        query = NotificationListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        notifications = selectors.notification_list(
            user=request.user,
            unread_only=query.validated_data["unread_only"],
            type=query.validated_data.get("type"),
        )
        return Response(paginate(notifications, request.query_params, NotificationSerializer))

    def post(self, request: Request) -> Response:
        enforce_rate_limit(request, "notification_create")
        incoming = NotificationCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            result = notification_send_custom(
                request.user.organization, **incoming.validated_data, created_by=request.user.get_username()
            )
        except InvalidNotification as exc:
            raise ValidationError(exc.errors) from exc
        return notify_response(result)


class NotificationUnreadCountView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"count": selectors.notification_unread_count(user=request.user)})


class NotificationStatsView(APIView):
    def get(self, request: Request) -> Response:
        return Response(selectors.notification_stats(user=request.user))


class NotificationReadAllView(APIView):
    def patch(self, request: Request) -> Response:
        return Response({"updated": notifications_mark_all_read(user=request.user)})


class NotificationReadView(APIView):
    def patch(self, request: Request, id: str) -> Response:
        notification = notification_mark_read(user=request.user, notification_id=id)
        if notification is None:  # missing, or someone else's: the same answer
            raise Http404
        return Response(NotificationSerializer(notification).data)


class NotificationDetailView(APIView):
    def get(self, request: Request, id: str) -> Response:
        notification = selectors.notification_get(user=request.user, notification_id=id)
        if notification is None:
            raise Http404
        return Response(NotificationSerializer(notification).data)

    def delete(self, request: Request, id: str) -> Response:
        if not notification_delete(user=request.user, notification_id=id):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotificationContactView(APIView):
    """The caller's own phone number for SMS notifications."""

    def get(self, request: Request) -> Response:
        contact = NotificationContact.objects.filter(user=request.user).first() or NotificationContact(
            user=request.user
        )
        return Response(NotificationContactSerializer(contact).data)

    def put(self, request: Request) -> Response:
        incoming = NotificationContactSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        contact, _ = NotificationContact.objects.update_or_create(
            user=request.user, defaults={"phone": incoming.validated_data["phone"]}
        )
        return Response(NotificationContactSerializer(contact).data)

    patch = put
