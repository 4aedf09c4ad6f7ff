"""What a user does in their notification center, and the retention of read ones."""

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from hcm.models import User
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus

logger = logging.getLogger(__name__)

PURGE_BATCH = 500


def notification_mark_read(*, user: User, notification_id: str) -> Notification | None:
    """Mark one of the user's notifications read (again: a no-op); None if not theirs."""
    notification = Notification.objects.filter(user=user, pk=notification_id).first()
    if notification is None:
        return None
    if notification.read_at is None:
        now = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=now, status=NotificationStatus.READ
        )
        notification.refresh_from_db()
    return notification


def notifications_mark_all_read(*, user: User, type: str | None = None) -> int:
    """Mark all the user's unread notifications (of `type`) read; returns how many."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if type:
        unread = unread.filter(type=type)
    return unread.update(read_at=timezone.now(), status=NotificationStatus.READ)


def notification_delete(*, user: User, notification_id: str) -> bool:
    """Delete one of the user's notifications (its unsent deliveries are dropped)."""
    deleted, _ = Notification.objects.filter(user=user, pk=notification_id).delete()
    return bool(deleted)


def read_notifications_purge(*, older_than_days: int, now: datetime | None = None) -> int:
    """Delete notifications read more than `older_than_days` ago; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    deleted = 0
    # In batches: a long-idle deployment may have a lot to delete, and one huge
    # transaction would hold the SQLite write lock the workers need.
    while ids := list(Notification.objects.filter(read_at__lt=cutoff).values_list("pk", flat=True)[:PURGE_BATCH]):
        Notification.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
    if deleted:
        logger.info("read notifications purged", extra={"deleted": deleted, "older_than_days": older_than_days})
    return deleted


def channel_deliveries_purge(*, older_than_days: int, now: datetime | None = None) -> int:
    """Delete finished Slack deliveries (they belong to no notification) past retention."""
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    finished = Delivery.objects.filter(
        notification__isnull=True,
        digest_run__isnull=True,
        status__in=[DeliveryStatus.SENT, DeliveryStatus.FAILED],
        updated_at__lt=cutoff,
    )
    deleted = 0
    while ids := list(finished.values_list("pk", flat=True)[:PURGE_BATCH]):
        Delivery.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
    return deleted
