"""Digests: which notifications, which period (in the organization's timezone), once only."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from jobs.models import BackgroundJob
from jobs.services import job_enqueue
from notifications.models import Delivery, DigestRun, Notification
from notifications.services.digests import Period, digests_create_due, period_containing
from notifications.services.notify import notification_send_custom
from tests.notifications.conftest import configure, delivery_worker_env
from tests.workers import start_worker


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


NOW = utc(2026, 1, 15, 10, 30)


def received(org, user, title: str, at: datetime) -> Notification:
    [n] = notification_send_custom(org, title=title, message="", recipients=[user]).notifications
    Notification.objects.filter(pk=n.pk).update(created_at=at)
    return n


@pytest.fixture
def daily(org):
    return configure(
        org,
        email_enabled=True,
        sms_enabled=False,
        slack_enabled=False,
        digest_frequency="daily",
        digest_do_not_disturb=False,
    )


def digest_deliveries() -> list[Delivery]:
    return list(Delivery.objects.filter(event="digest").order_by("user_id", "created_at"))


def test_daily_digest__unread_not_emailed_notifications_of_the_last_day(daily, org, member_user, admin_user):
    received(org, member_user, "Morning hire", utc(2026, 1, 14, 9, 0))
    received(org, member_user, "Evening policy", utc(2026, 1, 14, 18, 0))
    read = received(org, member_user, "Already read", utc(2026, 1, 14, 20, 0))
    Notification.objects.filter(pk=read.pk).update(read_at=utc(2026, 1, 14, 21, 0))
    emailed = received(org, member_user, "Emailed on its own", utc(2026, 1, 14, 21, 0))
    Delivery.objects.create(organization=org, notification=emailed, channel="email", recipient="x@y.z", status="sent")
    received(org, member_user, "Today, still open period", utc(2026, 1, 15, 8, 0))

    assert digests_create_due(now=NOW) == {"organizations": 1, "digests": 1}

    [run] = DigestRun.objects.all()
    assert run.user == member_user and run.frequency == "daily"
    assert (run.period_start, run.period_end) == (utc(2026, 1, 14), utc(2026, 1, 15))
    assert run.notification_count == 2
    [delivery] = digest_deliveries()
    assert delivery.recipient == member_user.email and delivery.status == "queued" and delivery.job is not None
    assert delivery.content["subject"] == "Your daily digest: 2 unread notifications"
    text = delivery.content["text"]
    assert "Morning hire (2026-01-14 09:00 UTC)" in text and "Evening policy" in text
    assert "Already read" not in text and "Emailed on its own" not in text and "Today" not in text
    assert "Morning hire" in delivery.content["html"]


def test_digest__second_run_for_the_same_period_sends_nothing(daily, org, member_user):
    received(org, member_user, "One", utc(2026, 1, 14, 9, 0))
    assert digests_create_due(now=NOW)["digests"] == 1
    received(org, member_user, "Late arrival in an already-digested period", utc(2026, 1, 14, 23, 0))

    assert digests_create_due(now=NOW)["digests"] == 0
    assert digests_create_due(now=NOW + timedelta(hours=5))["digests"] == 0
    assert DigestRun.objects.count() == 1 and len(digest_deliveries()) == 1


def test_digest__users_with_nothing_new_get_nothing(daily, org, member_user, admin_user):
    assert digests_create_due(now=NOW) == {"organizations": 1, "digests": 0}
    assert not DigestRun.objects.exists() and not BackgroundJob.objects.exists()


def test_digest__period_follows_the_organizations_timezone(daily, org, member_user):
    org.timezone = "America/New_York"  # UTC−5: 03:00 UTC on the 15th is 22:00 on the 14th
    org.save()
    received(org, member_user, "Late on the 13th, local", utc(2026, 1, 14, 4, 0))
    received(org, member_user, "Early on the 14th, local", utc(2026, 1, 14, 6, 0))

    digests_create_due(now=utc(2026, 1, 15, 3, 0))

    [run] = DigestRun.objects.all()
    assert (run.period_start, run.period_end) == (utc(2026, 1, 13, 5), utc(2026, 1, 14, 5))
    text = digest_deliveries()[0].content["text"]
    assert "Late on the 13th, local (2026-01-13 23:00 EST)" in text and "Early on the 14th" not in text


def test_hourly_digest__a_missed_run_is_caught_up(org, member_user):
    configure(org, email_enabled=True, digest_frequency="hourly")
    received(org, member_user, "Two hours ago", utc(2026, 1, 15, 8, 10))
    received(org, member_user, "An hour ago", utc(2026, 1, 15, 9, 10))
    received(org, member_user, "Three hours ago: too old", utc(2026, 1, 15, 7, 10))

    assert digests_create_due(now=NOW)["digests"] == 2
    assert sorted(DigestRun.objects.values_list("period_start", flat=True)) == [
        utc(2026, 1, 15, 8),
        utc(2026, 1, 15, 9),
    ]


@pytest.mark.parametrize(
    "fields",
    [{"digest_frequency": None}, {"digest_frequency": "daily", "email_enabled": False}],
    ids=["digests off", "email off"],
)
def test_digest__off(org, member_user, fields):
    configure(org, **fields)
    received(org, member_user, "x", utc(2026, 1, 14, 9, 0))
    assert digests_create_due(now=NOW) == {"organizations": 0, "digests": 0}


def test_digest__subject_to_quiet_hours(daily, org, member_user):
    configure(org, digest_do_not_disturb=True, digest_quiet_hours_start="22:00", digest_quiet_hours_end="08:00")
    received(org, member_user, "x", utc(2026, 1, 14, 9, 0))

    digests_create_due(now=utc(2026, 1, 15, 1, 0))

    [delivery] = digest_deliveries()
    assert delivery.status == "deferred" and delivery.deferred_until == utc(2026, 1, 15, 8, 0)
    assert delivery.job.run_at == utc(2026, 1, 15, 8, 0)


def test_digest__only_the_organization_asked_for(daily, org, other_org, member_user, other_admin):
    configure(other_org, email_enabled=True, digest_frequency="daily")
    received(org, member_user, "x", utc(2026, 1, 14, 9, 0))
    received(other_org, other_admin, "y", utc(2026, 1, 14, 9, 0))
    assert digests_create_due(organization_id=other_org.pk, now=NOW) == {"organizations": 1, "digests": 1}
    assert DigestRun.objects.get().user == other_admin


@pytest.mark.parametrize(
    ("frequency", "zone", "at", "expected"),
    [
        ("hourly", "UTC", utc(2026, 1, 15, 10, 30), Period(utc(2026, 1, 15, 10), utc(2026, 1, 15, 11))),
        ("hourly", "Asia/Kolkata", utc(2026, 1, 15, 10, 0), Period(utc(2026, 1, 15, 9, 30), utc(2026, 1, 15, 10, 30))),
        ("daily", "Asia/Tokyo", utc(2026, 1, 15, 16, 0), Period(utc(2026, 1, 15, 15), utc(2026, 1, 16, 15))),
        # Berlin's day of the spring clock change has 23 hours.
        ("daily", "Europe/Berlin", utc(2026, 3, 29, 12), Period(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))),
        # 2026-01-15 is a Thursday: the week runs from Monday the 12th.
        ("weekly", "UTC", utc(2026, 1, 15, 10), Period(utc(2026, 1, 12), utc(2026, 1, 19))),
        ("monthly", "UTC", utc(2026, 12, 31, 23), Period(utc(2026, 12, 1), utc(2027, 1, 1))),
        ("monthly", "America/New_York", utc(2026, 2, 1, 3), Period(utc(2026, 1, 1, 5), utc(2026, 2, 1, 5))),
    ],
)
def test_period_containing(frequency, zone, at, expected):
    assert period_containing(frequency, at, ZoneInfo(zone)) == expected


@pytest.mark.django_db(transaction=True)
def test_digest_across_a_worker_restart__sent_exactly_once(org, member_user, smtp, slack, twilio, tmp_path):
    configure(org, email_enabled=True, sms_enabled=False, slack_enabled=False, digest_frequency="hourly")
    last_hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(minutes=30)
    received(org, member_user, "Contract signed", last_hour)
    received(org, member_user, "Badge ready", last_hour + timedelta(minutes=1))
    env = delivery_worker_env(smtp, slack, twilio)

    def tick_and_run(*args: str) -> None:
        job_enqueue(organization=None, job_type="notification_digest", payload={})
        log = tmp_path / "worker.log"
        proc = start_worker("--burst", *args, env=env, log_path=log)
        assert proc.wait(timeout=60) == 0, log.read_text()

    # A worker that only runs digest ticks stops after queuing the email: the digest exists,
    # nothing is sent yet (as if the worker had been stopped right after).
    tick_and_run("--job-types", "notification_digest")
    assert DigestRun.objects.count() == 1 and smtp.messages == []
    # The restarted worker runs the next tick (nothing new) and sends the queued email once.
    job_enqueue(organization=None, job_type="notification_digest", payload={})
    tick_and_run()

    [message] = smtp.messages
    assert message["To"] == member_user.email
    assert message["Subject"] == "Your hourly digest: 2 unread notifications"
    body = message.get_body(("plain",)).get_content()
    assert "Contract signed" in body and "Badge ready" in body
    assert DigestRun.objects.count() == 1
    assert Delivery.objects.get(event="digest").status == "sent"
    assert Notification.objects.filter(digest_run__isnull=False).count() == 2
