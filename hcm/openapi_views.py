"""Request and response shapes of the hand-written APIViews, for the OpenAPI schema.

drf-spectacular cannot see which serializer an APIView method uses. Each `describe(...)`
below names them — the views' own serializers, imported when the schema is generated — as
drf-spectacular OpenApiViewExtensions, so the view modules carry no schema code. A view that
sets `serializer_class` or carries `@extend_schema` needs no entry here.

Errors (400/401/403/404/429) are added by hcm.openapi.AutoSchema; list only the others.
"""

from collections.abc import Callable
from functools import cache
from typing import Any

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers

from hcm.openapi import PAGE_PARAMETERS, error_response, page_of, register_pattern
from notifications.validators import E164, HH_MM, validate_e164, validate_hh_mm

Operations = dict[str, dict[str, Any]]


def describe(target: str, operations: Callable[[], Operations]) -> None:
    """Document view class `target` (dotted path): `operations()` maps each HTTP method to
    extend_schema keyword arguments. Called lazily, so serializers import at generation time."""

    # Once per view: an inline serializer made twice would be two components of one name.
    operations = cache(operations)

    def view_replacement(self: OpenApiViewExtension) -> type:
        described = type(self.target.__name__, (self.target,), {"__module__": self.target.__module__})
        return extend_schema_view(**{m: extend_schema(**kw) for m, kw in operations().items()})(described)

    name = target.rsplit(".", 1)[1] + "Schema"
    type(name, (OpenApiViewExtension,), {"target_class": target, "view_replacement": view_replacement})


register_pattern(validate_e164, E164)
register_pattern(validate_hh_mm, HH_MM)


# --- notification settings ----------------------------------------------------------------


def _notification_settings() -> Operations:
    from notifications.serializers_settings import NotificationSettingsSerializer, NotificationSettingsUpdateSerializer

    update = {
        "request": NotificationSettingsUpdateSerializer,
        "responses": NotificationSettingsSerializer,
        "description": "Every field is optional; a field left out keeps its value. Unknown fields → 400.",
    }
    return {
        "get": {"summary": "Your organization's notification settings", "responses": NotificationSettingsSerializer},
        "put": {"summary": "Change notification settings", **update},
        "patch": {"summary": "Change some notification settings", **update},
    }


def _test_email() -> Operations:
    sent = inline_serializer(
        "TestEmailSent",
        fields={
            "status": serializers.CharField(),
            "to": serializers.EmailField(),
            "message_id": serializers.CharField(),
        },
    )
    recipient = OpenApiParameter(
        "recipient", OpenApiTypes.EMAIL, description="Where to send it; default: the from address."
    )
    return {
        "post": {
            "summary": "Send a test email with the organization's email settings",
            "request": None,
            "parameters": [recipient],
            "responses": {200: sent, 502: error_response(502)},
        }
    }


describe("notifications.views_settings.NotificationSettingsView", _notification_settings)
describe("notifications.views_settings.NotificationSettingsTestEmailView", _test_email)


# --- notification center and events -------------------------------------------------------


@cache  # one component, shared by POST /notifications and POST /notification-events
def _notify_result() -> serializers.Serializer:
    from notifications.serializers_notifications import DeliverySummarySerializer, NotificationSerializer

    return inline_serializer(
        "NotifyResult",
        fields={
            "notifications": NotificationSerializer(many=True),
            "deliveries": DeliverySummarySerializer(many=True),
        },
    )


def _notification_list() -> Operations:
    from notifications.serializers_notifications import (
        NotificationCreateSerializer,
        NotificationListQuery,
        NotificationSerializer,
    )

    return {
        "get": {
            "summary": "Your notifications, newest first",
            "parameters": [NotificationListQuery, *PAGE_PARAMETERS],
            "responses": page_of(NotificationSerializer),
        },
        "post": {
            "summary": "Send a notification to users of your organization (system_admin)",
            "request": NotificationCreateSerializer,
            "responses": {201: _notify_result()},
        },
    }


def _notification_detail() -> Operations:
    from notifications.serializers_notifications import NotificationSerializer

    return {
        "get": {"summary": "One of your notifications", "responses": NotificationSerializer},
        "delete": {"summary": "Delete one of your notifications", "responses": {204: None}},
    }


def _notification_read() -> Operations:
    from notifications.serializers_notifications import NotificationSerializer

    return {"patch": {"summary": "Mark a notification read", "request": None, "responses": NotificationSerializer}}


def _notification_read_all() -> Operations:
    updated = inline_serializer("NotificationsMarkedRead", fields={"updated": serializers.IntegerField()})
    return {"patch": {"summary": "Mark all your notifications read", "request": None, "responses": updated}}


def _notification_unread_count() -> Operations:
    count = inline_serializer("UnreadCount", fields={"count": serializers.IntegerField()})
    return {"get": {"summary": "How many of your notifications are unread", "responses": count}}


def _notification_stats() -> Operations:
    stats = inline_serializer(
        "NotificationStats",
        fields={
            "total": serializers.IntegerField(),
            "unread": serializers.IntegerField(),
            "read": serializers.IntegerField(),
            "failed": serializers.IntegerField(),
            "by_type": serializers.DictField(child=serializers.IntegerField()),
        },
    )
    return {"get": {"summary": "Counts of your notifications", "responses": stats}}


def _notification_contact() -> Operations:
    from notifications.serializers_notifications import NotificationContactSerializer

    # Before the first PUT there is no stored contact: both fields are null.
    contact = inline_serializer(
        "NotificationContactState",
        fields={
            "phone": serializers.CharField(allow_null=True, help_text="E.164, e.g. +15551234567."),
            "updated_at": serializers.DateTimeField(allow_null=True),
        },
    )
    update = {"request": NotificationContactSerializer, "responses": contact}
    return {
        "get": {"summary": "Your phone number for SMS notifications", "responses": contact},
        "put": {"summary": "Set your phone number for SMS notifications", **update},
        "patch": {"summary": "Set your phone number for SMS notifications", **update},
    }


def _notification_events() -> Operations:
    from notifications.serializers_notifications import NotificationEventSerializer

    event_types = inline_serializer(
        "NotificationEventType",
        fields={
            "event": serializers.CharField(),
            "description": serializers.CharField(),
            "priority": serializers.CharField(),
            "channels": serializers.ListField(child=serializers.CharField()),
            "toggles": serializers.DictField(
                child=serializers.CharField(), help_text="Channel → the settings field that turns it on."
            ),
            "data_fields": serializers.ListField(child=serializers.CharField()),
        },
        many=True,
    )
    events = inline_serializer("NotificationEventTypes", fields={"items": event_types})
    return {
        "get": {"summary": "The events that can be sent, with their channels", "responses": events},
        "post": {
            "summary": "Report an event: notify its recipients on the channels the settings allow",
            "request": NotificationEventSerializer,
            "responses": {201: _notify_result()},
        },
    }


describe("notifications.views_notifications.NotificationListView", _notification_list)
describe("notifications.views_notifications.NotificationDetailView", _notification_detail)
describe("notifications.views_notifications.NotificationReadView", _notification_read)
describe("notifications.views_notifications.NotificationReadAllView", _notification_read_all)
describe("notifications.views_notifications.NotificationUnreadCountView", _notification_unread_count)
describe("notifications.views_notifications.NotificationStatsView", _notification_stats)
describe("notifications.views_notifications.NotificationContactView", _notification_contact)
describe("notifications.views_events.NotificationEventView", _notification_events)


# --- background jobs ----------------------------------------------------------------------


def _job_list() -> Operations:
    from jobs.serializers import BackgroundJobCreateSerializer, BackgroundJobListQuery, BackgroundJobSerializer

    return {
        "get": {
            "summary": "Your organization's background jobs, newest first",
            "parameters": [BackgroundJobListQuery, *PAGE_PARAMETERS],
            "responses": page_of(BackgroundJobSerializer),
        },
        "post": {
            "summary": "Queue a background job",
            "request": BackgroundJobCreateSerializer,
            "responses": {
                201: BackgroundJobSerializer,
                200: OpenApiResponse(BackgroundJobSerializer, description="The job this idempotency key created."),
            },
        },
    }


def _job_detail() -> Operations:
    from jobs.serializers import BackgroundJobDetailSerializer

    return {"get": {"summary": "A background job and its attempts", "responses": BackgroundJobDetailSerializer}}


def _job_action(summary: str) -> Callable[[], Operations]:
    def operations() -> Operations:
        from jobs.serializers import BackgroundJobSerializer

        return {"post": {"summary": summary, "request": None, "responses": BackgroundJobSerializer}}

    return operations


def _job_stats() -> Operations:
    from jobs.serializers import JobStatsSerializer

    return {"get": {"summary": "Queue, status and run statistics", "responses": JobStatsSerializer}}


def _job_type_action(summary: str) -> Callable[[], Operations]:
    def operations() -> Operations:
        from jobs.serializers import JobTypeActionSerializer, PausedStateSerializer

        return {"post": {"summary": summary, "request": JobTypeActionSerializer, "responses": PausedStateSerializer}}

    return operations


describe("jobs.views.BackgroundJobListView", _job_list)
describe("jobs.views.BackgroundJobDetailView", _job_detail)
describe("jobs.views.BackgroundJobCancelView", _job_action("Cancel a queued or processing job"))
describe("jobs.views.BackgroundJobRetryView", _job_action("Queue a failed or cancelled job again"))
describe("jobs.views.BackgroundJobStatsView", _job_stats)
describe("jobs.views.JobTypePauseView", _job_type_action("Pause a job type (service-wide)"))
describe("jobs.views.JobTypeResumeView", _job_type_action("Resume a paused job type (service-wide)"))


# --- job schedules ------------------------------------------------------------------------


def _schedule_list() -> Operations:
    from jobs.schedule_serializers import JobScheduleInputSerializer, JobScheduleListQuery, JobScheduleSerializer

    return {
        "get": {
            "summary": "Your organization's and the service-wide job schedules",
            "parameters": [JobScheduleListQuery, *PAGE_PARAMETERS],
            "responses": page_of(JobScheduleSerializer),
        },
        "post": {
            "summary": "Create a recurring job schedule",
            "request": JobScheduleInputSerializer,
            "responses": {201: JobScheduleSerializer},
        },
    }


def _schedule_detail() -> Operations:
    from jobs.schedule_serializers import JobScheduleInputSerializer, JobScheduleSerializer

    update = {"request": JobScheduleInputSerializer, "responses": JobScheduleSerializer}
    return {
        "get": {"summary": "A job schedule", "responses": JobScheduleSerializer},
        "put": {"summary": "Replace a job schedule", **update},
        "patch": {"summary": "Change some fields of a job schedule", **update},
        "delete": {"summary": "Delete a job schedule", "responses": {204: None}},
    }


describe("jobs.schedule_views.JobScheduleListView", _schedule_list)
describe("jobs.schedule_views.JobScheduleDetailView", _schedule_detail)
