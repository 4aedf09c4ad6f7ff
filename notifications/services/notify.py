"""The one entry point for notifying people: one in-app notification per recipient, plus
the outbound deliveries the organization's settings turn on, each sent by a job.

    notify(organization, "employee_hired", data={"employee_name": "Ada"})
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from hcm.models import Organization, Role, User
from notifications.events import (
    InvalidNotification,
    channel_available,
    get_event,
    get_event_or_error,
)
from notifications.models import (
    Channel,
    Delivery,
    DeliveryChannel,
    DeliveryStatus,
    Notification,
    NotificationContact,
    NotificationPriority,
    NotificationSettings,
    NotificationStatus,
)
from notifications.models.settings import mask_secret_url
from notifications.preferences import IN_APP, effective_channels_bulk, personal_quiet_until_bulk
from notifications.quiet_hours import deferral_until
from notifications.rendering import (
    GENERIC_TEMPLATE,
    RenderedNotification,
    render_email,
    render_event,
    render_slack,
    render_sms,
    safe_action_url,
)
from notifications.services.deliveries import deliveries_enqueue
from notifications.services.notification_settings import notification_settings_get
from notifications.unsubscribe import with_unsubscribe

logger = logging.getLogger(__name__)

OUTBOUND_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.SLACK)


@dataclass
class NotifyResult:
    notifications: list[Notification] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)


@dataclass(frozen=True)
class _Outgoing:
    """One message, before it is addressed to anyone."""

    type: str
    priority: str
    channels: list[str]
    rendered: RenderedNotification
    data: dict[str, Any]
    email_template: str


def notify(
    organization: Organization,
    event: str,
    *,
    data: dict[str, Any] | None,
    recipients: Iterable[User | int] | None = None,
    created_by: str = "system",
) -> NotifyResult:
    """Notify `recipients` (default: the organization's system admins) of `event`.

    Raises InvalidNotification (a ValueError naming the bad field: event, data.<field>,
    recipients) for an unknown event, bad data, or a recipient outside the organization.
    """
    spec = get_event_or_error(event)
    clean = spec.clean_data(data)
    users = resolve_recipients(organization, recipients)
    settings = notification_settings_get(organization=organization)
    outgoing = _Outgoing(
        type=spec.name,
        priority=spec.priority,
        channels=spec.enabled_channels(settings),
        rendered=render_event(spec, data=clean, organization_name=organization.name),
        data=clean,
        email_template=spec.name,
    )
    return _fan_out(organization=organization, settings=settings, users=users, outgoing=outgoing, by=created_by)


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
    unknown = sorted(set(channels or []) - set(Channel.values))
    if unknown:
        raise InvalidNotification({"channels": [f"Unknown channel(s): {', '.join(unknown)}."]})
    settings = notification_settings_get(organization=organization)
    wanted = list(dict.fromkeys([Channel.IN_APP, *(channels or [])]))
    unavailable = [c for c in wanted if not channel_available(settings, c)]
    if unavailable:
        raise InvalidNotification({"channels": [f"Not enabled for this organization: {', '.join(unavailable)}."]})
    users = resolve_recipients(organization, recipients)
    rendered = RenderedNotification(title=title[:200], message=message, action_url=safe_action_url(action_url))
    outgoing = _Outgoing(
        type=type,
        priority=priority,
        channels=wanted,
        rendered=rendered,
        data=dict(metadata or {}),
        email_template=GENERIC_TEMPLATE,
    )
    return _fan_out(organization=organization, settings=settings, users=users, outgoing=outgoing, by=created_by)


def resolve_recipients(organization: Organization, recipients: Iterable[User | int] | None) -> list[User]:
    """Active users of the organization; its system admins when `recipients` is None."""
    if recipients is None:
        return list(
            User.objects.filter(organization=organization, role=Role.SYSTEM_ADMIN, is_active=True).order_by("pk")
        )
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
    users = list(User.objects.filter(pk__in=ids, organization=organization, is_active=True).order_by("pk"))
    missing = sorted(set(ids) - {u.pk for u in users})
    if missing:
        # The same answer for another organization's user and no user at all.
        raise InvalidNotification(
            {"recipients": [f"Not active users of this organization: {', '.join(map(str, missing))}."]}
        )
    return users


def _fan_out(
    *,
    organization: Organization,
    settings: NotificationSettings,
    users: list[User],
    outgoing: _Outgoing,
    by: str,
) -> NotifyResult:
    now = timezone.now()
    result = NotifyResult()
    outbound = [c for c in outgoing.channels if c in OUTBOUND_CHANNELS]
    deferred_until = (
        deferral_until(settings, priority=outgoing.priority, timezone_name=organization.timezone, at=now)
        if outbound
        else None
    )
    # Each person's own choices and quiet hours, read in bulk (one query each, whatever
    # the number of recipients).
    reach = effective_channels_bulk(
        organization=organization,
        event=outgoing.type,
        priority=outgoing.priority,
        channels=outgoing.channels,
        users=users,
    )
    personal_quiet = (
        personal_quiet_until_bulk(organization=organization, priority=outgoing.priority, users=users, at=now)
        if outbound
        else {}
    )
    phones: dict[int, str] = {}
    if Channel.SMS in outbound:
        phones = {
            user_id: phone
            for user_id, phone in NotificationContact.objects.filter(user__in=users, phone__isnull=False)
            .exclude(phone="")
            .values_list("user_id", "phone")
            if phone
        }

    def delivery(*, until: datetime | None = deferred_until, **fields: Any) -> Delivery:
        return Delivery(
            organization=organization,
            event=outgoing.type,
            status=DeliveryStatus.DEFERRED if until else DeliveryStatus.QUEUED,
            deferred_until=until,
            created_at=now,
            **fields,
        )

    rendered = outgoing.rendered
    for user in users:
        chosen = reach[user.pk]
        # Personal quiet hours apply on top of the organization's: the later end wins.
        until = max(filter(None, (deferred_until, personal_quiet.get(user.pk))), default=None)
        notification = Notification(
            organization=organization,
            user=user,
            type=outgoing.type,
            title=rendered.title,
            message=rendered.message,
            priority=outgoing.priority,
            metadata=outgoing.data,
            action_url=rendered.action_url,
            created_at=now,
        )
        mine: list[Delivery] = []
        if Channel.EMAIL in outbound and Channel.EMAIL in chosen and user.email:
            content = render_email(
                template=outgoing.email_template,
                notification=rendered,
                data=outgoing.data,
                organization_name=organization.name,
                recipient_name=user.get_full_name() or user.get_username(),
                priority=outgoing.priority,
            )
            if get_event(outgoing.type) is not None:
                content = with_unsubscribe(content, user=user, event=outgoing.type)
            mine.append(
                delivery(
                    until=until,
                    notification=notification,
                    user=user,
                    channel=DeliveryChannel.EMAIL,
                    recipient=user.email,
                    content=content,
                )
            )
        if Channel.SMS in outbound and Channel.SMS in chosen and user.pk in phones:
            mine.append(
                delivery(
                    until=until,
                    notification=notification,
                    user=user,
                    channel=DeliveryChannel.SMS,
                    recipient=phones[user.pk],
                    content={"text": render_sms(rendered)},
                )
            )
        notification.channels = [Channel.IN_APP, *(d.channel for d in mine)]
        if Channel.SLACK in outbound:
            notification.channels.append(Channel.SLACK)
        if not mine:  # in-app only: delivered on creation
            notification.status, notification.sent_at = NotificationStatus.SENT, now
        if IN_APP in chosen:
            result.notifications.append(notification)
        else:  # muted in-app: the outbound messages go without a notification to hang on
            for d in mine:
                d.notification = None
        result.deliveries.extend(mine)
    if Channel.SLACK in outbound and users:
        # One post to the organization's channel per event, not one per recipient.
        result.deliveries.append(
            delivery(
                channel=DeliveryChannel.SLACK,
                recipient=mask_secret_url(settings.slack_webhook_url) or "slack",
                content=render_slack(rendered, organization_name=organization.name, priority=outgoing.priority),
            )
        )

    # Jobs are inserted in the same transaction as their deliveries: a worker can never
    # claim a job whose delivery does not exist, and a rollback leaves neither behind.
    with transaction.atomic():
        Notification.objects.bulk_create(result.notifications)
        deliveries_enqueue(result.deliveries, priority=outgoing.priority, by=by)
    logger.info(
        "notification fanned out",
        extra={
            "organization_id": organization.pk,
            "type": outgoing.type,
            "recipients": len(users),
            "deliveries": len(result.deliveries),
            "channels": ",".join(outgoing.channels),
            "deferred_until": deferred_until.isoformat() if deferred_until else "",
        },
    )
    return result
