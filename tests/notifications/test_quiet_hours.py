"""Quiet hours with fixed instants: windows wrapping midnight, timezones, DST, bypass."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from notifications.models import Delivery, NotificationSettings
from notifications.quiet_hours import deferral_until, quiet_window_end
from notifications.services.notify import notify
from tests.notifications.conftest import configure


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# (window start, end, zone, the instant, when the window ends — None: not inside)
WINDOWS = [
    ("22:00", "08:00", "UTC", utc(2026, 1, 15, 23, 30), utc(2026, 1, 16, 8, 0)),  # evening: ends tomorrow
    ("22:00", "08:00", "UTC", utc(2026, 1, 15, 22, 0), utc(2026, 1, 16, 8, 0)),  # start is inside
    ("22:00", "08:00", "UTC", utc(2026, 1, 15, 7, 59), utc(2026, 1, 15, 8, 0)),  # morning: ends today
    ("22:00", "08:00", "UTC", utc(2026, 1, 15, 0, 0), utc(2026, 1, 15, 8, 0)),
    ("22:00", "08:00", "UTC", utc(2026, 1, 15, 8, 0), None),  # end is outside
    ("22:00", "08:00", "UTC", utc(2026, 1, 15, 21, 59), None),
    ("22:00", "08:00", "UTC", utc(2026, 1, 15, 12, 0), None),
    ("09:00", "17:00", "UTC", utc(2026, 1, 15, 12, 0), utc(2026, 1, 15, 17, 0)),  # same-day window
    ("09:00", "17:00", "UTC", utc(2026, 1, 15, 17, 0), None),
    ("09:00", "17:00", "UTC", utc(2026, 1, 15, 8, 59), None),
    ("08:00", "08:00", "UTC", utc(2026, 1, 15, 8, 0), None),  # empty window
    # New York is UTC−5 in January: 04:00 UTC is 23:00 local, the window ends 08:00 local.
    ("22:00", "08:00", "America/New_York", utc(2026, 1, 15, 4, 0), utc(2026, 1, 15, 13, 0)),
    ("22:00", "08:00", "America/New_York", utc(2026, 1, 15, 23, 0), None),  # 18:00 local
    # Tokyo is UTC+9: 14:00 UTC is 23:00 local; the window ends 08:00 the next local day.
    ("22:00", "08:00", "Asia/Tokyo", utc(2026, 1, 15, 14, 0), utc(2026, 1, 15, 23, 0)),
    ("22:00", "08:00", "Asia/Tokyo", utc(2026, 1, 15, 23, 30), None),  # 08:30 local
    # Kolkata is UTC+05:30: 17:00 UTC is 22:30 local.
    ("22:00", "08:00", "Asia/Kolkata", utc(2026, 1, 15, 17, 0), utc(2026, 1, 16, 2, 30)),
    # Berlin's clocks go forward that night: 23:30 CET → 08:00 CEST (UTC+2) = 06:00 UTC.
    ("22:00", "08:00", "Europe/Berlin", utc(2026, 3, 28, 22, 30), utc(2026, 3, 29, 6, 0)),
]


@pytest.mark.parametrize(("start", "end", "zone", "at", "expected"), WINDOWS)
def test_quiet_window_end(start, end, zone, at, expected):
    assert quiet_window_end(at=at, start=start, end=end, zone=ZoneInfo(zone)) == expected


def quiet(**fields) -> NotificationSettings:
    return NotificationSettings(
        digest_do_not_disturb=True, digest_quiet_hours_start="22:00", digest_quiet_hours_end="08:00", **fields
    )


@pytest.mark.parametrize(
    ("settings_", "priority", "timezone_name", "expected"),
    [
        (quiet(), "normal", "UTC", utc(2026, 1, 16, 8, 0)),
        (quiet(), "high", "UTC", utc(2026, 1, 16, 8, 0)),
        (quiet(), "critical", "UTC", None),  # critical alerts bypass quiet hours
        (NotificationSettings(digest_do_not_disturb=False), "normal", "UTC", None),  # do-not-disturb off
        (quiet(), "normal", "Not/AZone", utc(2026, 1, 16, 8, 0)),  # unknown zone: UTC
        (quiet(), "normal", "America/Los_Angeles", None),  # 15:30 local
    ],
)
def test_deferral_until(settings_, priority, timezone_name, expected):
    at = utc(2026, 1, 15, 23, 30)
    assert deferral_until(settings_, priority=priority, timezone_name=timezone_name, at=at) == expected


def test_notify_in_quiet_hours__outbound_deferred_in_app_immediate_critical_not_deferred(org, admin_user):
    configure(
        org,
        email_enabled=True,
        email_on_employee_hired=True,
        email_on_critical_alerts=True,
        digest_do_not_disturb=True,
        digest_quiet_hours_start=(timezone.now() - timedelta(hours=1)).strftime("%H:%M"),
        digest_quiet_hours_end=(timezone.now() + timedelta(hours=1)).strftime("%H:%M"),
    )
    [hired] = notify(org, "employee_hired", data={"employee_name": "Ada"}).notifications
    [alert] = notify(org, "critical_alert", data={"summary": "x"}).notifications

    deferred = Delivery.objects.get(notification=hired)
    assert deferred.status == "deferred" and deferred.deferred_until is not None
    assert deferred.job.run_at == deferred.deferred_until
    assert hired.title == "New hire: Ada"  # the in-app notification exists now
    immediate = Delivery.objects.get(notification=alert)
    assert immediate.status == "queued" and immediate.deferred_until is None
