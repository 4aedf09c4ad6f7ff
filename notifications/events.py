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
from notifications.channels.base import IN_APP, channels, get_channel
from notifications.models import NotificationPriority, NotificationSettings

DATA_MAX_BYTES = 10 * 1024
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "notifications"


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
            return [IN_APP, *(c for c in self.default_channels if c != IN_APP)]
        return [IN_APP, *self.toggles]

    def enabled_channels(self, settings: NotificationSettings) -> list[str]:
        """The channels this organization's settings turn on for this event: a default
        channel that is available and whose event toggle is on, plus every available
        channel that carries every event (an outbound webhook); in-app always."""
        enabled = [
            channel
            for channel in self.channels[1:]
            if channel_available(settings, channel) and getattr(settings, self.toggles[channel])
        ]
        enabled += [c.key for c in channels() if c.every_event and c.key not in enabled and c.available(settings)]
        return [IN_APP, *enabled]

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
    """In-app always; another channel when the registry knows it and the organization
    has it on and configured."""
    if channel == IN_APP:
        return True
    spec = get_channel(channel)
    return spec is not None and spec.available(settings)


_EVENTS: dict[str, EventType] = {}


def register_event(event: EventType) -> EventType:
    for channel in event.toggles:
        if get_channel(channel) is None:
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


class LeaveData(serializers.Serializer):
    employee_name = serializers.CharField(max_length=200)
    employee_id = serializers.CharField(max_length=100, required=False)
    request_id = serializers.CharField(max_length=100, required=False)
    leave_type = serializers.CharField(max_length=50, required=False)
    start_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("start_date") and attrs.get("end_date") and attrs["end_date"] < attrs["start_date"]:
            raise serializers.ValidationError({"end_date": ["Must not be before start_date."]})
        return attrs


class LeaveRequestData(LeaveData):
    reason = serializers.CharField(max_length=1000, required=False)


class LeaveApprovedData(LeaveData):
    approved_by = serializers.CharField(max_length=150, required=False)


class PayrollProcessedData(serializers.Serializer):
    period = serializers.CharField(max_length=100)
    run_id = serializers.CharField(max_length=100, required=False)
    employee_count = serializers.IntegerField(min_value=0, required=False)
    pay_date = serializers.DateField(required=False)


class JobFailedData(serializers.Serializer):
    job_id = serializers.CharField(max_length=40)
    job_type = serializers.CharField(max_length=100)
    error = serializers.CharField(max_length=2000, allow_blank=True)
    attempts = serializers.IntegerField(min_value=0)
    count = serializers.IntegerField(min_value=1, required=False, default=1)


# Each event's words and defaults are its template, templates/notifications/<name>.toml
# (title, message, channels, priority, action_url); the code adds which settings toggle
# gates each channel and the schema of the event's data.

register_event(
    EventType.from_template(
        "employee_hired",
        toggles={"email": "email_on_employee_hired", "sms": "sms_on_employee_hired"},
        data=EmployeeHiredData,
        description="An employee was hired.",
    )
)
register_event(
    EventType.from_template(
        "employee_terminated",
        toggles={"email": "email_on_employee_terminated", "sms": "sms_on_employee_terminated"},
        data=EmployeeTerminatedData,
        description="An employee's employment ended.",
    )
)
register_event(
    EventType.from_template(
        "org_updated",
        toggles={"email": "email_on_org_updated"},
        data=OrgUpdatedData,
        description="The organization's profile or settings changed.",
    )
)
register_event(
    EventType.from_template(
        "critical_alert",
        toggles={
            "email": "email_on_critical_alerts",
            "sms": "sms_on_critical_alerts",
            "slack": "slack_on_critical_alerts",
            "teams": "teams_on_critical_alerts",
        },
        data=CriticalAlertData,
        description="Something needs attention now; bypasses quiet hours.",
    )
)
register_event(
    EventType.from_template(
        "leave_request",
        toggles={"email": "email_on_leave_request"},
        data=LeaveRequestData,
        description="An employee asked for leave.",
    )
)
register_event(
    EventType.from_template(
        "leave_approved",
        toggles={"sms": "sms_on_leave_approved"},
        data=LeaveApprovedData,
        description="A leave request was approved.",
    )
)
register_event(
    EventType.from_template(
        "payroll_processed",
        toggles={"email": "email_on_payroll_processed", "sms": "sms_on_payroll_processed"},
        data=PayrollProcessedData,
        description="A payroll run was processed.",
    )
)
register_event(
    EventType.from_template(
        "job_failed",
        toggles={"email": "email_on_job_failed", "slack": "slack_on_job_failed", "teams": "teams_on_job_failed"},
        data=JobFailedData,
        description="A background job failed for good (sent by the system; at most one per job type per 15 minutes).",
    )
)
