"""Digest emails: once per period, each user's unread notifications that no email has
carried yet, in one message.

Runs from the `notification_digest` job (scheduled hourly). For each organization with a
digest frequency it looks at the latest completed period and the one before it (so one
missed run is caught up), in the organization's timezone. A DigestRun row per (user,
frequency, period) is inserted in the same transaction as the digest's delivery and job,
and a unique constraint on it makes the digest exactly-once: a rerun, a second worker or a
restarted one cannot insert it again, and a run that crashed before committing left
nothing behind, so the next run creates it.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from hcm.models import Organization, User
from notifications.models import (
    Delivery,
    DeliveryChannel,
    DeliveryStatus,
    DigestRun,
    Notification,
    NotificationPriority,
    NotificationSettings,
)
from notifications.models.settings import DigestFrequency
from notifications.quiet_hours import deferral_until, organization_zone
from notifications.rendering import absolute_url, render_digest
from notifications.services.deliveries import deliveries_enqueue

logger = logging.getLogger(__name__)

UTC = ZoneInfo("UTC")
DIGEST_EVENT = "digest"
# Digest runs are kept this long at least: well past the two periods a run looks back.
DIGEST_RUN_MIN_RETENTION_DAYS = 100


@dataclass(frozen=True)
class Period:
    start: datetime  # aware, UTC
    end: datetime


def period_containing(frequency: str, at: datetime, zone: ZoneInfo) -> Period:
    """The hour / day / ISO week (from Monday) / month around `at`, in local time."""
    local = at.astimezone(zone)
    if frequency == DigestFrequency.HOURLY:
        start = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        return Period(start, start + timedelta(hours=1))  # in UTC: DST-safe
    if frequency == DigestFrequency.DAILY:
        first = local.date()
        after = first + timedelta(days=1)
    elif frequency == DigestFrequency.WEEKLY:
        first = local.date() - timedelta(days=local.weekday())
        after = first + timedelta(days=7)
    elif frequency == DigestFrequency.MONTHLY:
        first = local.date().replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"unknown digest frequency {frequency!r}")
    return Period(_midnight(first, zone), _midnight(after, zone))


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def period_before(frequency: str, period: Period, zone: ZoneInfo) -> Period:
    return period_containing(frequency, period.start - timedelta(microseconds=1), zone)


def digests_create_due(*, organization_id: str | None = None, now: datetime | None = None) -> dict[str, int]:
    """Create (and queue) every digest that is due; returns counts. Cheap when none is."""
    now = now or timezone.now()
    rows = (
        NotificationSettings.objects.filter(digest_frequency__in=DigestFrequency.values, email_enabled=True)
        .select_related("organization")
        .order_by("organization_id")
    )
    if organization_id:
        rows = rows.filter(organization_id=organization_id)
    organizations = digests = 0
    for settings in rows:
        organizations += 1
        digests += _organization_digests(settings, now=now)
    return {"organizations": organizations, "digests": digests}


def _organization_digests(settings: NotificationSettings, *, now: datetime) -> int:
    organization = settings.organization
    frequency = settings.digest_frequency
    if frequency is None:  # digests off
        return 0
    zone = organization_zone(organization.timezone)
    latest = period_before(frequency, period_containing(frequency, now, zone), zone)
    earliest = period_before(frequency, latest, zone)
    emailed = Delivery.objects.filter(
        notification=OuterRef("pk"),
        channel=DeliveryChannel.EMAIL,
        status__in=[DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED, DeliveryStatus.SENT],
    )
    candidates = (
        Notification.objects.filter(
            organization=organization,
            read_at__isnull=True,
            digest_run__isnull=True,
            created_at__gte=earliest.start,
            created_at__lt=latest.end,
        )
        .exclude(Exists(emailed))
        .order_by("user_id", "created_at")
        .values_list("id", "user_id", "created_at")
    )
    groups: dict[tuple[int, Period], list[str]] = defaultdict(list)
    for notification_id, user_id, created_at in candidates:
        groups[(user_id, period_containing(frequency, created_at, zone))].append(notification_id)
    if not groups:
        return 0
    users = {u.pk: u for u in User.objects.filter(pk__in={user_id for user_id, _ in groups}, is_active=True)}
    deferred = deferral_until(
        settings, priority=NotificationPriority.NORMAL, timezone_name=organization.timezone, at=now
    )
    created = 0
    for (user_id, period), ids in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1].start)):
        user = users.get(user_id)
        if user is None or not user.email:
            continue
        created += _digest_create(
            organization=organization,
            user=user,
            frequency=frequency,
            period=period,
            notification_ids=ids,
            deferred_until=deferred,
            zone=zone,
        )
    return created


class _NothingToSend(Exception):
    pass


def _digest_create(
    *,
    organization: Organization,
    user: User,
    frequency: str,
    period: Period,
    notification_ids: list[str],
    deferred_until: datetime | None,
    zone: ZoneInfo,
) -> int:
    """Insert the run, claim its notifications, queue its email; 0 if it already exists."""
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    run = DigestRun.objects.create(
                        organization=organization,
                        user=user,
                        frequency=frequency,
                        period_start=period.start,
                        period_end=period.end,
                    )
            except IntegrityError:
                return 0  # this period's digest exists already
            claimed = Notification.objects.filter(
                pk__in=notification_ids, digest_run__isnull=True, read_at__isnull=True
            ).update(digest_run=run)
            if not claimed:
                raise _NothingToSend
            notifications = list(Notification.objects.filter(digest_run=run).order_by("created_at", "id"))
            run.notification_count = len(notifications)
            run.save(update_fields=["notification_count"])
            items = [
                {
                    "title": n.title,
                    "time": n.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
                    "action_url": absolute_url(n.action_url),
                    "priority": n.priority,
                }
                for n in notifications
            ]
            content = render_digest(
                items=items,
                frequency=frequency,
                organization_name=organization.name,
                recipient_name=user.get_full_name() or user.get_username(),
            )
            delivery = Delivery(
                organization=organization,
                digest_run=run,
                user=user,
                event=DIGEST_EVENT,
                channel=DeliveryChannel.EMAIL,
                recipient=user.email,
                content=content,
                status=DeliveryStatus.DEFERRED if deferred_until else DeliveryStatus.QUEUED,
                deferred_until=deferred_until,
            )
            deliveries_enqueue([delivery], priority=NotificationPriority.NORMAL, by="digest")
    except _NothingToSend:
        return 0
    logger.info(
        "digest queued",
        extra={
            "organization_id": organization.pk,
            "user_id": user.pk,
            "frequency": frequency,
            "period_start": period.start.isoformat(),
            "notifications": run.notification_count,
        },
    )
    return 1


def digest_runs_purge(*, older_than_days: int, organization_id: str | None = None, now: datetime | None = None) -> int:
    """Delete digest runs (and their deliveries) whose period ended long ago (one
    organization's, or every one's)."""
    days = max(older_than_days, DIGEST_RUN_MIN_RETENTION_DAYS)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    expired = DigestRun.objects.filter(period_end__lt=cutoff)
    if organization_id:
        expired = expired.filter(organization_id=organization_id)
    deleted = 0
    while ids := list(expired.values_list("pk", flat=True)[:500]):
        DigestRun.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
    return deleted
