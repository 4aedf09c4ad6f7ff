"""Read-only queries for the notification center (always one user's own notifications)."""

from django.db.models import Count, Q, QuerySet

from hcm.models import User
from notifications.models import Notification, NotificationStatus


def notification_list(*, user: User, unread_only: bool = False, type: str | None = None) -> QuerySet[Notification]:
    """The user's notifications, newest first (id breaks ties so pages never overlap)."""
    notifications = Notification.objects.filter(user=user)
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    if type:
        notifications = notifications.filter(type=type)
    return notifications.order_by("-created_at", "-id")


def notification_get(*, user: User, notification_id: str) -> Notification | None:
    return Notification.objects.filter(user=user, pk=notification_id).first()


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_stats(*, user: User) -> dict:
    """{"total", "unread", "read", "failed", "by_type"} over the user's notifications."""
    mine = Notification.objects.filter(user=user)
    totals = mine.aggregate(
        total=Count("id"),
        unread=Count("id", filter=Q(read_at__isnull=True)),
        read=Count("id", filter=Q(read_at__isnull=False)),
        failed=Count("id", filter=Q(status=NotificationStatus.FAILED)),
    )
    by_type = {row["type"]: row["n"] for row in mine.values("type").annotate(n=Count("id")).order_by("type")}
    return {**totals, "by_type": by_type}
