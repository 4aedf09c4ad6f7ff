"""Read-only figures over a user's notifications. The caller passes the notifications it
may see (the API's get_queryset() scopes them to the signed-in user)."""

from django.db.models import Count, Q, QuerySet

from notifications.models import Notification, NotificationStatus


def notification_unread_count(*, notifications: QuerySet[Notification]) -> int:
    return notifications.filter(read_at__isnull=True).count()


def notification_stats(*, notifications: QuerySet[Notification]) -> dict:
    """{"total", "unread", "read", "failed", "by_type"} over `notifications`."""
    mine = notifications.order_by()
    totals = mine.aggregate(
        total=Count("id"),
        unread=Count("id", filter=Q(read_at__isnull=True)),
        read=Count("id", filter=Q(read_at__isnull=False)),
        failed=Count("id", filter=Q(status=NotificationStatus.FAILED)),
    )
    by_type = {row["type"]: row["n"] for row in mine.values("type").annotate(n=Count("id")).order_by("type")}
    return {**totals, "by_type": by_type}
