"""The events the platform can notify about: what each says, and which settings send it where.

    register_event(EventType(name="payroll_closed", title="Payroll closed", ...))

Each event has text and HTML email templates at templates/notifications/<name>.txt/.html
(the generic message.txt/.html is used when they are missing). `title`, `message` and
`action_url` are Django template strings rendered with the event data (plain text; the
HTML email escapes them). `toggles` maps each outbound channel the event may use to the
NotificationSettings field that must be on (besides the channel's master toggle); in-app
is always on.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from rest_framework import serializers

from notifications.models import Channel, NotificationPriority, NotificationSettings

DATA_MAX_BYTES = 10 * 1024

# A channel is usable only when its master toggle is on (and, for Slack, a URL is stored).
CHANNEL_MASTER_TOGGLES = {
    Channel.EMAIL: "email_enabled",
    Channel.SMS: "sms_enabled",
    Channel.SLACK: "slack_enabled",
}


class InvalidNotification(ValueError):
    """Bad input to notify(): `errors` names each bad field, as a 400 response does."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


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

    @property
    def channels(self) -> list[str]:
        """Every channel the event may use (the template's default channels)."""
        return [Channel.IN_APP, *self.toggles]

    def enabled_channels(self, settings: NotificationSettings) -> list[str]:
        """The channels this organization's settings turn on for this event."""
        return [Channel.IN_APP] + [
            channel
            for channel, toggle in self.toggles.items()
            if channel_available(settings, channel) and getattr(settings, toggle)
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
    source = serializers.CharField(max_length=100, required=False)


_EMPLOYEE_URL = "{% if employee_id %}/employees/{{ employee_id|urlencode:'' }}{% endif %}"

register_event(
    EventType(
        name="employee_hired",
        title="New hire: {{ employee_name }}",
        message=(
            "{{ employee_name }}{% if position %} ({{ position }}){% endif %} has joined {{ organization_name }}"
            "{% if start_date %}, starting {{ start_date }}{% endif %}."
        ),
        priority=NotificationPriority.NORMAL,
        action_url=_EMPLOYEE_URL,
        toggles={Channel.EMAIL: "email_on_employee_hired", Channel.SMS: "sms_on_employee_hired"},
        data=EmployeeHiredData,
        description="An employee was hired.",
    )
)
register_event(
    EventType(
        name="employee_terminated",
        title="Employee leaving: {{ employee_name }}",
        message=(
            "{{ employee_name }}{% if position %} ({{ position }}){% endif %} is leaving {{ organization_name }}"
            "{% if last_day %}; last day {{ last_day }}{% endif %}."
        ),
        priority=NotificationPriority.HIGH,
        action_url=_EMPLOYEE_URL,
        toggles={Channel.EMAIL: "email_on_employee_terminated", Channel.SMS: "sms_on_employee_terminated"},
        data=EmployeeTerminatedData,
        description="An employee's employment ended.",
    )
)
register_event(
    EventType(
        name="org_updated",
        title="Organization settings updated",
        message=(
            "{{ organization_name }} was updated{% if changed_by %} by {{ changed_by }}{% endif %}"
            "{% if changes %}: {{ changes|join:', ' }}{% endif %}."
        ),
        priority=NotificationPriority.LOW,
        action_url="/settings/organization",
        toggles={Channel.EMAIL: "email_on_org_updated"},
        data=OrgUpdatedData,
        description="The organization's profile or settings changed.",
    )
)
register_event(
    EventType(
        name="critical_alert",
        title="Critical alert: {{ summary }}",
        message="{% if details %}{{ details }}{% else %}{{ summary }}{% endif %}",
        priority=NotificationPriority.CRITICAL,
        action_url="/alerts",
        toggles={
            Channel.EMAIL: "email_on_critical_alerts",
            Channel.SMS: "sms_on_critical_alerts",
            Channel.SLACK: "slack_on_critical_alerts",
        },
        data=CriticalAlertData,
        description="Something needs attention now; bypasses quiet hours.",
    )
)
