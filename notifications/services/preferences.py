"""Changing a person's notification preferences (the API, the page and unsubscribe links)."""

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from hcm.models import User
from notifications.events import InvalidNotification, get_event
from notifications.models import NotificationPreference, PersonalQuietHours
from notifications.preferences import PERSONAL_CHANNELS, is_locked, organization_allows
from notifications.services.notification_settings import notification_settings_get

logger = logging.getLogger(__name__)

UNSET = object()


@dataclass(frozen=True)
class PreferenceChange:
    event: str
    channel: str
    enabled: bool


def preferences_update(
    *,
    user: User,
    changes: list[PreferenceChange],
    quiet_hours: dict[str, Any] | None = None,
) -> None:
    """Apply the person's changes, all or nothing.

    Raises InvalidNotification naming `changes[i]` for an unknown event or channel, a cell
    the organization does not send (an organization's "off" cannot be turned on, or off, by
    a person) or a locked cell (critical alerts stay in-app). `quiet_hours` holds validated
    `start`, `end`, `timezone` (None clears one)."""
    if user.organization is None:
        raise InvalidNotification({"user": ["Your account does not belong to an organization."]})
    settings = notification_settings_get(organization=user.organization)
    errors: dict[str, list[str]] = {}
    for i, change in enumerate(changes):
        event = get_event(change.event)
        cell = f"{change.event}/{change.channel}"
        if event is None:
            errors[f"changes[{i}].event"] = [f"Unknown event {change.event!r}."]
        elif change.channel not in PERSONAL_CHANNELS:
            errors[f"changes[{i}].channel"] = [
                f"Unknown channel {change.channel!r}; a person chooses among {', '.join(PERSONAL_CHANNELS)}."
            ]
        elif not organization_allows(event, change.channel, settings):
            errors[f"changes[{i}]"] = [f"{cell} is turned off by your organization."]
        elif is_locked(event, change.channel) and not change.enabled:
            errors[f"changes[{i}]"] = [f"{cell}: critical alerts cannot be muted in-app."]
    if errors:
        raise InvalidNotification(errors)
    with transaction.atomic():
        for change in changes:
            preference_set(user=user, event=change.event, channel=change.channel, enabled=change.enabled)
        if quiet_hours:
            row, _ = PersonalQuietHours.objects.get_or_create(user=user)
            for field in ("start", "end", "timezone"):
                if field in quiet_hours:
                    setattr(row, field, quiet_hours[field])
            row.save()
    logger.info(
        "notification preferences updated",
        extra={"user_id": user.pk, "changes": len(changes), "quiet_hours": ",".join(sorted(quiet_hours or {}))},
    )


def preference_set(*, user: User, event: str, channel: str, enabled: bool) -> bool:
    """Store one choice; True if it changed. "On" is stored as no row (the default)."""
    if enabled:
        deleted, _ = NotificationPreference.objects.filter(user=user, event=event, channel=channel).delete()
        return bool(deleted)
    _, created = NotificationPreference.objects.update_or_create(
        user=user, event=event, channel=channel, defaults={"enabled": False}
    )
    return created
