"""notifications.bulk_insert: instances as Model(...) makes them, rows as the ORM reads them
back (on PostgreSQL written as COPY text, whose escaping is ours)."""

from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from notifications.bulk_insert import bulk_insert, instance_maker
from notifications.models import Delivery, Notification

# Every character COPY's text format escapes, and what looks like its NULL marker.
TRICKY = "tab\there, new\nline, cr\r, back\\slash \\N, \b \v \f, ünïcode ✓, 'quotes\" <b>&amp;</b>"


def _fields(obj) -> dict:
    return {k: v for k, v in obj.__dict__.items() if k not in ("_state", "id")}


def test_instance_maker__makes_what_the_model_constructor_makes(org, admin_user):
    now = timezone.now()
    made = instance_maker(Notification, organization=org, type="custom", title="T", created_at=now)(user=admin_user)
    built = Notification(organization=org, user=admin_user, type="custom", title="T", created_at=now)
    assert _fields(made) == _fields(built)
    assert made.id.startswith("ntf_") and made.id != built.id  # the default called per instance
    assert made.user is admin_user and made.organization is org  # cached, as assigning sets them
    assert (made._state.adding, made._state.db) == (built._state.adding, built._state.db)

    delivery = instance_maker(Delivery, organization=org, event="custom")(
        notification=None, user=admin_user, channel="email", recipient="a@acme.test"
    )
    expected = Delivery(
        organization=org, notification=None, user=admin_user, event="custom", channel="email", recipient="a@acme.test"
    )
    assert _fields(delivery) | {"created_at": None} == _fields(expected) | {"created_at": None}


def test_bulk_insert__rows_read_back_as_written(org, admin_user):
    deferred = datetime(2026, 12, 1, 7, 30, 15, 123456, tzinfo=UTC)
    notification = Notification(
        organization=org,
        user=admin_user,
        type="custom",
        title=TRICKY[:200],
        message=TRICKY,
        metadata={"text": TRICKY, "list": [1, None, True, 2.5], "nested": {"k": "\\N"}},
        channels=["in_app", "email"],
    )
    delivery = Delivery(
        organization=org,
        notification=notification,
        user=admin_user,
        event="custom",
        channel="email",
        recipient="a@acme.test",
        content={"subject": TRICKY, "headers": {"X": "y"}},
        deferred_until=deferred,
        status="deferred",
    )
    with transaction.atomic():
        bulk_insert([notification])
        bulk_insert([delivery])

    read = Notification.objects.get(pk=notification.pk)
    assert (read.title, read.message, read.metadata, read.channels) == (
        TRICKY[:200],
        TRICKY,
        notification.metadata,
        ["in_app", "email"],
    )
    # seq: the stream trigger gave it a position (on SQLite, a trigger that a table remade by
    # a migration loses unless made again).
    assert read.created_at == notification.created_at and read.read_at is None and read.seq is not None
    got = Delivery.objects.get(pk=delivery.pk)
    assert (got.content, got.deferred_until, got.status, got.event_notification_ids) == (
        delivery.content,
        deferred,
        "deferred",
        [],
    )
    assert got.notification_id == notification.pk and got.updated_at == delivery.updated_at
    assert got.job_id is None and got.replaces_id is None and got.attempts == 0
