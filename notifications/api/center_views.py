"""/api/notifications: each signed-in user's own notification center (thin ViewSets).

`get_queryset()` is the one place a request's notifications are scoped: the caller's own.
Someone else's notification answers 404, the same as a missing one.
"""

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from hcm.permissions import IsOrganizationMember, IsSystemAdmin, request_organization, request_user
from notifications import selectors
from notifications.api.filters import NotificationFilter
from notifications.api.serializers import (
    DeliverySummarySerializer,
    NotificationContactSerializer,
    NotificationContactStateSerializer,
    NotificationCreateSerializer,
    NotificationSerializer,
    NotificationsMarkedReadSerializer,
    NotificationStatsSerializer,
    NotifyResultSerializer,
    UnreadCountSerializer,
)
from notifications.models import Notification, NotificationContact
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


@extend_schema_view(
    list=extend_schema(summary="Your notifications, newest first"),
    retrieve=extend_schema(summary="One of your notifications"),
    destroy=extend_schema(summary="Delete one of your notifications", responses={204: None}),
    create=extend_schema(
        summary="Send a notification to users of your organization (system_admin)",
        request=NotificationCreateSerializer,
        responses={201: NotifyResultSerializer},
    ),
)
class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, mixins.CreateModelMixin, GenericViewSet
):
    queryset = Notification.objects.none()  # the model, for the router and the schema; get_queryset() scopes
    serializer_class = NotificationSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = NotificationFilter
    lookup_url_kwarg = "id"
    rate_limits = {"create": "notification_create"}

    def get_permissions(self) -> list[BasePermission]:
        # Everyone reads and manages their own; sending is a system_admin's.
        return [IsSystemAdmin()] if self.action == "create" else [IsOrganizationMember()]

    def get_queryset(self) -> QuerySet[Notification]:
        # id breaks created_at ties so pages never overlap.
        return Notification.objects.filter(user=request_user(self.request)).order_by("-created_at", "-id")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = NotificationCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        result = notification_send_custom(
            request_organization(request), **incoming.validated_data, created_by=request.user.get_username()
        )
        return notify_response(result)

    def perform_destroy(self, instance: Notification) -> None:
        notification_delete(notification=instance)

    @extend_schema(summary="Mark a notification read", request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["patch"])
    def read(self, request: Request, id: str) -> Response:
        return Response(NotificationSerializer(notification_mark_read(notification=self.get_object())).data)

    @extend_schema(
        summary="Mark all your notifications read", request=None, responses=NotificationsMarkedReadSerializer
    )
    @action(detail=False, methods=["patch"], url_path="read-all", filter_backends=[], pagination_class=None)
    def read_all(self, request: Request) -> Response:
        return Response({"updated": notifications_mark_all_read(notifications=self.get_queryset())})

    @extend_schema(summary="How many of your notifications are unread", responses=UnreadCountSerializer)
    @action(detail=False, methods=["get"], url_path="unread/count", filter_backends=[], pagination_class=None)
    def unread_count(self, request: Request) -> Response:
        return Response({"count": selectors.notification_unread_count(notifications=self.get_queryset())})

    @extend_schema(summary="Counts of your notifications", responses=NotificationStatsSerializer)
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request: Request) -> Response:
        return Response(selectors.notification_stats(notifications=self.get_queryset()))


_CONTACT_UPDATE: dict[str, Any] = {
    "request": NotificationContactSerializer,
    "responses": NotificationContactStateSerializer,
}


@extend_schema_view(
    retrieve=extend_schema(
        summary="Your phone number for SMS notifications", responses=NotificationContactStateSerializer
    ),
    update=extend_schema(summary="Set your phone number for SMS notifications", **_CONTACT_UPDATE),
    partial_update=extend_schema(summary="Set your phone number for SMS notifications", **_CONTACT_UPDATE),
)
class NotificationContactViewSet(mixins.RetrieveModelMixin, mixins.UpdateModelMixin, GenericViewSet):
    """The caller's own phone number for SMS notifications."""

    permission_classes = [IsOrganizationMember]
    queryset = NotificationContact.objects.none()  # the model, for the router and the schema; get_queryset() scopes
    serializer_class = NotificationContactSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[NotificationContact]:
        return NotificationContact.objects.filter(user=request_user(self.request))

    def get_object(self) -> NotificationContact:
        return self.get_queryset().first() or NotificationContact(user=request_user(self.request))

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = NotificationContactSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        contact, _ = NotificationContact.objects.update_or_create(
            user=request_user(request), defaults={"phone": incoming.validated_data["phone"]}
        )
        return Response(NotificationContactSerializer(contact).data)
