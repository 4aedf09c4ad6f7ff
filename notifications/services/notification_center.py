"""What a user does in their notification center, and the retention of read ones."""

import logging
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus

logger = logging.getLogger(__name__)

PURGE_BATCH = 500


def notification_mark_read(*, notification: Notification) -> Notification:
    """Mark the notification read (again: a no-op). Reading never touches its deliveries."""
    if notification.read_at is None:
        now = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=now, status=NotificationStatus.READ
        )
        notification.refresh_from_db()
    return notification


def notifications_mark_all_read(*, notifications: QuerySet[Notification]) -> int:
    """Mark every unread one of `notifications` (a user's, scoped by the caller) read; returns how many."""
    return notifications.filter(read_at__isnull=True).update(read_at=timezone.now(), status=NotificationStatus.READ)


def notification_delete(*, notification: Notification) -> None:
    """Delete the notification (its unsent deliveries are dropped)."""
    notification.delete()


def read_notifications_purge(
    *, older_than_days: int, organization_id: str | None = None, now: datetime | None = None
) -> int:
    """Delete notifications read more than `older_than_days` ago (one organization's, or
    every one's); returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    expired = Notification.objects.filter(read_at__lt=cutoff)
    if organization_id:
        expired = expired.filter(organization_id=organization_id)
    deleted = 0
    # In batches: a long-idle deployment may have a lot to delete, and one huge
    # transaction would hold the SQLite write lock the workers need.
    while ids := list(expired.values_list("pk", flat=True)[:PURGE_BATCH]):
        Notification.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
    if deleted:
        logger.info("read notifications purged", extra={"deleted": deleted, "older_than_days": older_than_days})
    return deleted


def channel_deliveries_purge(
    *, older_than_days: int, organization_id: str | None = None, now: datetime | None = None
) -> int:
    """Delete finished Slack deliveries (they belong to no notification) past retention."""
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    finished = Delivery.objects.filter(
        notification__isnull=True,
        digest_run__isnull=True,
        status__in=[DeliveryStatus.SENT, DeliveryStatus.FAILED],
        updated_at__lt=cutoff,
    )
    if organization_id:
        finished = finished.filter(organization_id=organization_id)
    deleted = 0
    while ids := list(finished.values_list("pk", flat=True)[:PURGE_BATCH]):
        Delivery.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
    return deleted
