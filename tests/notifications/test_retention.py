"""The cleanup job's step for old read notifications."""

from datetime import timedelta

from django.utils import timezone

from jobs.cleanup import cleanup_steps
from notifications.models import Notification
from notifications.services.notify import notification_send_custom
from tests.notifications.conftest import ALL_CHANNELS_OFF, configure


def test_cleanup_step__removes_read_notifications_past_retention(org, member_user, settings):
    settings.NOTIFICATIONS_READ_RETENTION_DAYS = 7
    configure(org, **ALL_CHANNELS_OFF)
    now = timezone.now()
    ages = {"read 8 days ago": 8, "read 6 days ago": 6, "unread, old": None}
    for title, read_days_ago in ages.items():
        [n] = notification_send_custom(org, title=title, message="", recipients=[member_user]).notifications
        Notification.objects.filter(pk=n.pk).update(
            created_at=now - timedelta(days=40),
            read_at=now - timedelta(days=read_days_ago) if read_days_ago is not None else None,
        )

    step = cleanup_steps("expired_data")["read_notifications"]

    assert step(None) == 1
    assert sorted(Notification.objects.values_list("title", flat=True)) == ["read 6 days ago", "unread, old"]
    assert step(None) == 0
