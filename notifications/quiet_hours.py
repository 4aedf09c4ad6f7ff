"""Quiet hours: when a non-critical outbound message must wait, and until when."""

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone as dj_timezone

from notifications.models import NotificationPriority, NotificationSettings

logger = logging.getLogger(__name__)


def organization_zone(name: str | None) -> ZoneInfo:
    """The organization's IANA zone; UTC (logged) if the stored name is unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown organization timezone; using UTC", extra={"timezone": name})
        return ZoneInfo("UTC")


def _parse_hh_mm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_window_end(*, at: datetime, start: str, end: str, zone: ZoneInfo) -> datetime | None:
    """If `at` falls inside the daily window [start, end) in `zone`, the moment the window
    ends (aware, UTC); otherwise None. start > end wraps midnight (22:00–08:00 covers
    23:30 and 07:59, ending the next or the same morning); start == end is no window."""
    start_t, end_t = _parse_hh_mm(start), _parse_hh_mm(end)
    if start_t == end_t:
        return None
    local = at.astimezone(zone)
    now_t = local.time().replace(tzinfo=None)
    today = local.date()
    if start_t < end_t:
        inside, end_date = start_t <= now_t < end_t, today
    elif now_t >= start_t:  # evening part of a window that wraps midnight
        inside, end_date = True, today + timedelta(days=1)
    else:  # morning part
        inside, end_date = now_t < end_t, today
    if not inside:
        return None
    # Wall-clock end in the zone; a DST gap resolves to the instant zoneinfo maps it to.
    return datetime.combine(end_date, end_t, tzinfo=zone).astimezone(ZoneInfo("UTC"))


def deferral_until(
    settings: NotificationSettings, *, priority: str, timezone_name: str, at: datetime | None = None
) -> datetime | None:
    """When an outbound (email / SMS / Slack) message created now may be sent, if it must
    wait for the end of quiet hours; None to send at once. Critical messages never wait."""
    if not settings.digest_do_not_disturb or priority == NotificationPriority.CRITICAL:
        return None
    try:
        return quiet_window_end(
            at=at or dj_timezone.now(),
            start=settings.digest_quiet_hours_start,
            end=settings.digest_quiet_hours_end,
            zone=organization_zone(timezone_name),
        )
    except ValueError:  # the API only stores HH:MM; a hand-edited row must not stop sends
        logger.warning("invalid quiet hours; ignoring them", extra={"organization_id": settings.organization_id})
        return None
