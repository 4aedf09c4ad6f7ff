"""The events the platform can notify about: what each says, and which settings send it where.

    register_event(EventType.from_template("payroll_closed", toggles={...}, data=...))
    register_event(EventType(name="payroll_closed", title="Payroll closed", ...))  # or in code

Each event is defined by templates/notifications/<name>.toml (title, message, default
channels, priority, action URL) and has text and HTML email templates beside it,
<name>.txt/.html (the generic message.txt/.html is used when they are missing). `title`,
`message` and `action_url` are Django template strings rendered with the event data (plain text; the
HTML email escapes them). `toggles` maps each outbound channel the event may use to the
NotificationSettings field that must be on (besides the channel's master toggle); in-app
is always on.
"""

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_framework import serializers

from hcm.exceptions import InvalidInput
from notifications.models import Channel, NotificationPriority, NotificationSettings

DATA_MAX_BYTES = 10 * 1024
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "notifications"

# A channel is usable only when its master toggle is on (and, for Slack, a URL is stored).
CHANNEL_MASTER_TOGGLES: dict[str, str] = {
    Channel.EMAIL: "email_enabled",
    Channel.SMS: "sms_enabled",
    Channel.SLACK: "slack_enabled",
}


class InvalidNotification(InvalidInput, ValueError):
    """Bad input to notify(): `errors` names each bad field, as a 400 response does."""


@dataclass(frozen=True)
class EventType:
    name: str
    title: str
    message: str
    priority: str = NotificationPriority.NORMAL
    action_url: str = ""
    toggles: dict[str, str] = field(default_factory=dict)
    data: type[serializers.Serializer] | None = None
    description: str = ""
    # The template's default channels; None: in-app plus every channel with a toggle.
    default_channels: tuple[str, ...] | None = None

    @classmethod
    def from_template(cls, name: str, **code: Any) -> "EventType":
        """The event defined by templates/notifications/<name>.toml (title, message,
        channels, priority, action_url) plus what only code can say (`toggles`, `data`)."""
        path = TEMPLATE_DIR / f"{name}.toml"
        with path.open("rb") as f:
            spec = tomllib.load(f)
        unknown = set(spec) - {"title", "message", "channels", "priority", "action_url"}
        if unknown or "title" not in spec or "message" not in spec:
            raise ValueError(f"{path}: needs title and message; unknown keys: {', '.join(sorted(unknown)) or '-'}")
        channels = spec.pop("channels", None)
        return cls(
            name=name,
            default_channels=tuple(channels) if channels is not None else None,
            **spec,
            **code,
        )

    @property
    def channels(self) -> list[str]:
        """Every channel the event may use (the template's default channels)."""
        if self.default_channels is not None:
            return [Channel.IN_APP, *(c for c in self.default_channels if c != Channel.IN_APP)]
        return [Channel.IN_APP, *self.toggles]

    def enabled_channels(self, settings: NotificationSettings) -> list[str]:
        """The channels this organization's settings turn on for this event: a default
        channel whose master toggle and event toggle are both on; in-app always."""
        return [Channel.IN_APP] + [
            channel
            for channel in self.channels[1:]
            if channel_available(settings, channel) and getattr(settings, self.toggles[channel])
        ]

    def clean_data(self, data: Any) -> dict[str, Any]:
        """The event data, checked against the event's schema; extra keys are kept for
        the templates. Raises InvalidNotification naming each bad field under `data`."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InvalidNotification({"data": ["Must be a JSON object."]})
        try:
            size = len(json.dumps(data))
        except (TypeError, ValueError):
            raise InvalidNotification({"data": ["Must be JSON-serializable."]}) from None
        if size > DATA_MAX_BYTES:
            raise InvalidNotification({"data": [f"Must be at most {DATA_MAX_BYTES} bytes of JSON."]})
        if self.data is None:
            return dict(data)
        schema = self.data(data=data)
        if not schema.is_valid():
            raise InvalidNotification({"data": dict(schema.errors)})
        # The representation keeps it JSON-safe (dates as ISO strings).
        return {**data, **schema.data}


def channel_available(settings: NotificationSettings, channel: str) -> bool:
    if channel == Channel.IN_APP:
        return True
    if not getattr(settings, CHANNEL_MASTER_TOGGLES[channel]):
        return False
    return channel != Channel.SLACK or bool(settings.slack_webhook_url)


_EVENTS: dict[str, EventType] = {}


def register_event(event: EventType) -> EventType:
    for channel in event.toggles:
        if channel not in CHANNEL_MASTER_TOGGLES:
            raise ValueError(f"event {event.name!r}: unknown channel {channel!r}")
    for channel in event.channels[1:]:
        if channel not in event.toggles:
            raise ValueError(f"event {event.name!r}: default channel {channel!r} has no settings toggle")
    if event.priority not in NotificationPriority.values:
        raise ValueError(f"event {event.name!r}: unknown priority {event.priority!r}")
    _EVENTS[event.name] = event
    return event


def get_event(name: str) -> EventType | None:
    return _EVENTS.get(name)


def event_names() -> list[str]:
    return sorted(_EVENTS)


def get_event_or_error(name: Any) -> EventType:
    event = get_event(name) if isinstance(name, str) else None
    if event is None:
        raise InvalidNotification({"event": [f"Unknown event {name!r}. Valid events: {', '.join(event_names())}."]})
    return event


# --- The platform's events ----------------------------------------------------------------


class EmployeeData(serializers.Serializer):
    employee_name = serializers.CharField(max_length=200)
    employee_id = serializers.CharField(max_length=100, required=False)
    position = serializers.CharField(max_length=200, required=False)


class EmployeeHiredData(EmployeeData):
    start_date = serializers.DateField(required=False)


class EmployeeTerminatedData(EmployeeData):
    last_day = serializers.DateField(required=False)


class OrgUpdatedData(serializers.Serializer):
    changed_by = serializers.CharField(max_length=150, required=False)
    changes = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=50)


class CriticalAlertData(serializers.Serializer):
    summary = serializers.CharField(max_length=200)
    details = serializers.CharField(max_length=4000, required=False)
    # The metaclass moves declared fields off the class, so this does not shadow Field.source.
    source = serializers.CharField(max_length=100, required=False)  # type: ignore[assignment]


# Each event's words and defaults are its template, templates/notifications/<name>.toml
# (title, message, channels, priority, action_url); the code adds which settings toggle
# gates each channel and the schema of the event's data.

register_event(
    EventType.from_template(
        "employee_hired",
        toggles={Channel.EMAIL: "email_on_employee_hired", Channel.SMS: "sms_on_employee_hired"},
        data=EmployeeHiredData,
        description="An employee was hired.",
    )
)
register_event(
    EventType.from_template(
        "employee_terminated",
        toggles={Channel.EMAIL: "email_on_employee_terminated", Channel.SMS: "sms_on_employee_terminated"},
        data=EmployeeTerminatedData,
        description="An employee's employment ended.",
    )
)
register_event(
    EventType.from_template(
        "org_updated",
        toggles={Channel.EMAIL: "email_on_org_updated"},
        data=OrgUpdatedData,
        description="The organization's profile or settings changed.",
    )
)
register_event(
    EventType.from_template(
        "critical_alert",
        toggles={
            Channel.EMAIL: "email_on_critical_alerts",
            Channel.SMS: "sms_on_critical_alerts",
            Channel.SLACK: "slack_on_critical_alerts",
        },
        data=CriticalAlertData,
        description="Something needs attention now; bypasses quiet hours.",
    )
)
