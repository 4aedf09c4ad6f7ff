"""Who hears what: the organization allows, the person chooses, the product decides.

    allowed   = the organization sends this event on this channel (its toggles)
    chosen    = the person has not turned it off (no row: on)
    effective = allowed and chosen

Critical alerts cannot be muted in-app: that cell is always chosen. Only channels that
reach one person are in a person's matrix (in-app, email, SMS); a Slack post goes once to
the organization's channel, so it is the organization's choice alone.

The fan-out calls `effective_channels_bulk` and `personal_quiet_until_bulk`: one query each,
whatever the number of recipients.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from hcm.models import Organization, User
from notifications.events import EventType, event_names, get_event
from notifications.models import NotificationPreference, NotificationPriority, NotificationSettings, PersonalQuietHours
from notifications.quiet_hours import organization_zone, quiet_window_end

IN_APP = "in_app"
# Channel keys (strings, as the channel registry names them) that deliver to one person.
PERSONAL_CHANNELS: tuple[str, ...] = ("in_app", "email", "sms")
# Above this many recipients the fan-out reads the event's opt-outs for the whole
# organization instead of listing every user id in the query.
IN_LIST_MAX = 500


@dataclass(frozen=True)
class PreferenceCell:
    event: str
    channel: str
    allowed: bool
    chosen: bool
    effective: bool
    locked: bool  # the person cannot change it (a critical alert in-app)


def is_locked(event: EventType, channel: str) -> bool:
    return channel == IN_APP and event.priority == NotificationPriority.CRITICAL


def organization_allows(event: EventType, channel: str, settings: NotificationSettings) -> bool:
    return channel in event.enabled_channels(settings)


def preference_matrix(*, user: User, settings: NotificationSettings) -> list[PreferenceCell]:
    """Every event × personal channel for `user`, in event-name order."""
    choices = {(p.event, p.channel): p.enabled for p in NotificationPreference.objects.filter(user=user)}
    cells = []
    for name in event_names():
        event = get_event(name)
        assert event is not None  # a registered name
        for channel in PERSONAL_CHANNELS:
            allowed = organization_allows(event, channel, settings)
            locked = is_locked(event, channel)
            chosen = True if locked else choices.get((name, channel), True)
            cells.append(PreferenceCell(name, channel, allowed, chosen, allowed and chosen, locked))
    return cells


def _opt_outs(*, organization: Organization, event: str, user_ids: Sequence[int]) -> set[tuple[int, str]]:
    rows = NotificationPreference.objects.filter(event=event, enabled=False)
    if len(user_ids) <= IN_LIST_MAX:
        rows = rows.filter(user_id__in=user_ids)
    else:
        rows = rows.filter(user__organization=organization)
    return set(rows.values_list("user_id", "channel"))


def effective_channels_bulk(
    *, organization: Organization, event: str, priority: str, channels: Iterable[str], users: Sequence[User]
) -> dict[int, set[str]]:
    """For each user, which of `channels` (already allowed by the organization) they get.

    One query for any number of users. Channels outside the personal matrix (Slack) are
    left to the caller. A critical notification always keeps in-app."""
    wanted = {c for c in channels if c in PERSONAL_CHANNELS}
    user_ids = [u.pk for u in users]
    opted_out = _opt_outs(organization=organization, event=event, user_ids=user_ids) if wanted else set()
    critical = priority == NotificationPriority.CRITICAL
    result: dict[int, set[str]] = {}
    for user_id in user_ids:
        mine = {c for c in wanted if (user_id, c) not in opted_out}
        if critical and IN_APP in wanted:
            mine.add(IN_APP)
        result[user_id] = mine
    return result


def personal_quiet_until_bulk(
    *, organization: Organization, priority: str, users: Sequence[User], at: datetime
) -> dict[int, datetime]:
    """Users inside their own quiet hours at `at`, with the moment their window ends.

    Critical messages never wait. One query for any number of users; a person without a
    time zone of their own uses the organization's."""
    if priority == NotificationPriority.CRITICAL:
        return {}
    user_ids = [u.pk for u in users]
    rows = PersonalQuietHours.objects.filter(start__isnull=False, end__isnull=False)
    if len(user_ids) <= IN_LIST_MAX:
        rows = rows.filter(user_id__in=user_ids)
    else:
        rows = rows.filter(user__organization=organization)
    wanted = set(user_ids)
    result: dict[int, datetime] = {}
    for row in rows:
        if row.user_id not in wanted or row.start is None or row.end is None:
            continue
        try:
            end = quiet_window_end(
                at=at, start=row.start, end=row.end, zone=organization_zone(row.timezone or organization.timezone)
            )
        except ValueError:  # the API stores only HH:MM; a hand-edited row must not stop sends
            continue
        if end is not None:
            result[row.user_id] = end
    return result
