"""The one entry point for notifying people: one in-app notification per recipient, plus
the outbound deliveries the organization's settings turn on, each sent by a job.

    notify(organization, "employee_hired", data={"employee_name": "Ada"})
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Lookup, QuerySet
from django.utils import timezone

from hcm.models import Organization, Role, User
from notifications.bulk_insert import bulk_insert, instance_maker
from notifications.channels.base import IN_APP, Audience, Outgoing, all_channel_choices, get_channel
from notifications.events import (
    InvalidNotification,
    channel_available,
    get_event,
    get_event_or_error,
)
from notifications.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationPriority,
    NotificationSettings,
    NotificationStatus,
)
from notifications.preferences import effective_channels_bulk, personal_quiet_until_bulk
from notifications.quiet_hours import deferral_until
from notifications.rendering import (
    GENERIC_TEMPLATE,
    RenderedNotification,
    render_event,
    safe_action_url,
)
from notifications.services.deliveries import deliveries_enqueue
from notifications.services.notification_settings import notification_settings_get
from notifications.unsubscribe import unsubscriber

logger = logging.getLogger(__name__)


@dataclass
class NotifyResult:
    notifications: list[Notification] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    recipients: int = 0  # the people resolved (some may have muted everything)


def notify(
    organization: Organization,
    event: str,
    *,
    data: dict[str, Any] | None,
    recipients: Iterable[User | int] | None = None,
    created_by: str = "system",
    within: Callable[[], None] | None = None,
) -> NotifyResult:
    """Notify `recipients` (default: the organization's system admins) of `event`.

    Raises InvalidNotification (a ValueError naming the bad field: event, data.<field>,
    recipients) for an unknown event, bad data, or a recipient outside the organization.
    `within` is called inside the transaction that saves everything (what raises there
    undoes the fan-out).
    """
    spec = get_event_or_error(event)
    clean = spec.clean_data(data)
    users = resolve_recipients(organization, recipients)
    settings = notification_settings_get(organization=organization)
    outgoing = Outgoing(
        type=spec.name,
        priority=spec.priority,
        rendered=render_event(spec, data=clean, organization_name=organization.name),
        data=clean,
        email_template=spec.name,
        organization_name=organization.name,
        organization_id=organization.pk,
    )
    return _fan_out(
        organization=organization,
        settings=settings,
        users=users,
        outgoing=outgoing,
        channels=spec.enabled_channels(settings),
        by=created_by,
        within=within,
    )


def notification_send_custom(
    organization: Organization,
    *,
    title: str,
    message: str,
    type: str = "custom",
    priority: str = NotificationPriority.NORMAL,
    channels: list[str] | None = None,
    action_url: str = "",
    metadata: dict[str, Any] | None = None,
    recipients: Iterable[User | int] | None = None,
    created_by: str = "system",
) -> NotifyResult:
    """An admin's own message (POST /api/notifications): the text is taken as given, never
    rendered as a template. Outbound channels need their master toggle on."""
    if get_event(type) is not None:
        raise InvalidNotification({"type": [f"{type!r} is an event; send it through /api/system/notification-events."]})
    if priority not in NotificationPriority.values:
        raise InvalidNotification({"priority": [f"Must be one of {', '.join(NotificationPriority.values)}."]})
    unknown = sorted(set(channels or []) - {key for key, _ in all_channel_choices()})
    if unknown:
        raise InvalidNotification({"channels": [f"Unknown channel(s): {', '.join(unknown)}."]})
    settings = notification_settings_get(organization=organization)
    wanted = list(dict.fromkeys([IN_APP, *(channels or [])]))
    unavailable = [c for c in wanted if not channel_available(settings, c)]
    if unavailable:
        raise InvalidNotification({"channels": [f"Not enabled for this organization: {', '.join(unavailable)}."]})
    users = resolve_recipients(organization, recipients)
    rendered = RenderedNotification(title=title[:200], message=message, action_url=safe_action_url(action_url))
    outgoing = Outgoing(
        type=type,
        priority=priority,
        rendered=rendered,
        data=dict(metadata or {}),
        email_template=GENERIC_TEMPLATE,
        organization_name=organization.name,
        organization_id=organization.pk,
    )
    return _fan_out(
        organization=organization, settings=settings, users=users, outgoing=outgoing, channels=wanted, by=created_by
    )


def resolve_recipients(organization: Organization, recipients: Iterable[User | int] | None) -> list[User]:
    """Active users of the organization; its system admins when `recipients` is None."""
    if recipients is None:
        return list(_default_recipients(organization).order_by("pk"))
    ids = _recipient_ids(recipients)
    users = sorted((u for query in _with_ids(_active_users(organization), ids) for u in query), key=lambda u: u.pk)
    _check_none_missing(ids, {u.pk for u in users})
    return users


def recipients_check(organization: Organization, recipients: Iterable[User | int] | None) -> int:
    """What resolve_recipients would check, without loading the users: how many there are.
    Raises the same InvalidNotification naming `recipients`."""
    if recipients is None:
        return _default_recipients(organization).count()
    ids = _recipient_ids(recipients)
    found = {pk for query in _with_ids(_active_users(organization), ids) for pk in query.values_list("pk", flat=True)}
    _check_none_missing(ids, found)
    return len(set(ids))


def _active_users(organization: Organization):
    return User.objects.filter(organization=organization, is_active=True)


def _default_recipients(organization: Organization):
    return _active_users(organization).filter(role=Role.SYSTEM_ADMIN)


class _AnyOf(Lookup):
    """PostgreSQL: `lhs = ANY(<the list as one bigint[] parameter>)`."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):  # type: ignore[no-untyped-def]
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::bigint[])", [*params, list(self.rhs)]


def _with_ids(users: QuerySet[User], ids: list[int], size: int = 10_000) -> list[QuerySet[User]]:
    """`users` limited to `ids`: one query on PostgreSQL, whose one array parameter costs
    psycopg nothing per id (10,000 placeholders took ~100 ms to scan and bind); on SQLite
    chunks of `size`, as it takes at most 32,766 parameters a statement and an event may
    name 50,000 people."""
    unique = sorted(set(ids))
    if connection.vendor == "postgresql":
        return [users.filter(_AnyOf(F("pk"), unique))]
    return [users.filter(pk__in=unique[i : i + size]) for i in range(0, len(unique), size)]


def _recipient_ids(recipients: Iterable[User | int]) -> list[int]:
    ids: list[int] = []
    for r in recipients:
        if isinstance(r, User):
            ids.append(r.pk)
        elif isinstance(r, int) and not isinstance(r, bool):
            ids.append(r)
        else:
            raise InvalidNotification({"recipients": ["Each recipient must be a user id."]})
    if not ids:
        raise InvalidNotification({"recipients": ["Name at least one recipient, or leave it out."]})
    return ids


def _check_none_missing(ids: list[int], found: set[int]) -> None:
    missing = sorted(set(ids) - found)
    if missing:
        # The same answer for another organization's user and no user at all.
        shown = ", ".join(map(str, missing[:20])) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise InvalidNotification({"recipients": [f"Not active users of this organization: {shown}."]})


def _fan_out(
    *,
    organization: Organization,
    settings: NotificationSettings,
    users: list[User],
    outgoing: Outgoing,
    channels: list[str],
    by: str,
    within: Callable[[], None] | None = None,
) -> NotifyResult:
    """One notification per user, plus a delivery per (recipient, channel) for channels
    that reach people, and one per event for channels that reach the organization."""
    now = timezone.now()
    result = NotifyResult(recipients=len(users))
    outbound = [spec for key in channels if key != IN_APP and (spec := get_channel(key)) is not None]
    deferred_until = (
        deferral_until(settings, priority=outgoing.priority, timezone_name=organization.timezone, at=now)
        if outbound
        else None
    )
    addresses = {spec.key: spec.addresses(users, settings) for spec in outbound if spec.audience == Audience.RECIPIENTS}
    # Each person's own choices and quiet hours, read in bulk (one query each, whatever
    # the number of recipients).
    reach = effective_channels_bulk(
        organization=organization,
        event=outgoing.type,
        priority=outgoing.priority,
        channels=channels,
        users=users,
    )
    personal_quiet = (
        personal_quiet_until_bulk(organization=organization, priority=outgoing.priority, users=users, at=now)
        if outbound
        else {}
    )

    new_delivery = instance_maker(Delivery, organization=organization, event=outgoing.type, created_at=now)

    def delivery(*, until: datetime | None = deferred_until, **fields: Any) -> Delivery:
        return new_delivery(
            status=DeliveryStatus.DEFERRED if until else DeliveryStatus.QUEUED, deferred_until=until, **fields
        )

    rendered = outgoing.rendered
    to_organization = [spec for spec in outbound if spec.audience == Audience.ORGANIZATION] if users else []
    # Rendered once per event and channel, then filled in per recipient (name, unsubscribe link).
    renderers = {spec.key: spec.renderer(outgoing) for spec in outbound if spec.audience == Audience.RECIPIENTS}
    unsubscribe = unsubscriber(outgoing.type) if get_event(outgoing.type) is not None else None
    # Every notification shares these values (the same objects: converted once on insert).
    new_notification = instance_maker(
        Notification,
        organization=organization,
        type=outgoing.type,
        title=rendered.title,
        message=rendered.message,
        priority=outgoing.priority,
        metadata=outgoing.data,
        action_url=rendered.action_url,
        created_at=now,
    )
    channel_lists: dict[tuple[str, ...], list[str]] = {}
    for user in users:
        chosen = reach[user.pk]
        # Personal quiet hours apply on top of the organization's: the later end wins.
        until = max(filter(None, (deferred_until, personal_quiet.get(user.pk))), default=None)
        notification = new_notification(user=user)
        mine: list[Delivery] = []
        for spec in outbound:
            address = addresses.get(spec.key, {}).get(user.pk)
            if address is None or spec.key not in chosen:
                continue  # organization-wide, unreachable on it, or turned off by the person
            content = renderers[spec.key](user)
            if spec.key == "email" and unsubscribe is not None:
                content = unsubscribe(content, user.pk)
            mine.append(
                delivery(
                    until=until,
                    notification=notification,
                    user=user,
                    channel=spec.key,
                    recipient=address,
                    content=content,
                )
            )
        channel_list = (IN_APP, *(d.channel for d in mine), *(spec.key for spec in to_organization))
        # One list per distinct set of channels: the insert converts each list object once.
        notification.channels = channel_lists.setdefault(channel_list, list(channel_list))
        if not mine:  # in-app only (organization posts are not the user's): delivered on creation
            notification.status, notification.delivery_status = NotificationStatus.SENT, NotificationStatus.SENT
            notification.sent_at = now
        if IN_APP in chosen:
            result.notifications.append(notification)
        else:  # muted in-app: the outbound messages go without a notification to hang on
            for d in mine:
                d.notification = None
        result.deliveries.extend(mine)
    for spec in to_organization:
        # One post to the organization's endpoint per event, not one per recipient.
        result.deliveries.append(
            delivery(
                channel=spec.key,
                recipient=spec.endpoint_hint(settings),
                content=spec.render(outgoing, user=None),
                event_notification_ids=[n.id for n in result.notifications],
            )
        )

    # Jobs are inserted in the same transaction as their deliveries: a worker can never
    # claim a job whose delivery does not exist, and a rollback leaves neither behind.
    with transaction.atomic():
        bulk_insert(result.notifications)
        deliveries_enqueue(result.deliveries, priority=outgoing.priority, by=by)
        if within is not None:
            within()
    logger.info(
        "notification fanned out",
        extra={
            "organization_id": organization.pk,
            "type": outgoing.type,
            "recipients": len(users),
            "deliveries": len(result.deliveries),
            "channels": ",".join(channels),
            "deferred_until": deferred_until.isoformat() if deferred_until else "",
        },
    )
    return result
